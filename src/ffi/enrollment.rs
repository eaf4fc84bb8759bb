//! Enrollment for C: a customer's scan of a store's check-in code with their phone number or
//! app account enrolls them (once), records the visit and hands out the membership card.

use super::checkin::o2o_presence;
use super::keyring::o2o_keyring;
use super::ledger::o2o_ledger;
use super::member::card_field;
use super::status::{Failure, guard, o2o_status, write_text};
use super::voucher::{o2o_rejection, o2o_store};
use super::{borrow, bytes, check_out, hand_out, instant, put, release, text};
use crate::ids::VoucherId;
use crate::membership::checkin::CheckInPolicy;
use crate::membership::enrollment::{
    AccountIdentity, CheckInDesk, IdentityKey, MemberScan, ScanOutcome, WelcomeOffer,
    check_in_member,
};
use crate::membership::member::CardNumber;
use crate::voucher::Voucher;
use std::ffi::c_char;

/// The merchant's secret for member pseudonyms (kept apart from the signing keys).
///
/// Thread safety: immutable once made; may be used from several threads at once.
pub struct o2o_identity_key(IdentityKey);

/// The outcome of a member's scan of a check-in code: refused, or checked in (and enrolled if
/// new).
///
/// Thread safety: immutable; may be read from several threads at once.
pub struct o2o_member_check_in(ScanOutcome);

/// `identity_kind` of `o2o_member_scan`: a phone number, normalised (spaces, hyphens, dots
/// and parentheses dropped, a leading 00 read as +). Pass international numbers (+86…).
pub const O2O_IDENTITY_PHONE: u32 = 1;
/// `identity_kind` of `o2o_member_scan`: an app account id, taken exactly.
pub const O2O_IDENTITY_APP_ACCOUNT: u32 = 2;

/// How a store takes check-ins.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_check_in_rules {
    /// Seconds each rotating code is shown (at least 1).
    pub period_secs: u32,
    /// Steps of tolerance either side of the current one.
    pub skew_steps: u32,
    /// The welcome voucher for new members as a voucher template in JSON (the Rust `Voucher`;
    /// its id and member are replaced), or NULL for none.
    pub welcome_voucher_json: *const c_char,
    /// Days the welcome voucher stays valid from enrollment (store-local).
    pub welcome_valid_days: u32,
}

/// One customer's scan of a check-in code.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_member_scan {
    /// The check-in code's text, as scanned.
    pub code_text: *const c_char,
    /// `O2O_IDENTITY_PHONE` or `O2O_IDENTITY_APP_ACCOUNT`.
    pub identity_kind: u32,
    /// The phone number or app account id. Never stored: only its keyed hash is.
    pub identity: *const c_char,
    /// The share code of the friend the customer came through, or NULL.
    pub share_code_text: *const c_char,
    /// When, Unix seconds.
    pub at_unix_seconds: i64,
    /// The id the welcome voucher takes if this scan enrolls a new member: one the ledger has
    /// never seen (allocate one per scan; unused ids are harmless).
    pub welcome_voucher_id: u64,
}

/// What a member check-in holds; see `o2o_member_check_in_read`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_member_check_in_details {
    /// `O2O_REJECTION_NONE` when checked in; otherwise why not (stale, replayed, wrong store,
    /// already checked in, bad signature, …) and the other fields are 0.
    pub rejection: o2o_rejection,
    /// True when this scan enrolled the member.
    pub enrolled: bool,
    /// How well the scan proves the visit.
    pub presence: o2o_presence,
    /// The member's pseudonymous id.
    pub member_id: u64,
    /// The member who referred them, 0 for none.
    pub referred_by: u64,
    /// The store of the visit.
    pub store_id: u32,
    /// The card number: 16 digits and a NUL.
    pub card_number: [c_char; 17],
    /// True when it carries a welcome voucher (`o2o_member_check_in_welcome_text`).
    pub has_welcome: bool,
}

/// Makes an identity key from the `secret_len` bytes at `secret` (at least 32, from a
/// cryptographic random source; copied). Never rotate it: it would give every member a new id.
///
/// On success `*out` receives a key, to be released with `o2o_identity_key_free`. Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_TOO_SHORT`.
///
/// # Safety
/// - `secret` is NULL or points to `secret_len` readable bytes.
/// - `out` is NULL or points to writable memory for an `o2o_identity_key *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_identity_key_new(
    secret: *const u8,
    secret_len: usize,
    out: *mut *mut o2o_identity_key,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or `secret_len` readable bytes, per the header.
        let key = IdentityKey::from_bytes(unsafe { bytes(secret, secret_len, "secret") }?)?;
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_identity_key(key)) };
        Ok(())
    })
}

/// Releases an identity key. NULL is fine; never free the same key twice.
///
/// # Safety
/// - `key` is NULL or an `o2o_identity_key` made by this library and not released before; it is not
///   used again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_identity_key_free(key: *mut o2o_identity_key) {
    let _ = guard(|| {
        // SAFETY: NULL or a key from o2o_identity_key_new, per the header.
        unsafe { release(key) };
        Ok(())
    });
}

/// Takes a customer's `scan` of a check-in code at `store`: verifies the code (and the share
/// code, if any), enrolls the customer if the ledger does not know them (recording who
/// referred them and the welcome voucher), and records at most one check-in visit per member,
/// store and clock hour, all in one transaction. Everything that can fail is checked before
/// anything is written. The scan carries no phone position, so a printed (static) code is
/// always accepted as unproven presence here.
///
/// On success `*out` receives a check-in (accepted, or refused with a reason such as
/// `O2O_REJECTION_REPLAYED_CODE` or `O2O_REJECTION_ALREADY_CHECKED_IN`: a refusal is not an
/// error), to be released with `o2o_member_check_in_free`. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_ARGUMENT` (identity, kind, time, period),
/// `O2O_STATUS_VOUCHER_JSON`, `O2O_STATUS_VOUCHER_INVALID`, `O2O_STATUS_KEY_NO_ACTIVE`,
/// `O2O_STATUS_LEDGER_WRONG_MERCHANT` (ledger, keyring, store or welcome voucher of different
/// merchants), `O2O_STATUS_LEDGER_IDENTITY_COLLISION`, `O2O_STATUS_LEDGER_VOUCHER_CONFLICT`
/// (a welcome voucher id the ledger already knows), `O2O_STATUS_LEDGER_BUSY`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `identity_key` is NULL or a live `o2o_identity_key` made by this library.
/// - `store` is NULL or a live `o2o_store` made by this library.
/// - `rules` is NULL or points to a readable `o2o_check_in_rules` whose pointers follow the same
///   rules.
/// - `scan` is NULL or points to a readable `o2o_member_scan` whose pointers follow the same rules.
/// - `out` is NULL or points to writable memory for an `o2o_member_check_in *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_check_in_member(
    ledger: *const o2o_ledger,
    keyring: *const o2o_keyring,
    identity_key: *const o2o_identity_key,
    store: *const o2o_store,
    rules: *const o2o_check_in_rules,
    scan: *const o2o_member_scan,
    out: *mut *mut o2o_member_check_in,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or live handles and valid structs, per the header.
        let (ledger, ring, key, store, rules, scan) = unsafe {
            (
                borrow(ledger, "ledger")?,
                borrow(keyring, "keyring")?,
                borrow(identity_key, "identity_key")?,
                borrow(store, "store")?,
                borrow(rules, "rules")?,
                borrow(scan, "scan")?,
            )
        };
        // SAFETY: NUL-terminated strings (or NULL where allowed), per the header.
        let (code, identity) = unsafe {
            (
                text(scan.code_text, "code_text")?,
                text(scan.identity, "identity")?,
            )
        };
        let share = match scan.share_code_text.is_null() {
            true => None,
            // SAFETY: as above.
            false => Some(unsafe { text(scan.share_code_text, "share_code_text") }?),
        };
        let identity = match scan.identity_kind {
            O2O_IDENTITY_PHONE => AccountIdentity::phone(identity)?,
            O2O_IDENTITY_APP_ACCOUNT => AccountIdentity::app_account(identity)?,
            other => {
                return Err(Failure::new(
                    o2o_status::InvalidArgument,
                    format!("identity_kind {other} is neither phone (1) nor app account (2)"),
                ));
            }
        };
        let policy = CheckInPolicy::new(rules.period_secs, rules.skew_steps)?;
        let welcome = match rules.welcome_voucher_json.is_null() {
            true => None,
            false => {
                // SAFETY: as above.
                let json = unsafe { text(rules.welcome_voucher_json, "welcome_voucher_json") }?;
                let template: Voucher = serde_json::from_str(json).map_err(|e| {
                    Failure::new(
                        o2o_status::VoucherJson,
                        format!("welcome_voucher_json: {e}"),
                    )
                })?;
                Some(WelcomeOffer {
                    template,
                    valid_days: rules.welcome_valid_days,
                })
            }
        };
        let at = instant(scan.at_unix_seconds)?;
        let desk = CheckInDesk {
            keyring: ring.0.signing()?,
            identity_key: &key.0,
            policy,
            store: &store.0,
            welcome: welcome.as_ref(),
        };
        let member_scan = MemberScan {
            code,
            identity: &identity,
            share_code: share,
            position: None,
            fence_radius_m: 0,
            welcome_id: VoucherId(scan.welcome_voucher_id),
            at,
        };
        let outcome = check_in_member(&*ledger.0, &desk, &member_scan)?;
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_member_check_in(outcome)) };
        Ok(())
    })
}

/// A member as the ledger holds them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_member_record {
    /// The member's pseudonymous id.
    pub member_id: u64,
    /// The card number: 16 digits and a NUL.
    pub card_number: [c_char; 17],
    /// The store where they enrolled.
    pub enrolled_store: u32,
    /// When they enrolled, Unix seconds.
    pub enrolled_at_unix_seconds: i64,
    /// The member who referred them, 0 for none.
    pub referred_by: u64,
}

/// Looks up the member holding `card_number` (16 digits as printed or typed; spaces and
/// hyphens are ignored). `*found` says whether one does; `*out` is written only then.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_CARD`
/// (a bad format or check digit: a mistyped number), `O2O_STATUS_LEDGER_BUSY`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `card_number` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to a writable `o2o_member_record`.
/// - `found` is NULL or points to a writable `bool`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_member_by_card(
    ledger: *const o2o_ledger,
    card_number: *const c_char,
    out: *mut o2o_member_record,
    found: *mut bool,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        check_out(found, "found")?;
        // SAFETY: NULL or a live ledger and a NUL-terminated string, per the header.
        let (ledger, number) =
            unsafe { (borrow(ledger, "ledger")?, text(card_number, "card_number")?) };
        let card = CardNumber::parse(number)?;
        let member = ledger.0.member_by_card(&card)?;
        if let Some(m) = &member {
            let record = o2o_member_record {
                member_id: m.id.0,
                card_number: card_field(m.card.as_str()),
                enrolled_store: m.enrolled_store.0,
                enrolled_at_unix_seconds: m.enrolled_at.timestamp(),
                referred_by: m.referred_by.map_or(0, |r| r.0),
            };
            // SAFETY: checked above.
            unsafe { put(out, record) };
        }
        // SAFETY: checked above.
        unsafe { put(found, member.is_some()) };
        Ok(())
    })
}

/// Writes what `check_in` holds into `*out`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `check_in` is NULL or a live `o2o_member_check_in` made by this library.
/// - `out` is NULL or points to a writable `o2o_member_check_in_details`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_member_check_in_read(
    check_in: *const o2o_member_check_in,
    out: *mut o2o_member_check_in_details,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live check-in, per the header.
        let check_in = unsafe { borrow(check_in, "check_in") }?;
        let mut details = o2o_member_check_in_details {
            rejection: o2o_rejection::None,
            enrolled: false,
            presence: o2o_presence::None,
            member_id: 0,
            referred_by: 0,
            store_id: 0,
            card_number: [0; 17],
            has_welcome: false,
        };
        match &check_in.0 {
            ScanOutcome::Refused { reason } => details.rejection = (*reason).into(),
            ScanOutcome::CheckedIn(e) => {
                details.enrolled = e.enrolled;
                details.presence = e.presence.into();
                details.member_id = e.member.id.0;
                details.referred_by = e.member.referred_by.map_or(0, |m| m.0);
                details.store_id = e.visit.store.0;
                details.card_number = card_field(e.member.card.as_str());
                details.has_welcome = e.welcome.is_some();
            }
        }
        // SAFETY: checked above.
        unsafe { put(out, details) };
        Ok(())
    })
}

/// Writes the signed membership card's scanner text (for the member's phone to show as a QR
/// code) into `buffer`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` for a refused scan,
/// `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `check_in` is NULL or a live `o2o_member_check_in` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_member_check_in_card_text(
    check_in: *const o2o_member_check_in,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live check-in, per the header.
        match &unsafe { borrow(check_in, "check_in") }?.0 {
            ScanOutcome::CheckedIn(e) => {
                write_text(&e.card.to_scanner_text(), buffer, capacity, needed)
            }
            ScanOutcome::Refused { .. } => Err(Failure::new(
                o2o_status::InvalidArgument,
                "the scan was refused: no card",
            )),
        }
    })
}

/// Writes the signed welcome voucher's scanner text into `buffer`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` when there is none (see
/// `has_welcome`), `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `check_in` is NULL or a live `o2o_member_check_in` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_member_check_in_welcome_text(
    check_in: *const o2o_member_check_in,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live check-in, per the header.
        match &unsafe { borrow(check_in, "check_in") }?.0 {
            ScanOutcome::CheckedIn(e) if e.welcome.is_some() => {
                let token = e.welcome.as_ref().map(|t| t.to_scanner_text());
                write_text(&token.unwrap_or_default(), buffer, capacity, needed)
            }
            _ => Err(Failure::new(
                o2o_status::InvalidArgument,
                "no welcome voucher in this check-in",
            )),
        }
    })
}

/// Releases a member check-in. NULL is fine; never free the same one twice.
///
/// # Safety
/// - `check_in` is NULL or an `o2o_member_check_in` made by this library and not released before;
///   it is not used again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_member_check_in_free(check_in: *mut o2o_member_check_in) {
    let _ = guard(|| {
        // SAFETY: NULL or a check-in from o2o_ledger_check_in_member, per the header.
        unsafe { release(check_in) };
        Ok(())
    });
}
