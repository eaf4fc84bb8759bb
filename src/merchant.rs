//! Merchants and their stores.

use crate::ids::{MerchantId, StoreId};
use crate::money::Currency;
use crate::region::{GeoPoint, RegionCode};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A business running the loyalty loop: it owns stores, members, keys and vouchers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merchant {
    /// The merchant's id.
    pub id: MerchantId,
    /// Display name.
    pub name: String,
    /// Home time zone (IANA name such as `Asia/Shanghai`): relative voucher validity ("7 days
    /// from issue") and merchant-wide reports are resolved in it.
    pub time_zone: Tz,
    /// The currency of its prices and vouchers.
    pub currency: Currency,
}

/// One physical store: where vouchers are redeemed and check-in codes are shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The store's id.
    pub id: StoreId,
    /// The merchant that owns it.
    pub merchant: MerchantId,
    /// Display name.
    pub name: String,
    /// The store's IANA time zone: every time limit is evaluated on this wall clock.
    pub time_zone: Tz,
    /// Hierarchical region code (see [`RegionCode`]).
    pub region: RegionCode,
    /// Where the store is, if known; needed for geofenced vouchers.
    pub location: Option<GeoPoint>,
}
