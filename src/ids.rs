//! Identifier newtypes.
//!
//! Every id is a plain integer wrapped in its own type, so a store id can never be passed where
//! a member id is expected. Ids are allocated by the merchant's backend; o2okit only carries
//! them. Small ids make short tokens: ids are encoded as variable-length integers, so an id
//! below 128 costs one byte and one below 16,384 two.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$inner> for $name {
            fn from(value: $inner) -> Self {
                Self(value)
            }
        }
    };
}

id_type!(
    /// A merchant: the business that owns stores, members, keys and vouchers (any `u32`).
    MerchantId(u32)
);
id_type!(
    /// A store of one merchant (any `u32`).
    StoreId(u32)
);
id_type!(
    /// A till (or kiosk, or check-in screen) of one merchant: what signs a journal of its own
    /// (any `u32`).
    TillId(u32)
);
id_type!(
    /// A member's pseudonymous id, unique within a merchant (any `u64`). It never contains a
    /// phone number or account name; enrollment derives it with a keyed hash.
    MemberId(u64)
);
id_type!(
    /// A voucher, unique within a merchant (any `u64`). The ledger keys redemption state by it.
    VoucherId(u64)
);
id_type!(
    /// A marketing campaign that issued vouchers (any `u32`).
    CampaignId(u32)
);
id_type!(
    /// A product category on a basket line, as the merchant's POS numbers them (any `u32`).
    CategoryId(u32)
);
id_type!(
    /// An item (SKU) that a gift voucher hands out (any `u32`).
    ItemId(u32)
);
id_type!(
    /// A signing key of one merchant's keyring (any `u32`). Tokens carry it so keys can rotate.
    KeyId(u32)
);
