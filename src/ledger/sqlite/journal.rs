//! A till's journal and sync state in its SQLite ledger (formats and guarantees: the
//! [`crate::journal`] module).
//!
//! Every write of a ledger opened [`SqliteLedger::with_journal`] appends its entry in the
//! same transaction, so a decision and its journal record are committed together or not at
//! all. Records are never deleted: an acknowledgement only moves `acknowledged_through`.

use super::{SqliteLedger, int, micros, opt_instant, sqlite_error, uint};
use crate::deny_list::DenyList;
use crate::ids::TillId;
use crate::journal::chain::GENESIS;
use crate::journal::{
    JournalBatch, JournalEntry, JournalKey, JournalRecord, Mac, OfflineAllowance, SyncAck,
    SyncError,
};
use crate::keys::PublicKey;
use crate::ledger::LedgerError;
use crate::voucher::Acceptance;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// The journal key and offline policy of a till's ledger.
pub(super) struct TillJournal {
    pub(super) key: JournalKey,
    pub(super) allowance: Option<OfflineAllowance>,
}

/// Where a till's journal and sync stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// The till.
    pub till: TillId,
    /// The last record written (0: none).
    pub written: u64,
    /// The last record the head office acknowledged holding (0: none).
    pub acknowledged: u64,
    /// When the till last applied an acknowledgement (its own clock).
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The version of the deny list it holds (0: none yet).
    pub deny_list_version: u64,
}

fn meta(c: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

fn set_meta(c: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])
    .map(drop)
}

/// The last record's number and MAC (0 and the genesis MAC for an empty journal).
fn last_record(c: &Connection) -> rusqlite::Result<(u64, Mac)> {
    let last = c
        .prepare_cached("SELECT seq, mac FROM journal ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((uint(r.get(0)?), r.get::<_, Vec<u8>>(1)?)))
        .optional()?;
    Ok(match last {
        Some((seq, mac)) => (seq, mac_of(&mac)?),
        None => (0, GENESIS),
    })
}

fn mac_of(bytes: &[u8]) -> rusqlite::Result<Mac> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Blob,
            "a journal MAC is 32 bytes".into(),
        )
    })
}

/// Appends `entry` as the next record, in the caller's transaction.
pub(super) fn append(
    tx: &Connection,
    key: &JournalKey,
    entry: &JournalEntry,
) -> Result<(), LedgerError> {
    let (last, previous) = last_record(tx).map_err(sqlite_error)?;
    let seq = last + 1;
    let payload = entry.to_payload();
    let mac = key.link(seq, &previous, &payload);
    tx.prepare_cached("INSERT INTO journal (seq, payload, mac) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![int(seq), payload, &mac[..]]))
        .map_err(sqlite_error)?;
    Ok(())
}

fn load_deny_list(c: &Connection, ledger: &SqliteLedger) -> Result<DenyList, LedgerError> {
    let stored: Option<Vec<u8>> = c
        .prepare_cached("SELECT list FROM deny_list WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(sqlite_error)?;
    match stored {
        Some(bytes) => DenyList::from_stored_bytes(&bytes, ledger.merchant)
            .map_err(|e| LedgerError::Corrupt(format!("stored deny list: {e}"))),
        None => Ok(DenyList::new(ledger.merchant, 0)),
    }
}

fn status(c: &Connection, till: TillId, ledger: &SqliteLedger) -> Result<SyncStatus, LedgerError> {
    let (written, _) = last_record(c).map_err(sqlite_error)?;
    let acknowledged = meta(c, "acknowledged_through")
        .map_err(sqlite_error)?
        .map_or(0, uint);
    let last_sync_at = meta(c, "last_sync_at")
        .and_then(opt_instant)
        .map_err(sqlite_error)?;
    Ok(SyncStatus {
        till,
        written,
        acknowledged,
        last_sync_at,
        deny_list_version: load_deny_list(c, ledger)?.version(),
    })
}

/// Why the till's offline allowance refuses this redemption, if it does.
pub(super) fn allowance_refusal(
    tx: &Connection,
    allowance: &OfflineAllowance,
    acceptance: &Acceptance,
    discount_minor: u64,
) -> Result<Option<crate::Rejection>, LedgerError> {
    let at = acceptance.at();
    let last_sync = meta(tx, "last_sync_at")
        .and_then(opt_instant)
        .map_err(sqlite_error)?;
    let day = allowance.day_of(at);
    // The first instant of a local day: its midnight or, where a clock change skips
    // midnight, the first local minute after it that exists.
    let bound = |d: chrono::NaiveDate| {
        let midnight = d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists as a naive time");
        (0..24 * 60)
            .find_map(|minute| {
                let local = midnight + chrono::Duration::minutes(minute);
                allowance.time_zone.from_local_datetime(&local).earliest()
            })
            .map_or(i64::MAX, |t| micros(t.with_timezone(&Utc)))
    };
    let (start, end) = (bound(day), bound(day.succ_opt().unwrap_or(day)));
    let given: i64 = tx
        .prepare_cached(
            "SELECT coalesce(sum(amount), 0) FROM receipts
             WHERE voided_at IS NULL AND at >= ?1 AND at < ?2",
        )
        .and_then(|mut s| s.query_row([start, end], |r| r.get(0)))
        .map_err(sqlite_error)?;
    Ok(allowance.refusal(
        acceptance.voucher(),
        discount_minor,
        at,
        last_sync,
        uint(given),
    ))
}

impl SqliteLedger {
    /// Makes this ledger a till's: from now on every decision it writes is also a record of
    /// the till's journal, MACed with `key` ([`JournalKey::from_key`] on the till). A ledger
    /// file belongs to one till: opening it with another till's key fails, and opening it
    /// without a key leaves it read-only (writes fail with [`SyncError::NoJournal`]), so no
    /// decision escapes the journal.
    ///
    /// # Errors
    /// [`SyncError::WrongMerchant`], [`SyncError::WrongTill`] (as [`LedgerError::Sync`]);
    /// storage errors.
    pub fn with_journal(mut self, key: JournalKey) -> Result<Self, LedgerError> {
        if key.merchant() != self.merchant {
            return Err(SyncError::WrongMerchant {
                expected: self.merchant.0,
                found: key.merchant().0,
            }
            .into());
        }
        let till = key.till();
        self.till = Some(TillJournal {
            key,
            allowance: None,
        });
        self.write(|tx| match meta(tx, "journal_till").map_err(sqlite_error)? {
            Some(held) if held != i64::from(till.0) => Err(SyncError::WrongTill {
                expected: TillId(held as u32),
                found: till,
            }
            .into()),
            Some(_) => Ok(()),
            None => set_meta(tx, "journal_till", i64::from(till.0)).map_err(sqlite_error),
        })?;
        self.journaled_file = true;
        Ok(self)
    }

    /// Redeems only within `allowance` from now on: every redemption of this ledger is a
    /// till's offline decision, refused as [`crate::Rejection::OnlineRequired`] past it.
    ///
    /// # Errors
    /// [`SyncError::NoJournal`] on a ledger without [`SqliteLedger::with_journal`].
    pub fn with_offline_allowance(
        mut self,
        allowance: OfflineAllowance,
    ) -> Result<Self, LedgerError> {
        let till = self.till.as_mut().ok_or(SyncError::NoJournal)?;
        till.allowance = Some(allowance);
        Ok(self)
    }

    /// Whether this is a till's ledger ([`SqliteLedger::with_journal`]): its redemptions are
    /// decisions taken offline.
    pub fn keeps_journal(&self) -> bool {
        self.till.is_some()
    }

    fn till_journal(&self) -> Result<&TillJournal, LedgerError> {
        Ok(self.till.as_ref().ok_or(SyncError::NoJournal)?)
    }

    /// Appends `entry` in `tx` when this ledger keeps a journal.
    pub(super) fn journaled(
        &self,
        tx: &Connection,
        entry: impl FnOnce() -> JournalEntry,
    ) -> Result<(), LedgerError> {
        match &self.till {
            Some(till) => append(tx, &till.key, &entry()),
            None => Ok(()),
        }
    }

    /// The records the head office has not acknowledged, at most `max_records` of them from
    /// the oldest, as the bytes of a [`JournalBatch`] stamped with `at` (the till's clock). A
    /// batch with no record still carries the till's deny-list version, so the answer brings
    /// the delta. The till remembers its latest export: only the answer to that one counts as
    /// a sync for [`OfflineAllowance::max_since_sync`].
    ///
    /// # Errors
    /// [`SyncError::NoJournal`]; [`LedgerError::ImplausibleInstant`]; storage errors.
    pub fn export_journal(
        &self,
        max_records: usize,
        at: DateTime<Utc>,
    ) -> Result<Vec<u8>, LedgerError> {
        crate::ledger::check_instant(at)?;
        let till = self.till_journal()?;
        self.write(|c| {
            let acknowledged = meta(c, "acknowledged_through")
                .map_err(sqlite_error)?
                .map_or(0, uint);
            let previous = if acknowledged == 0 {
                GENESIS
            } else {
                c.prepare_cached("SELECT mac FROM journal WHERE seq = ?1")
                    .and_then(|mut s| s.query_row([int(acknowledged)], |r| r.get::<_, Vec<u8>>(0)))
                    .and_then(|m| mac_of(&m))
                    .map_err(sqlite_error)?
            };
            let records = c
                .prepare_cached(
                    "SELECT seq, payload, mac FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            int(acknowledged),
                            i64::try_from(max_records).unwrap_or(i64::MAX)
                        ],
                        |r| {
                            Ok(JournalRecord {
                                seq: uint(r.get(0)?),
                                payload: r.get(1)?,
                                mac: mac_of(&r.get::<_, Vec<u8>>(2)?)?,
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sqlite_error)?;
            let bytes = JournalBatch {
                merchant: self.merchant,
                till: till.key.till(),
                deny_list_version: load_deny_list(c, self)?.version(),
                exported_at: uint(micros(at)),
                previous,
                records,
            }
            .encode();
            let digest = i64::from_le_bytes(JournalBatch::digest(&bytes));
            set_meta(c, "last_export", digest).map_err(sqlite_error)?;
            Ok(bytes)
        })
    }

    /// Applies the head office's acknowledgement: records up to its `through` are delivered,
    /// and its deny-list delta (checked against the pinned `root` key) joins the till's list.
    /// Both in one transaction. When it answers the till's latest export, `at` (the till's
    /// clock) becomes the time of its last sync; an older answer arriving late, or replayed,
    /// moves nothing back and does not count as a sync. A delta from another version than the
    /// one held is skipped (the next sync brings the right one).
    ///
    /// # Errors
    /// [`LedgerError::Sync`] for bytes not from the head office for this till (forged,
    /// altered, another till's) or acknowledging records never written;
    /// [`LedgerError::DenyList`] for a delta that does not check against `root` (after a root
    /// key rotation, pin the new key first); [`LedgerError::ImplausibleInstant`]. Nothing
    /// changes on an error.
    pub fn apply_sync_ack(
        &self,
        ack: &[u8],
        root: &PublicKey,
        at: DateTime<Utc>,
    ) -> Result<SyncStatus, LedgerError> {
        crate::ledger::check_instant(at)?;
        let till = self.till_journal()?;
        let ack = SyncAck::open(ack, &till.key)?;
        self.write(|tx| {
            let (written, _) = last_record(tx).map_err(sqlite_error)?;
            if ack.through > written {
                return Err(SyncError::AckBeyondJournal {
                    acknowledged: ack.through,
                    written,
                }
                .into());
            }
            let held = meta(tx, "acknowledged_through")
                .map_err(sqlite_error)?
                .map_or(0, uint);
            set_meta(tx, "acknowledged_through", int(held.max(ack.through)))
                .map_err(sqlite_error)?;
            // Only the answer to the latest export proves the till reached the head office now.
            let latest = meta(tx, "last_export").map_err(sqlite_error)?;
            if latest == Some(i64::from_le_bytes(ack.batch)) {
                set_meta(tx, "last_sync_at", micros(at)).map_err(sqlite_error)?;
            }
            if !ack.deny_list_delta.is_empty() {
                let mut list = load_deny_list(tx, self)?;
                match list.apply_delta(&ack.deny_list_delta, root) {
                    Ok(()) => {
                        tx.prepare_cached(
                            "INSERT INTO deny_list (id, list) VALUES (1, ?1)
                             ON CONFLICT (id) DO UPDATE SET list = excluded.list",
                        )
                        .and_then(|mut s| s.execute([list.stored_bytes()]))
                        .map_err(sqlite_error)?;
                    }
                    Err(crate::deny_list::DenyListError::VersionGap { .. })
                    | Err(crate::deny_list::DenyListError::Rollback { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            status(tx, till.key.till(), self)
        })
    }

    /// Where this till's journal and sync stand.
    ///
    /// # Errors
    /// [`SyncError::NoJournal`]; storage errors.
    pub fn sync_status(&self) -> Result<SyncStatus, LedgerError> {
        let till = self.till_journal()?.key.till();
        let session = self.lock();
        self.file.check()?;
        status(&session.conn, till, self)
    }

    /// The deny list this till built from the head office's deltas (empty, version 0, before
    /// the first), to pass to [`crate::RedemptionContext::with_deny_list`].
    ///
    /// # Errors
    /// Storage errors; [`LedgerError::Corrupt`] for a damaged stored list.
    pub fn deny_list(&self) -> Result<DenyList, LedgerError> {
        let session = self.lock();
        self.file.check()?;
        load_deny_list(&session.conn, self)
    }
}
