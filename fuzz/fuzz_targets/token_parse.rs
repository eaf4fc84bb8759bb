//! Arbitrary bytes as a token: header parsing and the signature check never panic, and
//! nothing the fuzzer makes is ever accepted as a voucher.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{KeyId, Keyring, MerchantId, SigningKey, Token, Voucher};

fuzz_target!(|data: &[u8]| {
    let ring = Keyring::with_active_key(MerchantId(88), KeyId(1), SigningKey::from_bytes(&[1; 32]).unwrap());
    if let Ok(token) = Token::from_bytes(data.to_vec()) {
        assert!(Voucher::open(&token, &ring).is_err(), "forged token accepted");
        let again = Token::parse(&token.to_scanner_text()).unwrap();
        assert_eq!(again, token);
    }
});
