//! Arbitrary scanned text through the whole verification: never panics, never accepts.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use o2okit::*;

fuzz_target!(|text: &str| {
    let ring = Keyring::with_active_key(MerchantId(88), KeyId(1), SigningKey::from_bytes(&[1; 32]).unwrap());
    let store = Store::new(StoreId(1001), MerchantId(88), chrono_tz::Asia::Shanghai, RegionCode::new("440305").unwrap());
    let basket = Basket::single(Currency::CNY, 10_000).unwrap();
    let ctx = RedemptionContext::new(&store, DateTime::from_timestamp(1_781_496_000, 0).unwrap(), &basket);
    assert!(!verify(text, &ring, &ctx).is_accepted());
});
