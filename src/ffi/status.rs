//! Status codes, the per-thread last error message, and the panic boundary.

use crate::Error;
use crate::analytics::AnalyticsError;
use crate::deny_list::DenyListError;
use crate::journal::SyncError;
use crate::keys::KeyError;
use crate::keys::key_set::KeySetError;
use crate::ledger::LedgerError;
use std::cell::RefCell;
use std::ffi::{CStr, c_char};

/// The result of every fallible o2okit call. `Ok` is 0; the others come in blocks of 100
/// per area and never change meaning. [`o2o_last_error`] has the message of the last failure
/// on the calling thread.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum o2o_status {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullArgument = 1,
    /// A string was not valid UTF-8.
    InvalidUtf8 = 2,
    /// The caller's buffer is too small; the needed size was written to the length output.
    InsufficientBuffer = 3,
    /// o2okit hit an internal bug; the call had no effect. Please report it.
    Panic = 4,
    /// An argument outside its documented range.
    InvalidArgument = 5,
    /// An invalid currency code or an amount overflow.
    InvalidMoney = 100,
    /// An invalid store-local date, time or window.
    InvalidTime = 101,
    /// An invalid region code or coordinate, or an unknown time zone name.
    InvalidPlace = 102,
    /// A card number with a bad format or check digit.
    InvalidCard = 103,
    /// A phone number or app account that cannot identify a customer.
    InvalidIdentity = 104,
    /// An idempotency key that is empty, longer than 128 bytes or not printable ASCII.
    InvalidIdempotencyKey = 105,
    /// A signing key shorter than 32 bytes.
    KeyTooShort = 200,
    /// The key id is already on the keyring.
    KeyDuplicate = 201,
    /// The key id is not on the keyring.
    KeyUnknown = 202,
    /// The key is retired.
    KeyRetired = 203,
    /// The active key cannot be retired.
    KeyRetiringActive = 204,
    /// The keyring has no active key to sign with.
    KeyNoActive = 205,
    /// Signing for another merchant than the keyring's.
    KeyWrongMerchant = 206,
    /// No active key's role covers what was to be signed (a check-in screen's key asked for
    /// a voucher), or a keyring that only verifies was asked to sign.
    KeyNotPermitted = 207,
    /// A public key cannot be made the signing key.
    KeyCannotSign = 208,
    /// Bytes that are not a key of the scheme (a public key of the wrong length or a weak one).
    KeyInvalid = 209,
    /// Not a valid key set: header, lengths or JSON.
    KeySetMalformed = 210,
    /// The key set's signature does not match the pinned root key.
    KeySetBadSignature = 211,
    /// A key set of another merchant.
    KeySetWrongMerchant = 212,
    /// A key set older than the one loaded: refused (no rollback).
    KeySetRollback = 213,
    /// A key-set format this build does not read.
    KeySetUnsupported = 214,
    /// A key set above 1 MiB.
    KeySetTooLarge = 215,
    /// A key set listing a key id twice.
    KeySetDuplicateKey = 216,
    /// Bytes that are not a deny list or delta (or cut short).
    DenyListMalformed = 217,
    /// A deny list or delta whose signature does not check against the pinned root key.
    DenyListBadSignature = 218,
    /// A deny list or delta of another merchant.
    DenyListWrongMerchant = 219,
    /// A deny list older than the one held, or a delta that does not move forward.
    DenyListRollback = 220,
    /// A delta that does not start at the version held.
    DenyListVersionGap = 221,
    /// A deny-list format this build does not read.
    DenyListUnsupported = 222,
    /// Bytes that are not a journal batch or acknowledgement (or cut short).
    SyncMalformed = 230,
    /// A journal batch or acknowledgement format this build does not read.
    SyncUnsupported = 231,
    /// A journal batch or acknowledgement of another merchant.
    SyncWrongMerchant = 232,
    /// A journal batch, acknowledgement or ledger file of another till.
    SyncWrongTill = 233,
    /// A journal record whose MAC does not check or chain: edited, deleted, reordered, or not the till's.
    SyncBrokenChain = 234,
    /// An acknowledgement whose MAC does not check: forged or altered. Nothing changed.
    SyncBadAck = 235,
    /// Journal records out of order within one batch.
    SyncOutOfOrder = 236,
    /// A journal record differing from the one the head office holds under its number.
    SyncForked = 237,
    /// A journal call on a ledger that keeps no journal, or a write to a till's ledger file
    /// opened without its journal key (`o2o_ledger_open_till`).
    SyncNoJournal = 238,
    /// An acknowledgement of records this ledger never wrote (another file of the same till).
    SyncAckBeyondJournal = 239,
    /// Bytes or text that are not a token (a refused voucher is not an error: see
    /// `o2o_decision_rejection`).
    TokenMalformed = 300,
    /// A voucher description that is not valid JSON of a voucher.
    VoucherJson = 400,
    /// A voucher whose fields contradict each other.
    VoucherInvalid = 401,
    /// The ledger file is not a database, or is damaged. It was not modified.
    LedgerNotADatabase = 500,
    /// The ledger file is another application's database. It was not modified.
    LedgerForeign = 501,
    /// The ledger file was written by a newer o2okit.
    LedgerSchemaTooNew = 502,
    /// The ledger belongs to another merchant.
    LedgerWrongMerchant = 503,
    /// Another process held the ledger locked past the busy timeout; nothing changed. Retry.
    LedgerBusy = 504,
    /// The ledger's content breaks an invariant.
    LedgerCorrupt = 505,
    /// A storage failure (disk full, I/O error).
    LedgerStorage = 506,
    /// The idempotency key was used before for a different request.
    LedgerIdempotencyConflict = 507,
    /// No receipt with this id.
    LedgerUnknownReceipt = 508,
    /// The receipt is already voided.
    LedgerAlreadyVoided = 509,
    /// The voucher is already revoked.
    LedgerAlreadyRevoked = 510,
    /// The voucher was recorded before with other terms.
    LedgerVoucherConflict = 511,
    /// Points or balance would go below zero.
    LedgerInsufficientFunds = 512,
    /// A movement of zero.
    LedgerZeroMovement = 513,
    /// Two account identities hash to one member id; the second cannot enroll.
    LedgerIdentityCollision = 514,
    /// A request that contradicts itself.
    LedgerInvalidRequest = 515,
    /// A void dated before the redemption it voids.
    LedgerVoidBeforeRedemption = 516,
    /// No ledger file at the path (`o2o_ledger_open` never creates one).
    LedgerNotFound = 517,
    /// A file already exists where a ledger or backup was to be created.
    LedgerAlreadyExists = 518,
    /// The ledger file was removed or replaced while open; nothing was written.
    LedgerFileReplaced = 519,
    /// An instant outside the years the ledger records (2000 to 2199): a till clock set wrong.
    LedgerImplausibleInstant = 520,
    /// The ledger's server cannot be reached (or the connection broke before a commit):
    /// nothing was written; retry with the same idempotency key.
    LedgerUnavailable = 521,
    /// The connection broke while committing: the write may or may not be recorded. Retry with
    /// the same idempotency key, which returns the committed receipt or redeems once.
    LedgerOutcomeUnknown = 522,
    /// The database serves other merchants, not this one; nothing was written.
    LedgerUnregisteredMerchant = 523,
    /// This library was built without the ledger backend asked for (PostgreSQL: build with
    /// the `postgres` feature).
    LedgerUnsupported = 524,
    /// A camera frame or image larger than the decoder's pixel limit; nothing was allocated.
    QrFrameTooLarge = 600,
    /// Visits dated outside the years analytics accepts (see the analytics module).
    AnalyticsImplausibleInstant = 700,
    /// A report whose cohort matrix is above its limit: use a coarser granularity.
    AnalyticsTooLarge = 701,
    /// A period's total spend does not fit in 64 bits of minor units.
    AnalyticsSpendOverflow = 702,
}

impl o2o_status {
    /// Every status, in code order.
    pub const ALL: [o2o_status; 77] = {
        use o2o_status::*;
        [
            Ok,
            NullArgument,
            InvalidUtf8,
            InsufficientBuffer,
            Panic,
            InvalidArgument,
            InvalidMoney,
            InvalidTime,
            InvalidPlace,
            InvalidCard,
            InvalidIdentity,
            InvalidIdempotencyKey,
            KeyTooShort,
            KeyDuplicate,
            KeyUnknown,
            KeyRetired,
            KeyRetiringActive,
            KeyNoActive,
            KeyWrongMerchant,
            KeyNotPermitted,
            KeyCannotSign,
            KeyInvalid,
            KeySetMalformed,
            KeySetBadSignature,
            KeySetWrongMerchant,
            KeySetRollback,
            KeySetUnsupported,
            KeySetTooLarge,
            KeySetDuplicateKey,
            DenyListMalformed,
            DenyListBadSignature,
            DenyListWrongMerchant,
            DenyListRollback,
            DenyListVersionGap,
            DenyListUnsupported,
            SyncMalformed,
            SyncUnsupported,
            SyncWrongMerchant,
            SyncWrongTill,
            SyncBrokenChain,
            SyncBadAck,
            SyncOutOfOrder,
            SyncForked,
            SyncNoJournal,
            SyncAckBeyondJournal,
            TokenMalformed,
            VoucherJson,
            VoucherInvalid,
            LedgerNotADatabase,
            LedgerForeign,
            LedgerSchemaTooNew,
            LedgerWrongMerchant,
            LedgerBusy,
            LedgerCorrupt,
            LedgerStorage,
            LedgerIdempotencyConflict,
            LedgerUnknownReceipt,
            LedgerAlreadyVoided,
            LedgerAlreadyRevoked,
            LedgerVoucherConflict,
            LedgerInsufficientFunds,
            LedgerZeroMovement,
            LedgerIdentityCollision,
            LedgerInvalidRequest,
            LedgerVoidBeforeRedemption,
            LedgerNotFound,
            LedgerAlreadyExists,
            LedgerFileReplaced,
            LedgerImplausibleInstant,
            LedgerUnavailable,
            LedgerOutcomeUnknown,
            LedgerUnregisteredMerchant,
            LedgerUnsupported,
            QrFrameTooLarge,
            AnalyticsImplausibleInstant,
            AnalyticsTooLarge,
            AnalyticsSpendOverflow,
        ]
    };

    /// The stable snake_case name of the status, such as `"ledger_busy"`.
    pub fn name(self) -> &'static CStr {
        use o2o_status::*;
        match self {
            Ok => c"ok",
            NullArgument => c"null_argument",
            InvalidUtf8 => c"invalid_utf8",
            InsufficientBuffer => c"insufficient_buffer",
            Panic => c"panic",
            InvalidArgument => c"invalid_argument",
            InvalidMoney => c"invalid_money",
            InvalidTime => c"invalid_time",
            InvalidPlace => c"invalid_place",
            InvalidCard => c"invalid_card",
            InvalidIdentity => c"invalid_identity",
            InvalidIdempotencyKey => c"invalid_idempotency_key",
            KeyTooShort => c"key_too_short",
            KeyDuplicate => c"key_duplicate",
            KeyUnknown => c"key_unknown",
            KeyRetired => c"key_retired",
            KeyRetiringActive => c"key_retiring_active",
            KeyNoActive => c"key_no_active",
            KeyWrongMerchant => c"key_wrong_merchant",
            KeyNotPermitted => c"key_not_permitted",
            KeyCannotSign => c"key_cannot_sign",
            KeyInvalid => c"key_invalid",
            KeySetMalformed => c"key_set_malformed",
            KeySetBadSignature => c"key_set_bad_signature",
            KeySetWrongMerchant => c"key_set_wrong_merchant",
            KeySetRollback => c"key_set_rollback",
            KeySetUnsupported => c"key_set_unsupported",
            KeySetTooLarge => c"key_set_too_large",
            KeySetDuplicateKey => c"key_set_duplicate_key",
            DenyListMalformed => c"deny_list_malformed",
            DenyListBadSignature => c"deny_list_bad_signature",
            DenyListWrongMerchant => c"deny_list_wrong_merchant",
            DenyListRollback => c"deny_list_rollback",
            DenyListVersionGap => c"deny_list_version_gap",
            DenyListUnsupported => c"deny_list_unsupported",
            SyncMalformed => c"sync_malformed",
            SyncUnsupported => c"sync_unsupported",
            SyncWrongMerchant => c"sync_wrong_merchant",
            SyncWrongTill => c"sync_wrong_till",
            SyncBrokenChain => c"sync_broken_chain",
            SyncBadAck => c"sync_bad_ack",
            SyncOutOfOrder => c"sync_out_of_order",
            SyncForked => c"sync_forked",
            SyncNoJournal => c"sync_no_journal",
            SyncAckBeyondJournal => c"sync_ack_beyond_journal",
            TokenMalformed => c"token_malformed",
            VoucherJson => c"voucher_json",
            VoucherInvalid => c"voucher_invalid",
            LedgerNotADatabase => c"ledger_not_a_database",
            LedgerForeign => c"ledger_foreign",
            LedgerSchemaTooNew => c"ledger_schema_too_new",
            LedgerWrongMerchant => c"ledger_wrong_merchant",
            LedgerBusy => c"ledger_busy",
            LedgerCorrupt => c"ledger_corrupt",
            LedgerStorage => c"ledger_storage",
            LedgerIdempotencyConflict => c"ledger_idempotency_conflict",
            LedgerUnknownReceipt => c"ledger_unknown_receipt",
            LedgerAlreadyVoided => c"ledger_already_voided",
            LedgerAlreadyRevoked => c"ledger_already_revoked",
            LedgerVoucherConflict => c"ledger_voucher_conflict",
            LedgerInsufficientFunds => c"ledger_insufficient_funds",
            LedgerZeroMovement => c"ledger_zero_movement",
            LedgerIdentityCollision => c"ledger_identity_collision",
            LedgerInvalidRequest => c"ledger_invalid_request",
            LedgerVoidBeforeRedemption => c"ledger_void_before_redemption",
            LedgerNotFound => c"ledger_not_found",
            LedgerAlreadyExists => c"ledger_already_exists",
            LedgerFileReplaced => c"ledger_file_replaced",
            LedgerImplausibleInstant => c"ledger_implausible_instant",
            LedgerUnavailable => c"ledger_unavailable",
            LedgerOutcomeUnknown => c"ledger_outcome_unknown",
            LedgerUnregisteredMerchant => c"ledger_unregistered_merchant",
            LedgerUnsupported => c"ledger_unsupported",
            QrFrameTooLarge => c"qr_frame_too_large",
            AnalyticsImplausibleInstant => c"analytics_implausible_instant",
            AnalyticsTooLarge => c"analytics_too_large",
            AnalyticsSpendOverflow => c"analytics_spend_overflow",
        }
    }

    /// The status with number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<o2o_status> {
        Self::ALL.into_iter().find(|s| *s as u32 == code)
    }

    fn of_deny_list(e: &DenyListError) -> o2o_status {
        use o2o_status::*;
        match e {
            DenyListError::Malformed(_) => DenyListMalformed,
            DenyListError::BadSignature => DenyListBadSignature,
            DenyListError::WrongMerchant { .. } => DenyListWrongMerchant,
            DenyListError::Rollback { .. } => DenyListRollback,
            DenyListError::VersionGap { .. } => DenyListVersionGap,
            DenyListError::UnsupportedFormat(_) => DenyListUnsupported,
        }
    }

    fn of_sync(e: &SyncError) -> o2o_status {
        use o2o_status::*;
        match e {
            SyncError::Malformed(_) => SyncMalformed,
            SyncError::UnsupportedFormat(_) => SyncUnsupported,
            SyncError::WrongMerchant { .. } => SyncWrongMerchant,
            SyncError::WrongTill { .. } => SyncWrongTill,
            SyncError::BrokenChain { .. } => SyncBrokenChain,
            SyncError::BadAck => SyncBadAck,
            SyncError::OutOfOrder { .. } => SyncOutOfOrder,
            SyncError::Forked { .. } => SyncForked,
            SyncError::NoJournal => SyncNoJournal,
            SyncError::AckBeyondJournal { .. } => SyncAckBeyondJournal,
        }
    }

    /// The status of a library error.
    pub(crate) fn of(error: &Error) -> o2o_status {
        use o2o_status::*;
        match error {
            Error::Money(_) => InvalidMoney,
            Error::LocalTime(_) => InvalidTime,
            Error::Region(_) => InvalidPlace,
            Error::Card(_) => InvalidCard,
            Error::Key(e) => match e {
                KeyError::TooShort(_) => KeyTooShort,
                KeyError::DuplicateKey(_) => KeyDuplicate,
                KeyError::UnknownKey(_) => KeyUnknown,
                KeyError::Retired(_) => KeyRetired,
                KeyError::RetiringActiveKey(_) => KeyRetiringActive,
                KeyError::NoActiveKey => KeyNoActive,
                KeyError::WrongMerchant { .. } => KeyWrongMerchant,
                KeyError::NotPermitted(_) => KeyNotPermitted,
                KeyError::CannotSign(_) => KeyCannotSign,
                KeyError::InvalidKey(_) => KeyInvalid,
            },
            Error::KeySet(e) => match e {
                KeySetError::BadSignature => KeySetBadSignature,
                KeySetError::WrongMerchant { .. } => KeySetWrongMerchant,
                KeySetError::Rollback { .. } => KeySetRollback,
                KeySetError::Malformed(_) => KeySetMalformed,
                KeySetError::UnsupportedFormat(_) => KeySetUnsupported,
                KeySetError::TooLarge(_) => KeySetTooLarge,
                KeySetError::DuplicateKey(_) => KeySetDuplicateKey,
            },
            Error::DenyList(e) => Self::of_deny_list(e),
            Error::Sync(e) => Self::of_sync(e),
            Error::Token(_) => TokenMalformed,
            Error::Voucher(_) => VoucherInvalid,
            Error::Ledger(e) => match e {
                LedgerError::NotADatabase { .. } => LedgerNotADatabase,
                LedgerError::ForeignDatabase { .. } => LedgerForeign,
                LedgerError::SchemaTooNew { .. } => LedgerSchemaTooNew,
                LedgerError::WrongMerchant { .. } => LedgerWrongMerchant,
                LedgerError::Busy => LedgerBusy,
                LedgerError::Corrupt(_) => LedgerCorrupt,
                LedgerError::Storage(_) => LedgerStorage,
                LedgerError::IdempotencyConflict(_) => LedgerIdempotencyConflict,
                LedgerError::UnknownReceipt(_) => LedgerUnknownReceipt,
                LedgerError::AlreadyVoided(_) => LedgerAlreadyVoided,
                LedgerError::AlreadyRevoked(_) => LedgerAlreadyRevoked,
                LedgerError::VoucherConflict(_) => LedgerVoucherConflict,
                LedgerError::InsufficientFunds { .. } => LedgerInsufficientFunds,
                LedgerError::ZeroMovement => LedgerZeroMovement,
                LedgerError::IdentityCollision(_) => LedgerIdentityCollision,
                LedgerError::InvalidRequest(_) => LedgerInvalidRequest,
                LedgerError::VoidBeforeRedemption { .. } => LedgerVoidBeforeRedemption,
                LedgerError::NotFound { .. } => LedgerNotFound,
                LedgerError::AlreadyExists { .. } => LedgerAlreadyExists,
                LedgerError::FileReplaced { .. } => LedgerFileReplaced,
                LedgerError::ImplausibleInstant(_) => LedgerImplausibleInstant,
                LedgerError::Unavailable(_) => LedgerUnavailable,
                LedgerError::OutcomeUnknown(_) => LedgerOutcomeUnknown,
                LedgerError::UnregisteredMerchant { .. } => LedgerUnregisteredMerchant,
                LedgerError::Sync(e) => Self::of_sync(e),
                LedgerError::DenyList(e) => Self::of_deny_list(e),
            },
            Error::Analytics(e) => match e {
                AnalyticsError::ImplausibleInstant { .. } => AnalyticsImplausibleInstant,
                AnalyticsError::TooManyCohortCells { .. } => AnalyticsTooLarge,
                AnalyticsError::SpendOverflow { .. } => AnalyticsSpendOverflow,
            },
            Error::IdempotencyKey(_) => InvalidIdempotencyKey,
            Error::Identity(_) => InvalidIdentity,
            Error::InvalidInput(_) => InvalidArgument,
        }
    }
}

/// A failure inside the C ABI: a status and its message.
pub(crate) struct Failure {
    pub(crate) status: o2o_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: o2o_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        let error = error.into();
        Failure::new(o2o_status::of(&error), error.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The longest message `o2o_last_error` gives, in bytes without the NUL: every message is cut
/// here (at a character boundary), whatever input it repeats. A buffer of
/// `O2O_MAX_ERROR_MESSAGE + 1` bytes always holds it.
pub const O2O_MAX_ERROR_MESSAGE: usize = 1024;

fn set_last_error(message: &str) {
    let mut end = message.len().min(O2O_MAX_ERROR_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        last.push_str(&message[..end]);
    });
}

/// Turns the outcome of an entry point's body into its status, recording the message.
pub(crate) fn finish(result: Result<(), Failure>) -> o2o_status {
    match result {
        Ok(()) => {
            set_last_error("");
            o2o_status::Ok
        }
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    }
}

/// Runs an entry point's body, catching any panic so it never unwinds into C.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> o2o_status {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => finish(result),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(&format!("internal error (please report): {detail}"));
            o2o_status::Panic
        }
    }
}

/// Refuses a NULL output buffer that claims a capacity.
pub(crate) fn check_buffer<T>(buffer: *const T, capacity: usize) -> Result<(), Failure> {
    if buffer.is_null() && capacity > 0 {
        return Err(Failure::new(
            o2o_status::NullArgument,
            format!("buffer is NULL with a capacity of {capacity}"),
        ));
    }
    Ok(())
}

/// Copies `text` and a NUL into a caller buffer of `capacity` bytes and writes the length
/// needed (including the NUL) to `needed` (when not NULL). `buffer` may be NULL only when
/// `capacity` is 0.
pub(crate) fn write_text(
    text: &str,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    check_buffer(buffer, capacity)?;
    let size = text.len() + 1;
    if !needed.is_null() {
        // SAFETY: the caller passes either NULL or a valid pointer to a size_t.
        unsafe { needed.write(size) };
    }
    if capacity < size || buffer.is_null() {
        return Err(Failure::new(
            o2o_status::InsufficientBuffer,
            format!("buffer of {capacity} bytes is too small: {size} needed"),
        ));
    }
    // SAFETY: the caller guarantees `buffer` points to `capacity` writable bytes, and
    // `size <= capacity`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buffer.cast::<u8>(), text.len());
        buffer.add(text.len()).write(0);
    }
    Ok(())
}

/// The stable snake_case name of status `status` (`"ok"`, `"ledger_busy"`, …; `"unknown"` for
/// a number this build does not know), for logs. The string is static: never NULL, never to
/// be freed. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn o2o_status_name(status: u32) -> *const c_char {
    o2o_status::from_code(status)
        .map_or(c"unknown", o2o_status::name)
        .as_ptr()
}

/// Writes the message of the last failed call on this thread (empty after a success) into
/// `buffer` of `capacity` bytes, NUL-terminated, and its full size including the NUL into
/// `*needed` (when `needed` is not NULL).
///
/// Returns `O2O_STATUS_INSUFFICIENT_BUFFER` (writing nothing) when `capacity` is too small, for
/// example 0 to ask for the size. The message is kept per thread: call it from the thread
/// whose call failed. Calling this function does not change the message.
///
/// # Safety
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_last_error(
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    let message = LAST_ERROR.with(|last| last.borrow().clone());
    match std::panic::catch_unwind(|| write_text(&message, buffer, capacity, needed)) {
        Ok(Ok(())) => o2o_status::Ok,
        Ok(Err(failure)) => failure.status,
        Err(_) => o2o_status::Panic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{KeyId, MerchantId, TillId, VoucherId};
    use crate::ledger::{Account, MovementKind, ReceiptId};
    use std::collections::HashMap;

    /// Declares, from one list of `pattern => sample => status`, the samples (`every_error`) and
    /// an exhaustive `match` over `Error` made of the same patterns: an error variant missing
    /// from the list does not compile, and `samples_match_their_patterns` checks that each sample
    /// is the variant its line says.
    macro_rules! every_error {
        ($($pattern:pat => $sample:expr => $status:ident),* $(,)?) => {
            fn every_error() -> Vec<(Error, o2o_status)> {
                use o2o_status::*;
                vec![$((Error::from($sample), $status)),*]
            }

            #[allow(dead_code)]
            fn exhaustive(error: &Error) {
                match error {
                    $($pattern => {})*
                }
            }

            #[test]
            fn samples_match_their_patterns() {
                $(assert!(
                    matches!(Error::from($sample), $pattern),
                    "{} is not {}",
                    stringify!($sample),
                    stringify!($pattern)
                );)*
            }
        };
    }

    const M: MerchantId = MerchantId(1);
    const EPOCH: chrono::DateTime<chrono::Utc> = chrono::DateTime::UNIX_EPOCH;

    every_error! {
        Error::Money(_) => crate::MoneyError::Overflow => InvalidMoney,
        Error::LocalTime(_) => crate::LocalTimeError::Invalid("x".into()) => InvalidTime,
        Error::Region(_) => crate::RegionError::InvalidCode("x".into()) => InvalidPlace,
        Error::Card(_) => crate::CardError::InvalidFormat("x".into()) => InvalidCard,
        Error::Key(KeyError::TooShort(_)) => KeyError::TooShort(1) => KeyTooShort,
        Error::Key(KeyError::DuplicateKey(_)) => KeyError::DuplicateKey(KeyId(1)) => KeyDuplicate,
        Error::Key(KeyError::UnknownKey(_)) => KeyError::UnknownKey(KeyId(1)) => KeyUnknown,
        Error::Key(KeyError::Retired(_)) => KeyError::Retired(KeyId(1)) => KeyRetired,
        Error::Key(KeyError::RetiringActiveKey(_)) =>
            KeyError::RetiringActiveKey(KeyId(1)) => KeyRetiringActive,
        Error::Key(KeyError::NoActiveKey) => KeyError::NoActiveKey => KeyNoActive,
        Error::Key(KeyError::WrongMerchant { .. }) =>
            KeyError::WrongMerchant { expected: M, found: M } => KeyWrongMerchant,
        Error::Key(KeyError::NotPermitted(_)) =>
            KeyError::NotPermitted("x".into()) => KeyNotPermitted,
        Error::Key(KeyError::CannotSign(_)) => KeyError::CannotSign(KeyId(1)) => KeyCannotSign,
        Error::Key(KeyError::InvalidKey(_)) => KeyError::InvalidKey("x".into()) => KeyInvalid,
        Error::DenyList(DenyListError::Malformed(_)) =>
            DenyListError::Malformed("x".into()) => DenyListMalformed,
        Error::DenyList(DenyListError::BadSignature) =>
            DenyListError::BadSignature => DenyListBadSignature,
        Error::DenyList(DenyListError::WrongMerchant { .. }) =>
            DenyListError::WrongMerchant { expected: M, found: M } => DenyListWrongMerchant,
        Error::DenyList(DenyListError::Rollback { .. }) =>
            DenyListError::Rollback { held: 2, offered: 1 } => DenyListRollback,
        Error::DenyList(DenyListError::VersionGap { .. }) =>
            DenyListError::VersionGap { held: 2, from: 1 } => DenyListVersionGap,
        Error::DenyList(DenyListError::UnsupportedFormat(_)) =>
            DenyListError::UnsupportedFormat(2) => DenyListUnsupported,
        Error::Sync(SyncError::Malformed(_)) =>
            SyncError::Malformed("x".into()) => SyncMalformed,
        Error::Sync(SyncError::UnsupportedFormat(_)) =>
            SyncError::UnsupportedFormat(2) => SyncUnsupported,
        Error::Sync(SyncError::WrongMerchant { .. }) =>
            SyncError::WrongMerchant { expected: 1, found: 2 } => SyncWrongMerchant,
        Error::Sync(SyncError::WrongTill { .. }) =>
            SyncError::WrongTill { expected: TillId(1), found: TillId(2) } => SyncWrongTill,
        Error::Sync(SyncError::BrokenChain { .. }) =>
            SyncError::BrokenChain { till: TillId(1), seq: 1 } => SyncBrokenChain,
        Error::Sync(SyncError::BadAck) =>
            SyncError::BadAck => SyncBadAck,
        Error::Sync(SyncError::OutOfOrder { .. }) =>
            SyncError::OutOfOrder { seq: 1 } => SyncOutOfOrder,
        Error::Sync(SyncError::Forked { .. }) =>
            SyncError::Forked { till: TillId(1), seq: 1 } => SyncForked,
        Error::Sync(SyncError::NoJournal) =>
            SyncError::NoJournal => SyncNoJournal,
        Error::Sync(SyncError::AckBeyondJournal { .. }) =>
            SyncError::AckBeyondJournal { acknowledged: 2, written: 1 } => SyncAckBeyondJournal,
        Error::Ledger(LedgerError::Sync(_)) =>
            LedgerError::Sync(SyncError::BadAck) => SyncBadAck,
        Error::Ledger(LedgerError::DenyList(_)) =>
            LedgerError::DenyList(DenyListError::BadSignature) => DenyListBadSignature,
        Error::KeySet(KeySetError::Malformed(_)) =>
            KeySetError::Malformed("x".into()) => KeySetMalformed,
        Error::KeySet(KeySetError::UnsupportedFormat(_)) =>
            KeySetError::UnsupportedFormat(2) => KeySetUnsupported,
        Error::KeySet(KeySetError::TooLarge(_)) => KeySetError::TooLarge(2) => KeySetTooLarge,
        Error::KeySet(KeySetError::DuplicateKey(_)) =>
            KeySetError::DuplicateKey(KeyId(1)) => KeySetDuplicateKey,
        Error::KeySet(KeySetError::BadSignature) => KeySetError::BadSignature => KeySetBadSignature,
        Error::KeySet(KeySetError::WrongMerchant { .. }) =>
            KeySetError::WrongMerchant { expected: M, found: M } => KeySetWrongMerchant,
        Error::KeySet(KeySetError::Rollback { .. }) =>
            KeySetError::Rollback { have: 2, offered: 1 } => KeySetRollback,
        Error::Token(_) => crate::TokenError::Empty => TokenMalformed,
        Error::Voucher(_) => crate::VoucherError::ZeroUses => VoucherInvalid,
        Error::Ledger(LedgerError::NotADatabase { .. }) =>
            LedgerError::NotADatabase { path: "p".into(), detail: "d".into() } =>
            LedgerNotADatabase,
        Error::Ledger(LedgerError::ForeignDatabase { .. }) =>
            LedgerError::ForeignDatabase { path: "p".into() } => LedgerForeign,
        Error::Ledger(LedgerError::SchemaTooNew { .. }) =>
            LedgerError::SchemaTooNew { found: 2, supported: 1 } => LedgerSchemaTooNew,
        Error::Ledger(LedgerError::WrongMerchant { .. }) =>
            LedgerError::WrongMerchant { expected: M, found: M } => LedgerWrongMerchant,
        Error::Ledger(LedgerError::Busy) => LedgerError::Busy => LedgerBusy,
        Error::Ledger(LedgerError::Corrupt(_)) => LedgerError::Corrupt("c".into()) => LedgerCorrupt,
        Error::Ledger(LedgerError::Storage(_)) =>
            LedgerError::Storage(crate::ledger::StorageError::new("s")) => LedgerStorage,
        Error::Ledger(LedgerError::IdempotencyConflict(_)) =>
            LedgerError::IdempotencyConflict("k".into()) => LedgerIdempotencyConflict,
        Error::Ledger(LedgerError::UnknownReceipt(_)) =>
            LedgerError::UnknownReceipt(ReceiptId(1)) => LedgerUnknownReceipt,
        Error::Ledger(LedgerError::AlreadyVoided(_)) =>
            LedgerError::AlreadyVoided(ReceiptId(1)) => LedgerAlreadyVoided,
        Error::Ledger(LedgerError::AlreadyRevoked(_)) =>
            LedgerError::AlreadyRevoked(VoucherId(1)) => LedgerAlreadyRevoked,
        Error::Ledger(LedgerError::VoucherConflict(_)) =>
            LedgerError::VoucherConflict(VoucherId(1)) => LedgerVoucherConflict,
        Error::Ledger(LedgerError::InsufficientFunds { .. }) =>
            LedgerError::InsufficientFunds {
                kind: MovementKind::SpendPoints(1),
                account: Account::default(),
            } => LedgerInsufficientFunds,
        Error::Ledger(LedgerError::ZeroMovement) => LedgerError::ZeroMovement => LedgerZeroMovement,
        Error::Ledger(LedgerError::IdentityCollision(_)) =>
            LedgerError::IdentityCollision(crate::ids::MemberId(1)) => LedgerIdentityCollision,
        Error::Ledger(LedgerError::InvalidRequest(_)) =>
            LedgerError::InvalidRequest("x".into()) => LedgerInvalidRequest,
        Error::Ledger(LedgerError::VoidBeforeRedemption { .. }) =>
            LedgerError::VoidBeforeRedemption {
                receipt: ReceiptId(1),
                redeemed_at: EPOCH,
                void_at: EPOCH,
            } => LedgerVoidBeforeRedemption,
        Error::Ledger(LedgerError::NotFound { .. }) =>
            LedgerError::NotFound { path: "p".into() } => LedgerNotFound,
        Error::Ledger(LedgerError::AlreadyExists { .. }) =>
            LedgerError::AlreadyExists { path: "p".into() } => LedgerAlreadyExists,
        Error::Ledger(LedgerError::FileReplaced { .. }) =>
            LedgerError::FileReplaced { path: "p".into() } => LedgerFileReplaced,
        Error::Ledger(LedgerError::ImplausibleInstant(_)) =>
            LedgerError::ImplausibleInstant(EPOCH) => LedgerImplausibleInstant,
        Error::Ledger(LedgerError::Unavailable(_)) =>
            LedgerError::Unavailable("u".into()) => LedgerUnavailable,
        Error::Ledger(LedgerError::OutcomeUnknown(_)) =>
            LedgerError::OutcomeUnknown("u".into()) => LedgerOutcomeUnknown,
        Error::Ledger(LedgerError::UnregisteredMerchant { .. }) =>
            LedgerError::UnregisteredMerchant {
                merchant: crate::ids::MerchantId(1),
                served: vec![],
            } => LedgerUnregisteredMerchant,
        Error::Analytics(AnalyticsError::ImplausibleInstant { .. }) =>
            AnalyticsError::ImplausibleInstant { at: 0, count: 1 } => AnalyticsImplausibleInstant,
        Error::Analytics(AnalyticsError::TooManyCohortCells { .. }) =>
            AnalyticsError::TooManyCohortCells { cells: 2, max: 1 } => AnalyticsTooLarge,
        Error::Analytics(AnalyticsError::SpendOverflow { .. }) =>
            AnalyticsError::SpendOverflow { period: "p".into() } => AnalyticsSpendOverflow,
        Error::IdempotencyKey(_) =>
            crate::ledger::IdempotencyKeyError::Empty => InvalidIdempotencyKey,
        Error::Identity(_) => crate::membership::enrollment::IdentityError::PhoneNumber => InvalidIdentity,
        Error::InvalidInput(_) => Error::InvalidInput("x".into()) => InvalidArgument,
    }

    #[test]
    fn every_error_maps_to_its_own_stable_status() {
        let mut seen: HashMap<u32, String> = HashMap::new();
        for (error, expected) in every_error() {
            let status = o2o_status::of(&error);
            assert_eq!(status, expected, "{error}");
            let code = status as u32;
            assert!(code != 0, "an error maps to OK");
            // A ledger's sync and deny-list errors wrap those errors and share their statuses.
            if matches!(
                error,
                Error::Ledger(LedgerError::Sync(_) | LedgerError::DenyList(_))
            ) {
                continue;
            }
            let previous = seen.insert(code, format!("{error:?}"));
            assert!(
                previous.is_none(),
                "{code} used by {previous:?} and {error:?}"
            );
        }
        // Frozen numbers: tills store them.
        assert_eq!(o2o_status::Ok as u32, 0);
        assert_eq!(o2o_status::NullArgument as u32, 1);
        assert_eq!(o2o_status::InsufficientBuffer as u32, 3);
        assert_eq!(o2o_status::Panic as u32, 4);
        assert_eq!(o2o_status::KeyTooShort as u32, 200);
        assert_eq!(o2o_status::TokenMalformed as u32, 300);
        assert_eq!(o2o_status::LedgerNotADatabase as u32, 500);
        assert_eq!(o2o_status::LedgerBusy as u32, 504);
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, o2o_status::Panic);
        let mut buffer = [0 as c_char; 64];
        let mut needed = 0;
        // SAFETY: a buffer of its own length and a writable size.
        let status = unsafe { o2o_last_error(buffer.as_mut_ptr(), buffer.len(), &mut needed) };
        assert_eq!(status, o2o_status::Ok);
        // SAFETY: o2o_last_error wrote a NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(buffer.as_ptr()) };
        assert!(text.to_str().unwrap().contains("boom"));
    }
}
