//! The C ABI's string entry points with arbitrary bytes (any encoding, any length): every call
//! returns a status and never crashes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::ffi::*;
use std::ffi::CString;
use std::ptr;

fuzz_target!(|data: &[u8]| {
    let text = CString::new(data.iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>()).unwrap();
    // SAFETY: every pointer passed is NULL, a live handle made above, a NUL-terminated string
    // or a buffer of the length given, as each function's # Safety section asks.
    unsafe {
    let mut keyring = ptr::null_mut();
    assert_eq!(o2o_keyring_new(88, 1, [1u8; 32].as_ptr(), 32, &mut keyring), o2o_status::Ok);
    let mut store = ptr::null_mut();
    // The fuzz input as a time zone and as a region code.
    let _ = o2o_store_new(1, 88, text.as_ptr(), c"44".as_ptr(), &mut store);
    o2o_store_free(store);
    store = ptr::null_mut();
    let _ = o2o_store_new(1, 88, c"Asia/Shanghai".as_ptr(), text.as_ptr(), &mut store);
    o2o_store_free(store);
    store = ptr::null_mut();
    assert_eq!(o2o_store_new(1, 88, c"Asia/Shanghai".as_ptr(), c"440305".as_ptr(), &mut store), o2o_status::Ok);
    // As scanned voucher text and as a currency.
    let line = o2o_basket_line { category: 1, amount_minor: 10_000 };
    let mut decision = ptr::null_mut();
    let status = o2o_voucher_verify(keyring, store, text.as_ptr(), 1_781_496_000, c"CNY".as_ptr(), &line, 1, ptr::null(), 0, &mut decision);
    if status == o2o_status::Ok {
        assert!(!o2o_decision_accepted(decision));
    }
    o2o_decision_free(decision);
    decision = ptr::null_mut();
    let _ = o2o_voucher_verify(keyring, store, c"0000".as_ptr(), 0, text.as_ptr(), &line, 1, ptr::null(), 0, &mut decision);
    o2o_decision_free(decision);
    // As voucher JSON to issue, into a short buffer and a long one.
    let mut small = [0 as std::ffi::c_char; 8];
    let mut big = [0 as std::ffi::c_char; 512];
    let mut needed = 0usize;
    let _ = o2o_voucher_issue_json(keyring, text.as_ptr(), small.as_mut_ptr(), small.len(), &mut needed);
    let _ = o2o_voucher_issue_json(keyring, text.as_ptr(), big.as_mut_ptr(), big.len(), &mut needed);
    let _ = o2o_last_error(small.as_mut_ptr(), small.len(), &mut needed);
    // As a scanned membership card (never genuine) and a check-in code (never accepted).
    let mut card = o2o_card { rejection: o2o_rejection::None, member_id: 0, card_number: [0; 17] };
    match o2o_membership_card_verify(keyring, text.as_ptr(), &mut card) {
        o2o_status::Ok => assert_ne!(card.rejection, o2o_rejection::None),
        status => assert_eq!(status, o2o_status::InvalidUtf8),
    }
    let mut check_in = o2o_check_in { rejection: o2o_rejection::None, presence: o2o_presence::None, store_id: 0 };
    if o2o_check_in_verify(keyring, text.as_ptr(), 1_781_496_000, 30, 1, 0, &mut check_in) == o2o_status::Ok {
        assert_ne!(check_in.rejection, o2o_rejection::None);
    }
    o2o_store_free(store);
    o2o_keyring_free(keyring);
    }
});
