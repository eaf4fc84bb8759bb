//! Arbitrary voucher bodies, correctly signed: the body decoder never panics, and whatever it
//! accepts re-encodes to the same bytes (one voucher, one encoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{KeyId, Keyring, MerchantId, SigningKey, Voucher};

fuzz_target!(|body: &[u8]| {
    let ring = Keyring::with_active_key(MerchantId(88), KeyId(1), SigningKey::from_bytes(&[1; 32]).unwrap());
    if let Ok(voucher) = o2okit::fuzzing::open_signed_voucher_body(&ring, body) {
        let token = voucher.sign(&ring).expect("a decoded voucher signs");
        assert_eq!(Voucher::open(&token, &ring).unwrap(), voucher);
    }
});
