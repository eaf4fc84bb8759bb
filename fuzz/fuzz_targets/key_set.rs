//! Arbitrary bytes as a signed key set: parsing never panics and nothing the fuzzer makes is
//! accepted under the pinned root key. With the fuzzer's bytes as a payload signed by the
//! root (so the JSON reader sees every input), loading never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{Ed25519Key, KeySet, MerchantId, VerifyingKeyring};

fuzz_target!(|data: &[u8]| {
    let root = Ed25519Key::from_seed(&[0xAA; 32]);
    let pinned = root.public_key();
    let at = chrono::DateTime::from_timestamp(1_781_496_000, 0).unwrap();
    assert!(KeySet::open(data, &pinned).is_err(), "forged key set accepted");
    // The same bytes as the payload of a genuinely signed set.
    let signed = o2okit::fuzzing::sign_key_set_payload(&root, data);
    if let Ok(set) = KeySet::open(&signed, &pinned) {
        let ring = set.keyring_at(at);
        assert_eq!(ring.key_set_version(), Some(set.version));
        let _ = VerifyingKeyring::from_key_set(&signed, &pinned, MerchantId(88), at, 0);
    }
});
