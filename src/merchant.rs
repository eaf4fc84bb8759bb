//! Merchants and their stores.

use crate::ids::{MerchantId, StoreId};
use crate::money::Currency;
use crate::region::{GeoPoint, RegionCode};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A business running the loyalty loop: it owns stores, members, keys and vouchers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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

impl Merchant {
    /// Merchant `id`, called `name`, at home in `time_zone`, pricing in `currency`.
    pub fn new(id: MerchantId, name: impl Into<String>, time_zone: Tz, currency: Currency) -> Self {
        Merchant {
            id,
            name: name.into(),
            time_zone,
            currency,
        }
    }
}

/// One physical store: where vouchers are redeemed and check-in codes are shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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

impl Store {
    /// A store `id` of `merchant` on the wall clock of `time_zone`, in `region`, with no name
    /// and no known location (add them with [`Store::named`] and [`Store::located_at`]).
    ///
    /// ```
    /// use o2okit::*;
    /// let store = Store::new(StoreId(12), MerchantId(7), chrono_tz::Asia::Shanghai,
    ///                        RegionCode::new("440305")?)
    ///     .named("Nanshan");
    /// assert_eq!(store.name, "Nanshan");
    /// # Ok::<(), RegionError>(())
    /// ```
    pub fn new(id: StoreId, merchant: MerchantId, time_zone: Tz, region: RegionCode) -> Self {
        Store {
            id,
            merchant,
            name: String::new(),
            time_zone,
            region,
            location: None,
        }
    }

    /// The store with a display name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The store with a known location (needed by geofenced vouchers).
    pub fn located_at(mut self, location: GeoPoint) -> Self {
        self.location = Some(location);
        self
    }
}
