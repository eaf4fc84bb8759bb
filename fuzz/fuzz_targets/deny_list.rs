//! Arbitrary bytes as a deny list or delta: nothing the fuzzer makes is accepted under the
//! pinned root key, and the same bytes signed by the root (so the readers see every input)
//! never panic; a refused delta leaves the held list as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{DenyList, Ed25519Key, MerchantId, VoucherId};

fuzz_target!(|data: &[u8]| {
    let root = Ed25519Key::from_seed(&[0xAB; 32]);
    let pinned = root.public_key();
    let merchant = MerchantId(88);
    assert!(DenyList::open(data, &pinned, merchant).is_err(), "forged list accepted");
    let held = DenyList::new(merchant, 1).with_exhausted([VoucherId(5), VoucherId(9)]);
    let mut till = held.clone();
    assert!(till.apply_delta(data, &pinned).is_err(), "forged delta accepted");
    let list = o2okit::fuzzing::sign_deny_list_payload(&root, false, data);
    if let Ok(opened) = DenyList::open(&list, &pinned, merchant) {
        let _ = opened.check(VoucherId(5));
    }
    let delta = o2okit::fuzzing::sign_deny_list_payload(&root, true, data);
    let mut till = held.clone();
    if till.apply_delta(&delta, &pinned).is_err() {
        assert_eq!(till, held, "a refused delta changed the list");
    }
});
