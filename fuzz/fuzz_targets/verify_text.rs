//! Arbitrary scanned text through the whole verification: never panics, never accepts.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use o2okit::*;

fuzz_target!(|text: &str| {
    let ring = Keyring::with_active_key(MerchantId(88), KeyId(1), SigningKey::from_bytes(&[1; 32]).unwrap());
    let store = Store {
        id: StoreId(1001),
        merchant: MerchantId(88),
        name: String::new(),
        time_zone: chrono_tz::Asia::Shanghai,
        region: RegionCode::new("440305").unwrap(),
        location: None,
    };
    let basket = Basket::single(Currency::CNY, 10_000).unwrap();
    let ctx = RedemptionContext {
        store: &store,
        at: DateTime::from_timestamp(1_781_496_000, 0).unwrap(),
        basket: &basket,
        member: None,
        other_vouchers: 0,
    };
    assert!(!verify(text, &ring, &ctx).is_accepted());
});
