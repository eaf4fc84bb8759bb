//! `o2o_ledger`: the durable redemption ledger, on a SQLite file or (with the `postgres`
//! feature) a PostgreSQL database that many tills share.

use super::status::{Failure, guard, o2o_status};
use super::voucher::{o2o_decision, o2o_rejection};
use super::{borrow, check_out, hand_out, instant, put, release, text, zone};
use crate::ids::{MemberId, MerchantId, VoucherId};
use crate::ledger::{
    IdempotencyKey, Ledger, ReceiptId, RedeemOutcome, RedeemRequest, SqliteLedger, VoucherStatus,
};
use crate::voucher::Decision;
use std::ffi::c_char;
use std::num::NonZeroU64;

/// A ledger opened by this process: a SQLite file (`o2o_ledger_open`) or a PostgreSQL
/// database (`o2o_ledger_open_pg`). Every call is atomic and durable when it returns.
///
/// Thread safety: may be used from several threads at once. A SQLite ledger's calls take
/// turns on its one connection (for parallel tills open one ledger per thread or process on
/// the same file); a PostgreSQL ledger keeps a pool of connections.
pub struct o2o_ledger(pub(crate) Backend);

/// The ledger behind an `o2o_ledger`.
pub(crate) enum Backend {
    Sqlite(SqliteLedger),
    #[cfg(feature = "postgres")]
    Postgres(crate::ledger::PgLedger),
}

impl std::ops::Deref for Backend {
    type Target = dyn Ledger;

    fn deref(&self) -> &(dyn Ledger + 'static) {
        match self {
            Backend::Sqlite(ledger) => ledger,
            #[cfg(feature = "postgres")]
            Backend::Postgres(ledger) => ledger,
        }
    }
}

/// What a redemption did.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_redemption {
    /// `O2O_REJECTION_NONE` when redeemed; otherwise why the ledger refused (already used,
    /// member limit reached, no value left, revoked, online required) and the other fields
    /// are 0 but `offline`, which says which kind of ledger refused.
    pub rejection: o2o_rejection,
    /// The receipt's number (for `o2o_ledger_void`).
    pub receipt_id: u64,
    /// Value applied, minor units.
    pub amount_minor: u64,
    /// True when this repeats an earlier redemption with the same idempotency key: nothing
    /// was spent this time.
    pub replayed: bool,
    /// True when a till's own ledger (`o2o_ledger_open_till`) decided, without the chain's
    /// ledger: the head office learns of it at the next sync.
    pub offline: bool,
}

/// Where a voucher is in its life.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum o2o_voucher_status {
    /// The ledger has never seen it (it may still be valid: vouchers are signed offline).
    Unknown = 0,
    /// Never used, or every use voided.
    Issued = 1,
    /// Used, with uses or value left.
    PartiallyRedeemed = 2,
    /// Every use or all its value spent.
    Exhausted = 3,
    /// Revoked.
    Revoked = 4,
    /// Past its validity on the store's clock.
    Expired = 5,
}

/// A voucher's state in the ledger.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_voucher_state {
    /// Its status.
    pub status: o2o_voucher_status,
    /// Redemptions that count (not voided).
    pub uses: u32,
    /// Uses left.
    pub uses_left: u32,
    /// Stored value left, minor units; -1 when it is not a stored-value voucher.
    pub value_left_minor: i64,
}

/// Creates a new, empty ledger file of `merchant_id` at `path` (once, when a till or store is
/// installed) and opens it. Creation is atomic: a crash or a full disk meanwhile leaves no file
/// at `path`.
///
/// On success `*out` receives a ledger, to be released with `o2o_ledger_close`. Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_LEDGER_ALREADY_EXISTS`
/// (any file at `path`; it is not touched), `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `path` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to writable memory for an `o2o_ledger *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_create(
    path: *const c_char,
    merchant_id: u32,
    out: *mut *mut o2o_ledger,
) -> o2o_status {
    // SAFETY: per the header, as for o2o_ledger_open.
    unsafe {
        hand_out_ledger(path, "path", merchant_id, out, |p, m| {
            SqliteLedger::create(p, m).map(Backend::Sqlite)
        })
    }
}

/// Opens the existing ledger file of `merchant_id` at `path`, after checking the whole file.
/// Never creates one: a till whose ledger is missing gets `O2O_STATUS_LEDGER_NOT_FOUND`
/// instead of an empty ledger in which spent vouchers are unused again.
///
/// On success `*out` receives a ledger, to be released with `o2o_ledger_close`. A file that is
/// not an o2okit ledger is refused and left untouched. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_LEDGER_NOT_FOUND`, `O2O_STATUS_LEDGER_NOT_A_DATABASE`,
/// `O2O_STATUS_LEDGER_FOREIGN`, `O2O_STATUS_LEDGER_CORRUPT` (a damaged ledger),
/// `O2O_STATUS_LEDGER_SCHEMA_TOO_NEW`, `O2O_STATUS_LEDGER_WRONG_MERCHANT`,
/// `O2O_STATUS_LEDGER_BUSY`, `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `path` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to writable memory for an `o2o_ledger *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_open(
    path: *const c_char,
    merchant_id: u32,
    out: *mut *mut o2o_ledger,
) -> o2o_status {
    // SAFETY: per the header: `path` NULL or NUL-terminated, `out` NULL or writable.
    unsafe {
        hand_out_ledger(path, "path", merchant_id, out, |p, m| {
            SqliteLedger::open(p, m).map(Backend::Sqlite)
        })
    }
}

/// Connects to the PostgreSQL database named by `conninfo` (libpq `key=value` pairs such as
/// `"host=db.example user=o2okit dbname=loyalty"`, or a `postgresql://` URL) as `merchant_id`'s
/// ledger: the chain's tills share it. Creates or migrates the schema; the first merchant of an
/// empty database is registered, and a database that serves other merchants is refused.
/// Everything else works as on a SQLite ledger, except `o2o_ledger_backup` (use the server's
/// own backups).
///
/// On success `*out` receives a ledger, to be released with `o2o_ledger_close`. The connection
/// string never appears in a message. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_LEDGER_INVALID_REQUEST` (a connection string that
/// does not parse), `O2O_STATUS_LEDGER_UNAVAILABLE` (no server, within 10 s),
/// `O2O_STATUS_LEDGER_SCHEMA_TOO_NEW`, `O2O_STATUS_LEDGER_UNREGISTERED_MERCHANT`,
/// `O2O_STATUS_LEDGER_STORAGE`, `O2O_STATUS_LEDGER_UNSUPPORTED` (a library built without the
/// `postgres` feature).
///
/// Later calls may fail with `O2O_STATUS_LEDGER_UNAVAILABLE` (nothing was written) or
/// `O2O_STATUS_LEDGER_OUTCOME_UNKNOWN` (the connection broke while committing): repeat the call
/// with the same idempotency key, which returns the committed receipt or redeems once.
///
/// # Safety
/// - `conninfo` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to writable memory for an `o2o_ledger *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_open_pg(
    conninfo: *const c_char,
    merchant_id: u32,
    out: *mut *mut o2o_ledger,
) -> o2o_status {
    // SAFETY: per the header: `conninfo` NULL or NUL-terminated, `out` NULL or writable.
    unsafe { hand_out_ledger(conninfo, "conninfo", merchant_id, out, open_pg) }
}

#[cfg(feature = "postgres")]
fn open_pg(conninfo: &str, merchant: MerchantId) -> Result<Backend, Failure> {
    Ok(crate::ledger::PgLedger::connect(conninfo, merchant).map(Backend::Postgres)?)
}

#[cfg(not(feature = "postgres"))]
fn open_pg(_conninfo: &str, _merchant: MerchantId) -> Result<Backend, Failure> {
    Err(Failure {
        status: o2o_status::LedgerUnsupported,
        message: "this library was built without PostgreSQL (the `postgres` feature)".into(),
    })
}

/// Makes a ledger with `make` and hands it out through `out`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or points to writable memory for
/// a pointer.
unsafe fn hand_out_ledger<E: Into<Failure>>(
    path: *const c_char,
    name: &'static str,
    merchant_id: u32,
    out: *mut *mut o2o_ledger,
    make: impl FnOnce(&str, MerchantId) -> Result<Backend, E>,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: per the caller.
        let path = unsafe { text(path, name) }?;
        let ledger = make(path, MerchantId(merchant_id)).map_err(Into::into)?;
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_ledger(ledger)) };
        Ok(())
    })
}

/// Sets how long later calls on `ledger` wait for another process's lock before failing with
/// `O2O_STATUS_LEDGER_BUSY` (10,000 ms unless set). On a PostgreSQL ledger it is the statement
/// timeout, lock waits included.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_set_busy_timeout(
    ledger: *const o2o_ledger,
    timeout_ms: u32,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = unsafe { borrow(ledger, "ledger") }?;
        let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
        match &ledger.0 {
            Backend::Sqlite(sqlite) => sqlite.set_busy_timeout(timeout),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => pg.set_statement_timeout(timeout),
        }
        Ok(())
    })
}

/// Writes a consistent copy of the ledger to a new file at `path` while tills keep working
/// (never copy the ledger file alone: its `-wal` file holds the latest sales). The copy is a
/// complete ledger; restore it by opening it.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`,
/// `O2O_STATUS_LEDGER_ALREADY_EXISTS`, `O2O_STATUS_LEDGER_FILE_REPLACED`,
/// `O2O_STATUS_LEDGER_STORAGE`, `O2O_STATUS_LEDGER_UNSUPPORTED` (a PostgreSQL ledger: use the
/// server's backups).
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `path` is NULL or a NUL-terminated string.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_backup(
    ledger: *const o2o_ledger,
    path: *const c_char,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger and a NUL-terminated string, per the header.
        let (ledger, path) = unsafe { (borrow(ledger, "ledger")?, text(path, "path")?) };
        match &ledger.0 {
            Backend::Sqlite(sqlite) => sqlite.backup_to(path)?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => {
                return Err(Failure {
                    status: o2o_status::LedgerUnsupported,
                    message: "a PostgreSQL ledger is backed up by the server's own tools \
                              (pg_dump, base backups), not by o2o_ledger_backup"
                        .into(),
                });
            }
        }
        Ok(())
    })
}

/// Closes a ledger. NULL is fine; never close the same ledger twice.
///
/// # Safety
/// - `ledger` is NULL or an `o2o_ledger` made by this library and not released before; it is not
///   used again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_close(ledger: *mut o2o_ledger) {
    let _ = guard(|| {
        // SAFETY: NULL or a ledger from o2o_ledger_open, per the header.
        unsafe { release(ledger) };
        Ok(())
    });
}

/// Redeems the voucher of an accepted `decision` exactly once. `idempotency_key` (1 to 128
/// printable ASCII characters) identifies the sale: retrying with the same key after a
/// timeout returns the first receipt and spends nothing. `amount_minor` is, for a
/// stored-value voucher, how much to spend now (at least 1); pass -1 to spend as much as
/// allowed. Every other benefit ignores it and applies its verified discount, but it must
/// still be -1 or positive.
///
/// A refusal by the voucher's state (already used, …) is not an error: it returns
/// `O2O_STATUS_OK` with `out->rejection` set. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_ARGUMENT` (a refused decision, a bad key,
/// an amount of 0 or below -1),
/// `O2O_STATUS_LEDGER_IDEMPOTENCY_CONFLICT`, `O2O_STATUS_LEDGER_BUSY`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `decision` is NULL or a live `o2o_decision` made by this library.
/// - `idempotency_key` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to a writable `o2o_redemption`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_redeem(
    ledger: *const o2o_ledger,
    decision: *const o2o_decision,
    idempotency_key: *const c_char,
    amount_minor: i64,
    out: *mut o2o_redemption,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or live handles and a NUL-terminated string, per the header.
        let (ledger, decision, key) = unsafe {
            (
                borrow(ledger, "ledger")?,
                borrow(decision, "decision")?,
                text(idempotency_key, "idempotency_key")?,
            )
        };
        let Decision::Accepted(acceptance) = &decision.0 else {
            return Err(Failure::new(
                o2o_status::InvalidArgument,
                "the decision refused its voucher",
            ));
        };
        let key = IdempotencyKey::new(key)?;
        let amount_minor = match amount_minor {
            -1 => None,
            amount => Some(
                u64::try_from(amount)
                    .ok()
                    .and_then(NonZeroU64::new)
                    .ok_or_else(|| {
                        Failure::new(
                            o2o_status::InvalidArgument,
                            format!("amount_minor must be -1 or at least 1, got {amount}"),
                        )
                    })?,
            ),
        };
        let offline = matches!(&ledger.0, Backend::Sqlite(l) if l.keeps_journal());
        let outcome = ledger.0.redeem(&RedeemRequest {
            acceptance,
            amount_minor,
            idempotency_key: &key,
        })?;
        let result = match outcome {
            RedeemOutcome::Redeemed { receipt, replayed } => o2o_redemption {
                rejection: o2o_rejection::None,
                receipt_id: receipt.id.0,
                amount_minor: receipt.amount_minor,
                replayed,
                offline,
            },
            RedeemOutcome::Refused { reason } => o2o_redemption {
                rejection: reason.into(),
                receipt_id: 0,
                amount_minor: 0,
                replayed: false,
                offline,
            },
        };
        // SAFETY: `out` was checked.
        unsafe { put(out, result) };
        Ok(())
    })
}

/// Voids receipt `receipt_id` (a refund) at `at_unix_seconds`: its use, or value, is restored.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_LEDGER_UNKNOWN_RECEIPT`,
/// `O2O_STATUS_LEDGER_ALREADY_VOIDED`, `O2O_STATUS_LEDGER_BUSY`, `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_void(
    ledger: *const o2o_ledger,
    receipt_id: u64,
    at_unix_seconds: i64,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = unsafe { borrow(ledger, "ledger") }?;
        ledger
            .0
            .void(ReceiptId(receipt_id), instant(at_unix_seconds)?)?;
        Ok(())
    })
}

/// Revokes voucher `voucher_id`: every later redemption is refused. Works for vouchers the
/// ledger has never seen.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_LEDGER_ALREADY_REVOKED`,
/// `O2O_STATUS_LEDGER_BUSY`, `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_revoke(
    ledger: *const o2o_ledger,
    voucher_id: u64,
    at_unix_seconds: i64,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = unsafe { borrow(ledger, "ledger") }?;
        ledger
            .0
            .revoke(VoucherId(voucher_id), instant(at_unix_seconds)?)?;
        Ok(())
    })
}

/// Records member `member_id`'s marketing choice at the till: `opted_out` true keeps every
/// campaign from targeting them, false lets them be targeted again. The choice made at the
/// latest `at_unix_seconds` wins, whatever order choices reach the ledger in.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` (an instant out of
/// range), `O2O_STATUS_LEDGER_BUSY`, `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_set_marketing_opt_out(
    ledger: *const o2o_ledger,
    member_id: u64,
    opted_out: bool,
    at_unix_seconds: i64,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = unsafe { borrow(ledger, "ledger") }?;
        ledger.0.set_marketing_opt_out(
            MemberId(member_id),
            opted_out,
            instant(at_unix_seconds)?,
        )?;
        Ok(())
    })
}

/// Writes voucher `voucher_id`'s state at `at_unix_seconds` on the clock of `time_zone` (the
/// store's, for expiry) into `*out`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_PLACE`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `time_zone` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to a writable `o2o_voucher_state`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_state(
    ledger: *const o2o_ledger,
    voucher_id: u64,
    time_zone: *const c_char,
    at_unix_seconds: i64,
    out: *mut o2o_voucher_state,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live ledger and a NUL-terminated string, per the header.
        let (ledger, zone) = unsafe { (borrow(ledger, "ledger")?, zone(time_zone, "time_zone")?) };
        let state = match ledger.0.record(VoucherId(voucher_id))? {
            None => o2o_voucher_state {
                status: o2o_voucher_status::Unknown,
                uses: 0,
                uses_left: 0,
                value_left_minor: -1,
            },
            Some(record) => o2o_voucher_state {
                status: match record.status(instant(at_unix_seconds)?, zone) {
                    VoucherStatus::Issued => o2o_voucher_status::Issued,
                    VoucherStatus::PartiallyRedeemed => o2o_voucher_status::PartiallyRedeemed,
                    VoucherStatus::Exhausted => o2o_voucher_status::Exhausted,
                    VoucherStatus::Revoked => o2o_voucher_status::Revoked,
                    VoucherStatus::Expired => o2o_voucher_status::Expired,
                },
                uses: record.uses,
                uses_left: record.uses_left(),
                value_left_minor: record
                    .value_left_minor()
                    .map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX)),
            },
        };
        // SAFETY: `out` was checked.
        unsafe { put(out, state) };
        Ok(())
    })
}
