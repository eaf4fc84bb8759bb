//! A till's side of sync with the head office: `o2o_ledger_open_till`,
//! `o2o_ledger_export_journal`, `o2o_ledger_apply_sync_ack`, `o2o_ledger_sync_status`,
//! `o2o_ledger_load_deny_list_into`.

use super::keyring::o2o_keyring;
use super::ledger::{Backend, o2o_ledger};
use super::status::{Failure, check_buffer, guard, o2o_status};
use super::{borrow, borrow_mut, bytes, check_out, hand_out, instant, put, text, zone};
use crate::ids::{MerchantId, TillId};
use crate::journal::{JournalKey, OfflineAllowance, SyncError};
use crate::keys::{PublicKey, SigningKey};
use crate::ledger::{SqliteLedger, SyncStatus};
use std::ffi::c_char;

/// A till's offline allowance: what it accepts while it cannot reach the chain's ledger. Past
/// any limit a redemption is refused as `O2O_REJECTION_ONLINE_REQUIRED`; vouchers signed
/// online-only always are.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_offline_allowance {
    /// The store's IANA time zone (days for the daily cap are store-local). Required.
    pub time_zone: *const c_char,
    /// A redemption worth more than this is refused, minor units; 0: no limit.
    pub max_discount_minor: u64,
    /// Everything is refused once the last sync is older than this many seconds (or the
    /// till never synced); 0: no limit.
    pub max_seconds_since_sync: i64,
    /// The most discount this till gives per store-local day, minor units; 0: no limit.
    pub daily_discount_cap_minor: u64,
}

/// Where a till's journal and sync stand.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_sync_status {
    /// The till.
    pub till_id: u32,
    /// The last journal record written (0: none).
    pub written: u64,
    /// The last record the head office acknowledged holding.
    pub acknowledged: u64,
    /// When the till last applied an acknowledgement, Unix seconds; -1: never.
    pub last_sync_unix_seconds: i64,
    /// The version of the deny list the till holds (0: none yet).
    pub deny_list_version: u64,
}

impl From<SyncStatus> for o2o_sync_status {
    fn from(s: SyncStatus) -> Self {
        o2o_sync_status {
            till_id: s.till.0,
            written: s.written,
            acknowledged: s.acknowledged,
            last_sync_unix_seconds: s.last_sync_at.map_or(-1, |t| t.timestamp()),
            deny_list_version: s.deny_list_version,
        }
    }
}

fn till_ledger(ledger: &o2o_ledger) -> Result<&SqliteLedger, Failure> {
    match &ledger.0 {
        Backend::Sqlite(l) if l.keeps_journal() => Ok(l),
        _ => Err(crate::Error::from(crate::LedgerError::Sync(SyncError::NoJournal)).into()),
    }
}

/// Opens the existing ledger file at `path` as till `till_id`'s: every decision it writes is
/// also a record of the till's journal, MACed with `journal_key` (`key_len` bytes, provisioned
/// by the head office, which derives it from the merchant secret). With `allowance` (may be
/// NULL: no limit), redemptions past it are refused as `O2O_REJECTION_ONLINE_REQUIRED`.
/// Create the file first with `o2o_ledger_create` (once, at install). A file journaled by
/// another till is refused.
///
/// On success `*out` receives a ledger, to be released with `o2o_ledger_close`; its
/// redemptions report `offline`. Errors: as `o2o_ledger_open`, and `O2O_STATUS_KEY_TOO_SHORT`
/// (a key below 32 bytes), `O2O_STATUS_SYNC_WRONG_TILL`, `O2O_STATUS_INVALID_PLACE` (an unknown
/// zone), `O2O_STATUS_INVALID_ARGUMENT` (a negative or too large `max_seconds_since_sync`).
///
/// # Safety
/// - `path` is NULL or a NUL-terminated string.
/// - `journal_key` is NULL or points to `key_len` readable bytes.
/// - `allowance` is NULL or points to a readable `o2o_offline_allowance` whose `time_zone`
///   is NULL or a NUL-terminated string.
/// - `out` is NULL or points to writable memory for an `o2o_ledger *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_open_till(
    path: *const c_char,
    merchant_id: u32,
    till_id: u32,
    journal_key: *const u8,
    key_len: usize,
    allowance: *const o2o_offline_allowance,
    out: *mut *mut o2o_ledger,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a NUL-terminated string and readable bytes, per the header.
        let (path, key) = unsafe {
            (
                text(path, "path")?,
                bytes(journal_key, key_len, "journal_key")?,
            )
        };
        let merchant = MerchantId(merchant_id);
        let key = JournalKey::from_key(merchant, TillId(till_id), SigningKey::from_bytes(key)?);
        let allowance = if allowance.is_null() {
            None
        } else {
            // SAFETY: non-NULL, so readable per the header; its zone NULL or NUL-terminated.
            let a = unsafe { *allowance };
            let tz = unsafe { zone(a.time_zone, "allowance.time_zone")? };
            let mut policy = OfflineAllowance::new(tz);
            if a.max_discount_minor > 0 {
                policy = policy.max_discount(a.max_discount_minor);
            }
            if a.max_seconds_since_sync < 0 {
                return Err(Failure::new(
                    o2o_status::InvalidArgument,
                    "max_seconds_since_sync is negative",
                ));
            }
            if a.max_seconds_since_sync > 0 {
                let age =
                    chrono::Duration::try_seconds(a.max_seconds_since_sync).ok_or_else(|| {
                        Failure::new(
                            o2o_status::InvalidArgument,
                            "max_seconds_since_sync is too large",
                        )
                    })?;
                policy = policy.max_since_sync(age);
            }
            if a.daily_discount_cap_minor > 0 {
                policy = policy.daily_discount_cap(a.daily_discount_cap_minor);
            }
            Some(policy)
        };
        let mut ledger = SqliteLedger::open(path, merchant)?.with_journal(key)?;
        if let Some(policy) = allowance {
            ledger = ledger.with_offline_allowance(policy)?;
        }
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_ledger(Backend::Sqlite(ledger))) };
        Ok(())
    })
}

/// Writes the till's journal records that the head office has not acknowledged (at most
/// `max_records`, oldest first) into `buffer` as one batch to send it, stamped with
/// `at_unix_seconds` (the till's clock): bytes, not text, with the buffer convention of the
/// header's introduction minus the NUL (`*needed` is the batch's size). The till remembers
/// its latest export: only the answer to that one counts as a sync for the offline
/// allowance. A till that records sales meanwhile may need a larger buffer on the second
/// call: ask again, with the same time.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INSUFFICIENT_BUFFER`,
/// `O2O_STATUS_SYNC_NO_JOURNAL` (not a ledger from `o2o_ledger_open_till`),
/// `O2O_STATUS_LEDGER_IMPLAUSIBLE_INSTANT`, `O2O_STATUS_LEDGER_BUSY`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_export_journal(
    ledger: *const o2o_ledger,
    max_records: usize,
    at_unix_seconds: i64,
    buffer: *mut u8,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        check_buffer(buffer, capacity)?;
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = till_ledger(unsafe { borrow(ledger, "ledger")? })?;
        let batch = ledger.export_journal(max_records, instant(at_unix_seconds)?)?;
        if !needed.is_null() {
            // SAFETY: NULL or a writable size_t, per the header.
            unsafe { needed.write(batch.len()) };
        }
        if capacity < batch.len() || (buffer.is_null() && !batch.is_empty()) {
            return Err(Failure::new(
                o2o_status::InsufficientBuffer,
                format!(
                    "buffer of {capacity} bytes is too small: {} needed",
                    batch.len()
                ),
            ));
        }
        // SAFETY: `buffer` holds `capacity` >= len writable bytes, per the header.
        unsafe { std::ptr::copy_nonoverlapping(batch.as_ptr(), buffer, batch.len()) };
        Ok(())
    })
}

/// Applies the head office's answer to a batch (`ack_len` bytes at `ack`): the records it
/// holds are delivered, and the deny-list delta it carries, checked against the pinned root
/// public key (32 bytes at `root_public_key`), joins the till's list; `at_unix_seconds` is
/// the time of this sync on the till's clock. Writes the new status to `*out` (may be NULL).
/// Nothing changes on an error.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_INVALID` (root key),
/// `O2O_STATUS_SYNC_BAD_ACK` (forged, altered, another till's), `O2O_STATUS_SYNC_MALFORMED`,
/// `O2O_STATUS_SYNC_ACK_BEYOND_JOURNAL`, `O2O_STATUS_DENY_LIST_*`,
/// `O2O_STATUS_SYNC_NO_JOURNAL`, `O2O_STATUS_LEDGER_BUSY`, `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `ack` is NULL or points to `ack_len` readable bytes.
/// - `root_public_key` is NULL or points to `root_len` readable bytes.
/// - `out` is NULL or points to a writable `o2o_sync_status`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_apply_sync_ack(
    ledger: *const o2o_ledger,
    ack: *const u8,
    ack_len: usize,
    root_public_key: *const u8,
    root_len: usize,
    at_unix_seconds: i64,
    out: *mut o2o_sync_status,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger and readable bytes, per the header.
        let (ledger, ack, root) = unsafe {
            (
                till_ledger(borrow(ledger, "ledger")?)?,
                bytes(ack, ack_len, "ack")?,
                bytes(root_public_key, root_len, "root_public_key")?,
            )
        };
        let root = PublicKey::from_bytes(root)?;
        let status = ledger.apply_sync_ack(ack, &root, instant(at_unix_seconds)?)?;
        if !out.is_null() {
            // SAFETY: non-NULL, so writable per the header.
            unsafe { put(out, status.into()) };
        }
        Ok(())
    })
}

/// Writes where the till's journal and sync stand to `*out`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_SYNC_NO_JOURNAL`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `out` is NULL or points to a writable `o2o_sync_status`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_sync_status(
    ledger: *const o2o_ledger,
    out: *mut o2o_sync_status,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live ledger, per the header.
        let ledger = till_ledger(unsafe { borrow(ledger, "ledger")? })?;
        let status = ledger.sync_status()?;
        // SAFETY: `out` was checked.
        unsafe { put(out, status.into()) };
        Ok(())
    })
}

/// Puts the deny list the till built from the head office's deltas into `keyring`, for
/// `o2o_voucher_verify` (replacing the list it held, unless that one is newer). Call it after
/// each `o2o_ledger_apply_sync_ack` and at start.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_SYNC_NO_JOURNAL`,
/// `O2O_STATUS_DENY_LIST_WRONG_MERCHANT`, `O2O_STATUS_LEDGER_CORRUPT`,
/// `O2O_STATUS_LEDGER_STORAGE`.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_load_deny_list_into(
    ledger: *const o2o_ledger,
    keyring: *mut o2o_keyring,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the header.
        let (ledger, ring) = unsafe {
            (
                till_ledger(borrow(ledger, "ledger")?)?,
                borrow_mut(keyring, "keyring")?,
            )
        };
        let list = ledger.deny_list()?;
        let merchant = ring.0.verifier().merchant();
        if list.merchant() != merchant {
            return Err(crate::Error::from(crate::DenyListError::WrongMerchant {
                expected: merchant,
                found: list.merchant(),
            })
            .into());
        }
        if ring
            .1
            .as_ref()
            .is_none_or(|held| held.version() <= list.version())
        {
            ring.1 = Some(list);
        }
        Ok(())
    })
}
