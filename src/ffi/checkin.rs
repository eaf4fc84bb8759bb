//! Check-in codes for C: the store screen's rotating code, and verifying a scan of it.

use super::keyring::o2o_keyring;
use super::status::{guard, o2o_status, write_text};
use super::voucher::o2o_rejection;
use super::{borrow, check_out, instant, put, text};
use crate::ids::StoreId;
use crate::membership::checkin::{CheckInPolicy, Presence, rotating_code, verify_check_in};
use std::ffi::c_char;

/// How well a check-in proves presence.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum o2o_presence {
    /// Refused: see the rejection.
    None = 0,
    /// A fresh rotating code from the store's screen.
    Proven = 1,
    /// A printed code, phone inside the store's geofence.
    Geofenced = 2,
    /// A printed code with no position: could have been photographed anywhere.
    Unproven = 3,
}

/// The outcome of a check-in scan.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_check_in {
    /// `O2O_REJECTION_NONE` when accepted, else why (`O2O_REJECTION_STALE_CODE`, …).
    pub rejection: o2o_rejection,
    /// How well it proves presence (`O2O_PRESENCE_NONE` when refused).
    pub presence: o2o_presence,
    /// The store checked into (0 when refused).
    pub store_id: u32,
}

/// Verifies a scanned check-in code at `at_unix_seconds` with codes rotating every
/// `period_secs` seconds and `skew_steps` steps of tolerance; `expected_store` is the store
/// the app believes the customer is in, or 0 for any. (Printed codes are reported as
/// unproven presence; geofencing them needs the Rust API.)
///
/// A refused code is not an error: `O2O_STATUS_OK` with `out->rejection` set. Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `code_text` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to a writable `o2o_check_in`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_check_in_verify(
    keyring: *const o2o_keyring,
    code_text: *const c_char,
    at_unix_seconds: i64,
    period_secs: u32,
    skew_steps: u32,
    expected_store: u32,
    out: *mut o2o_check_in,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live keyring and a NUL-terminated string, per the header.
        let (ring, code_text) =
            unsafe { (borrow(keyring, "keyring")?, text(code_text, "code_text")?) };
        let at = instant(at_unix_seconds)?;
        let policy = CheckInPolicy::new(period_secs, skew_steps)?;
        let expected = (expected_store != 0).then_some(StoreId(expected_store));
        let result =
            match verify_check_in(code_text, ring.0.verifier(), &policy, at, expected, None) {
                Ok(check_in) => o2o_check_in {
                    rejection: o2o_rejection::None,
                    presence: check_in.presence.into(),
                    store_id: check_in.store.0,
                },
                Err(reason) => o2o_check_in {
                    rejection: reason.into(),
                    presence: o2o_presence::None,
                    store_id: 0,
                },
            };
        // SAFETY: checked above.
        unsafe { put(out, result) };
        Ok(())
    })
}

/// Writes the rotating check-in code `store_id`'s screen shows at `at_unix_seconds` (a new
/// code every `period_secs` seconds) into `buffer`, signed with the keyring's active key for
/// that store's check-in codes. A screen needs only its store's check-in key
/// (`O2O_KEY_ROLE_CHECK_IN`, from `o2o_derive_key`): it signs that store's codes and nothing else.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` (period 0, bad time),
/// `O2O_STATUS_KEY_NO_ACTIVE`, `O2O_STATUS_KEY_NOT_PERMITTED` (no key for this store's codes),
/// `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_check_in_code_text(
    keyring: *const o2o_keyring,
    store_id: u32,
    at_unix_seconds: i64,
    period_secs: u32,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow(keyring, "keyring") }?;
        let policy = CheckInPolicy::new(period_secs, 0)?;
        let at = instant(at_unix_seconds)?;
        let code = rotating_code(ring.0.signing()?, StoreId(store_id), &policy, at)?;
        write_text(&code.to_scanner_text(), buffer, capacity, needed)
    })
}

impl From<Presence> for o2o_presence {
    fn from(presence: Presence) -> Self {
        match presence {
            Presence::Proven => o2o_presence::Proven,
            Presence::Geofenced => o2o_presence::Geofenced,
            Presence::Unproven => o2o_presence::Unproven,
        }
    }
}
