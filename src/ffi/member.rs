//! Member tokens for C: a member's share code to hand to a friend, and reading the membership
//! card a phone shows at the till.

use super::keyring::o2o_keyring;
use super::status::{guard, o2o_status, write_text};
use super::voucher::o2o_rejection;
use super::{borrow, check_out, put, text};
use crate::ids::MemberId;
use crate::membership::cards::{share_code, verify_membership_card};
use std::ffi::c_char;

/// A scanned membership card.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_card {
    /// `O2O_REJECTION_NONE` when genuine; otherwise why not (malformed, wrong kind, bad
    /// signature, …) and the other fields are 0.
    pub rejection: o2o_rejection,
    /// The member's pseudonymous id (for `o2o_member`).
    pub member_id: u64,
    /// The card number: 16 digits and a NUL.
    pub card_number: [c_char; 17],
}

/// Copies a 16-digit card number into a C field.
pub(crate) fn card_field(digits: &str) -> [c_char; 17] {
    let mut field = [0; 17];
    for (slot, digit) in field.iter_mut().zip(digits.bytes().take(16)) {
        *slot = digit as c_char;
    }
    field
}

/// Writes the scanner text of `member_id`'s share code (to show as a QR code; a friend who
/// enrolls through it is recorded as referred by this member) into `buffer`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_NO_ACTIVE`,
/// `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_share_code_text(
    keyring: *const o2o_keyring,
    member_id: u64,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow(keyring, "keyring") }?;
        let token = share_code(ring.0.signing()?, MemberId(member_id))?;
        write_text(&token.to_scanner_text(), buffer, capacity, needed)
    })
}

/// Reads a scanned membership card (`card_text` as the scanner typed it) into `*out`.
///
/// A card that is not genuine is not an error: `O2O_STATUS_OK` with `out->rejection` set.
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `card_text` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to a writable `o2o_card`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_membership_card_verify(
    keyring: *const o2o_keyring,
    card_text: *const c_char,
    out: *mut o2o_card,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live keyring and a NUL-terminated string, per the header.
        let (ring, card_text) =
            unsafe { (borrow(keyring, "keyring")?, text(card_text, "card_text")?) };
        let card = match verify_membership_card(card_text, ring.0.verifier()) {
            Ok((member, number)) => o2o_card {
                rejection: o2o_rejection::None,
                member_id: member.0,
                card_number: card_field(number.as_str()),
            },
            Err(reason) => o2o_card {
                rejection: reason.into(),
                member_id: 0,
                card_number: [0; 17],
            },
        };
        // SAFETY: checked above.
        unsafe { put(out, card) };
        Ok(())
    })
}
