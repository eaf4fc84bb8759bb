//! Arbitrary bytes as an Ed25519 (scheme 1) token, and arbitrary text, against a till that
//! holds public keys only: parsing and strict verification never panic, and nothing the fuzzer
//! makes is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{Ed25519Key, KeyId, KeyRole, Keyring, MerchantId, Token, Voucher, verify_membership_card, verify_share_code};

fuzz_target!(|data: &[u8]| {
    let mut ring = Keyring::new(MerchantId(88));
    ring.add_key(KeyId(1), KeyRole::All, Ed25519Key::from_seed(&[1; 32])).unwrap();
    let till = ring.verifying_keyring();
    // Force the header to claim scheme 1 so the Ed25519 path is reached.
    let mut bytes = data.to_vec();
    if bytes.len() > 1 {
        bytes[0] = 1;
        bytes[1] = 0x10 | (bytes[1] & 0x0f);
    }
    if let Ok(token) = Token::from_bytes(bytes) {
        assert!(Voucher::open(&token, &till).is_err(), "forged token accepted");
        let text = token.to_scanner_text();
        assert!(verify_membership_card(&text, &till).is_err());
        assert!(verify_share_code(&text, &till).is_err());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(verify_share_code(text, &till).is_err());
    }
});
