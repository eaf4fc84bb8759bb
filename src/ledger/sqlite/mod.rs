//! The durable ledger on SQLite (bundled, so a fresh machine needs nothing installed).
//!
//! - **Durability**: WAL journal with `synchronous = FULL`: a commit returns only after the
//!   WAL is on disk, so an acknowledged redemption survives a crash or a power cut. (`NORMAL`
//!   would be faster but may lose the last commits on power loss; a till must not.)
//! - **Several processes**: every write runs in a `BEGIN IMMEDIATE` transaction, which takes
//!   the file's write lock before reading the state it decides on, so two tills sharing a
//!   back-office file cannot both spend a single-use voucher. Waiting for the lock is bounded
//!   by a busy timeout ([`SqliteLedger::BUSY_TIMEOUT`]); past it the call fails with
//!   [`LedgerError::Busy`] and changes nothing.
//! - **Bad files**: see the `schema` module: nothing is written to a file that is not an
//!   o2okit ledger.
//!
//! Storage: u64 ids and amounts are stored as the i64 with the same bits; instants as Unix
//! microseconds.

mod file;
mod integrity;
mod journal;
mod members;
mod row_check;
mod schema;

use super::account::{Account, Movement, MovementKind, MovementRequest};
use super::members::{CheckInOutcome, CheckInRequest, check_request};
use super::record::{Terms, VoucherRecord};
use super::{
    IdempotencyKey, Ledger, LedgerError, LedgerEvent, Offer, Receipt, ReceiptId, RedeemOutcome,
    RedeemRequest, StorageError, VisitEvent, check_instant, check_merchant, check_void, history_of,
    ledger_instant, recorded_movement, recorded_receipt, replay, visit_of,
};
use crate::ids::{CampaignId, MemberId, MerchantId, StoreId, VoucherId};
use crate::journal::{JournalEntry, RedeemedTerms};
use crate::local_time::LocalDateTime;
use crate::membership::member::{CardNumber, Member};
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use file::FileIdentity;
pub use journal::SyncStatus;
use journal::TillJournal;
use row_check::{RowCheck, RowCheckMismatch};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Maps SQLite failures to ledger errors.
pub(crate) fn sqlite_error(e: rusqlite::Error) -> LedgerError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                LedgerError::Busy
            }
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt => {
                LedgerError::Corrupt(e.to_string())
            }
            _ => LedgerError::Storage(StorageError::caused_by("SQLite", e)),
        },
        rusqlite::Error::FromSqlConversionFailure(_, _, inner)
            if inner.is::<RowCheckMismatch>() =>
        {
            LedgerError::Corrupt(inner.to_string())
        }
        _ => LedgerError::Storage(StorageError::caused_by("SQLite", e)),
    }
}

/// u64 → the i64 with the same bits.
fn int(value: u64) -> i64 {
    value as i64
}

/// The i64 with the same bits → u64.
fn uint(value: i64) -> u64 {
    value as u64
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn instant(micros: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, micros))
}

fn opt_instant(micros: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    micros.map(instant).transpose()
}

fn key_of(text: String) -> rusqlite::Result<IdempotencyKey> {
    IdempotencyKey::new(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(super) const RECEIPT_COLUMNS: &str =
    "id, voucher, store, member, at, spend, amount, idempotency_key, voided_at, row_check";

/// A receipt row as stored, without its id (assigned on insert, so not part of the check).
struct ReceiptRow {
    key: String,
    voucher: i64,
    store: u32,
    member: Option<i64>,
    at: i64,
    spend: i64,
    amount: i64,
    voided_at: Option<i64>,
}

impl ReceiptRow {
    fn check(&self) -> i64 {
        RowCheck::new("receipts")
            .text(&self.key)
            .ints(&[
                Some(self.voucher),
                Some(i64::from(self.store)),
                self.member,
                Some(self.at),
                Some(self.spend),
                Some(self.amount),
                self.voided_at,
            ])
            .finish()
    }
}

impl ReceiptRow {
    /// The id and content of a row read with [`RECEIPT_COLUMNS`], unchecked.
    fn read(row: &Row<'_>) -> rusqlite::Result<(i64, ReceiptRow)> {
        Ok((
            row.get(0)?,
            ReceiptRow {
                voucher: row.get(1)?,
                store: row.get(2)?,
                member: row.get(3)?,
                at: row.get(4)?,
                spend: row.get(5)?,
                amount: row.get(6)?,
                key: row.get(7)?,
                voided_at: row.get(8)?,
            },
        ))
    }
}

/// A receipt row (read with [`RECEIPT_COLUMNS`]), checked, with when it was voided.
pub(super) fn receipt_of(row: &Row<'_>) -> rusqlite::Result<(Receipt, Option<DateTime<Utc>>)> {
    let (id, stored) = ReceiptRow::read(row)?;
    row_check::verify("receipts", id, row.get(9)?, stored.check())?;
    let receipt = Receipt {
        id: ReceiptId(uint(id)),
        voucher: VoucherId(uint(stored.voucher)),
        store: StoreId(stored.store),
        member: stored.member.map(|m| MemberId(uint(m))),
        at: instant(stored.at)?,
        spend_minor: uint(stored.spend),
        amount_minor: uint(stored.amount),
        idempotency_key: key_of(stored.key)?,
    };
    Ok((receipt, opt_instant(stored.voided_at)?))
}

const MOVEMENT_COLUMNS: &str =
    "id, member, kind, amount, at, idempotency_key, points_after, balance_after";

fn movement_of(row: &Row<'_>) -> rusqlite::Result<Movement> {
    let code: u8 = row.get(2)?;
    let amount = uint(row.get(3)?);
    Ok(Movement {
        id: uint(row.get(0)?),
        member: MemberId(uint(row.get(1)?)),
        kind: MovementKind::from_code(code, amount)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(2, i64::from(code)))?,
        at: instant(row.get(4)?)?,
        idempotency_key: key_of(row.get(5)?)?,
        points_after: uint(row.get(6)?),
        balance_after_minor: uint(row.get(7)?),
    })
}

pub(super) const VOUCHER_COLUMNS: &str = "voucher, has_terms, max_uses, max_uses_per_member, \
     face_value, valid_until, campaign, uses, value_spent, issued_at, revoked_at, row_check";

/// A voucher record's columns, in [`VOUCHER_COLUMNS`] order (without the check).
fn voucher_columns(r: &VoucherRecord) -> [Option<i64>; 11] {
    let t = r.terms;
    [
        Some(int(r.voucher.0)),
        Some(i64::from(t.is_some())),
        t.map(|t| i64::from(t.max_uses)),
        t.and_then(|t| t.max_uses_per_member).map(i64::from),
        t.and_then(|t| t.face_value_minor).map(int),
        t.and_then(|t| t.valid_until)
            .map(|u| i64::from(u.minutes_since_epoch())),
        t.and_then(|t| t.campaign).map(|c| i64::from(c.0)),
        Some(i64::from(r.uses)),
        Some(int(r.value_spent_minor)),
        r.issued_at.map(micros),
        r.revoked_at.map(micros),
    ]
}

fn voucher_check(columns: &[Option<i64>; 11]) -> i64 {
    RowCheck::new("vouchers").ints(columns).finish()
}

/// The columns of a row read with [`VOUCHER_COLUMNS`], unchecked.
fn voucher_columns_of(row: &Row<'_>) -> rusqlite::Result<[Option<i64>; 11]> {
    let mut c = [None; 11];
    for (i, column) in c.iter_mut().enumerate() {
        *column = row.get(i)?;
    }
    Ok(c)
}

/// A voucher row (read with [`VOUCHER_COLUMNS`]), checked.
pub(super) fn voucher_of(row: &Row<'_>) -> rusqlite::Result<VoucherRecord> {
    let c = voucher_columns_of(row)?;
    let id = c[0].unwrap_or_default();
    row_check::verify("vouchers", uint(id), row.get(11)?, voucher_check(&c))?;
    let small = |i: usize| -> rusqlite::Result<Option<u32>> {
        c[i].map(|v| u32::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v)))
            .transpose()
    };
    let terms = if c[1] == Some(1) {
        Some(Terms {
            max_uses: small(2)?.ok_or(rusqlite::Error::InvalidColumnType(
                2,
                "max_uses".into(),
                rusqlite::types::Type::Null,
            ))?,
            max_uses_per_member: small(3)?,
            face_value_minor: c[4].map(uint),
            valid_until: small(5)?
                .map(|m| {
                    LocalDateTime::from_minutes_since_epoch(m)
                        .ok_or(rusqlite::Error::IntegralValueOutOfRange(5, i64::from(m)))
                })
                .transpose()?,
            campaign: small(6)?.map(CampaignId),
        })
    } else {
        None
    };
    Ok(VoucherRecord {
        voucher: VoucherId(uint(id)),
        terms,
        uses: small(7)?.unwrap_or_default(),
        value_spent_minor: uint(c[8].unwrap_or_default()),
        issued_at: opt_instant(c[9])?,
        revoked_at: opt_instant(c[10])?,
    })
}

fn load_record(tx: &Connection, voucher: VoucherId) -> rusqlite::Result<Option<VoucherRecord>> {
    tx.prepare_cached(&format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE voucher = ?1"
    ))?
    .query_row([int(voucher.0)], voucher_of)
    .optional()
}

fn store_record(tx: &Connection, r: &VoucherRecord) -> rusqlite::Result<()> {
    let c = voucher_columns(r);
    tx.prepare_cached(&format!(
        "INSERT INTO vouchers ({VOUCHER_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (voucher) DO UPDATE SET
             has_terms = excluded.has_terms, max_uses = excluded.max_uses,
             max_uses_per_member = excluded.max_uses_per_member,
             face_value = excluded.face_value, valid_until = excluded.valid_until,
             campaign = excluded.campaign, uses = excluded.uses,
             value_spent = excluded.value_spent, issued_at = excluded.issued_at,
             revoked_at = excluded.revoked_at, row_check = excluded.row_check"
    ))?
    .execute(params![
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        c[7],
        c[8],
        c[9],
        c[10],
        voucher_check(&c)
    ])?;
    Ok(())
}

fn insert_visit(tx: &Connection, v: &VisitEvent) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO visits (member, store, at, spend, voucher, campaign, discount)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        v.member.map(|m| int(m.0)),
        v.store.0,
        micros(v.at),
        int(v.spend_minor),
        v.voucher.map(|id| int(id.0)),
        v.campaign.map(|c| c.0),
        int(v.discount_minor),
    ])?;
    Ok(())
}

/// A ledger in a SQLite file. Each value holds one connection; give each thread (or till) its
/// own `SqliteLedger` on the same file for parallel work, or share one (calls then take turns).
///
/// A ledger file is made once with [`SqliteLedger::create`] and opened afterwards with
/// [`SqliteLedger::open`], which never creates one: a till whose ledger went missing stops
/// with [`LedgerError::NotFound`] instead of starting an empty ledger and re-arming every
/// voucher it spent. The file is checked when opened (see the `integrity` module) and watched
/// while open: removed or replaced, it is written no more ([`LedgerError::FileReplaced`]).
pub struct SqliteLedger {
    merchant: MerchantId,
    file: FileIdentity,
    busy_timeout_ms: AtomicU64,
    conn: Mutex<Session>,
    /// A till's journal key and offline policy (`with_journal`).
    till: Option<TillJournal>,
    /// The file is a till's (it has a journal): writes need the journal key.
    journaled_file: bool,
}

/// The connection and its recent writes.
struct Session {
    conn: Connection,
    /// When the last write committed.
    last_commit: Option<Instant>,
    /// When the current run of back-to-back writes began.
    burst_start: Option<Instant>,
}

/// Writes that start within this time of the previous commit are back to back.
const WRITE_GAP: Duration = Duration::from_millis(2);

/// After this long of back-to-back writes, a connection pauses for [`WRITE_GAP`] before taking
/// the write lock again, so tills waiting for it (polling every [`LOCK_POLL`]) get their turn
/// between a bulk writer's transactions. A till's occasional write never pauses.
const WRITE_BURST: Duration = Duration::from_millis(20);

/// How many vouchers [`Ledger::record_issues`] records per transaction: a few milliseconds of
/// holding the write lock.
const ISSUES_PER_TRANSACTION: usize = 256;

/// How long a blocked call sleeps between attempts at the lock.
const LOCK_POLL: Duration = Duration::from_millis(1);

thread_local! {
    /// When the call running on this thread stops waiting for a lock.
    static LOCK_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// SQLite's busy handler: poll the lock every millisecond until the calling thread's
/// deadline. (SQLite's own handler sleeps up to 100 ms between attempts, so a till loses the
/// lock to any writer that commits more often than that.)
fn wait_for_lock(_attempts: i32) -> bool {
    let deadline = LOCK_DEADLINE.with(Cell::get);
    if deadline.is_none_or(|d| Instant::now() >= d) {
        return false;
    }
    std::thread::sleep(LOCK_POLL);
    true
}

/// Sets the deadline of the calling thread's next lock waits.
fn arm_deadline(timeout: Duration) {
    LOCK_DEADLINE.with(|d| d.set(Instant::now().checked_add(timeout)));
}

impl SqliteLedger {
    /// How long a call waits for another process's write lock before failing with
    /// [`LedgerError::Busy`], unless set otherwise.
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

    /// Creates a new, empty ledger file of `merchant` at `path`, atomically: the file is
    /// prepared under a temporary name beside `path` and linked into place only when complete,
    /// so a crash or a full disk during creation leaves no file at `path` (at worst a stale
    /// `.<name>.o2okit-new-*` file beside it).
    ///
    /// # Example
    /// ```
    /// use o2okit::{LedgerError, MerchantId, SqliteLedger};
    ///
    /// let dir = std::env::temp_dir().join(format!("o2okit-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("store-1001.ledger");
    /// # let _ = std::fs::remove_file(&path);
    /// // At install: create. A second create never touches the existing file.
    /// drop(SqliteLedger::create(&path, MerchantId(7))?);
    /// assert!(matches!(SqliteLedger::create(&path, MerchantId(7)),
    ///     Err(LedgerError::AlreadyExists { .. })));
    /// // At every start: open, which never creates (a missing file is an error, not a new,
    /// // empty ledger that would forget every redemption).
    /// let ledger = SqliteLedger::open(&path, MerchantId(7))?;
    /// assert!(matches!(SqliteLedger::open(dir.join("typo.ledger"), MerchantId(7)),
    ///     Err(LedgerError::NotFound { .. })));
    /// # drop(ledger);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LedgerError::AlreadyExists`] when any file is at `path` (it is not touched);
    /// [`LedgerError::Storage`].
    pub fn create(path: impl AsRef<Path>, merchant: MerchantId) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let shown = file::shown(path);
        if path.symlink_metadata().is_ok() {
            return Err(LedgerError::AlreadyExists { path: shown });
        }
        let staging = file::staging_path(path);
        let made = (|| {
            let mut conn = Connection::open_with_flags(
                &staging,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| LedgerError::Storage(StorageError::caused_by(shown.clone(), e)))?;
            schema::create(&mut conn, &shown, merchant)?;
            conn.close().map_err(|(_, e)| sqlite_error(e))?;
            file::sync_file(&staging, &shown)?;
            file::place_new_file(&staging, path, &shown)
        })();
        file::remove_staging(&staging);
        made?;
        Self::open(path, merchant)
    }

    /// Opens the existing ledger file of `merchant` at `path`, checking it first.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] when there is no file (none is created);
    /// [`LedgerError::NotADatabase`] or [`LedgerError::ForeignDatabase`] for a file that is
    /// not an o2okit ledger (it is left untouched); [`LedgerError::Corrupt`] for a damaged
    /// ledger; [`LedgerError::SchemaTooNew`], [`LedgerError::WrongMerchant`],
    /// [`LedgerError::Busy`], [`LedgerError::Storage`].
    pub fn open(path: impl AsRef<Path>, merchant: MerchantId) -> Result<Self, LedgerError> {
        Self::open_with_busy_timeout(path, merchant, Self::BUSY_TIMEOUT)
    }

    /// As [`SqliteLedger::open`], waiting at most `busy_timeout` for another process's lock.
    ///
    /// # Errors
    /// As [`SqliteLedger::open`].
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        merchant: MerchantId,
        busy_timeout: Duration,
    ) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let shown = file::shown(path);
        if path.symlink_metadata().is_err() {
            return Err(LedgerError::NotFound { path: shown });
        }
        // Prove the file is a ledger through a connection that cannot write to it.
        schema::identify_existing(path, &shown)?;
        let file = FileIdentity::of(path)?;
        // No CREATE flag: a file removed since the look above is not silently re-created.
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LedgerError::Storage(StorageError::caused_by(shown.clone(), e)))?;
        conn.busy_handler(Some(wait_for_lock))
            .map_err(sqlite_error)?;
        arm_deadline(busy_timeout);
        schema::open(&mut conn, &shown, merchant)?;
        integrity::check(&conn, &shown)?;
        let journaled_file = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'journal_till')",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite_error)?;
        file.check()?;
        Ok(SqliteLedger {
            merchant,
            file,
            busy_timeout_ms: AtomicU64::new(millis(busy_timeout)),
            conn: Mutex::new(Session {
                conn,
                last_commit: None,
                burst_start: None,
            }),
            till: None,
            journaled_file,
        })
    }

    /// How long later calls wait for another process's lock before failing with
    /// [`LedgerError::Busy`].
    pub fn set_busy_timeout(&self, timeout: Duration) {
        self.busy_timeout_ms
            .store(millis(timeout), Ordering::Relaxed);
    }

    /// The current busy timeout.
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms.load(Ordering::Relaxed))
    }

    /// Writes a consistent copy of the ledger, as of one moment, to a new file at `path`,
    /// while tills keep redeeming (SQLite's `VACUUM INTO` reads one snapshot; writers are not
    /// blocked). The copy is a complete ledger on its own (no `-wal` file), prepared under a
    /// temporary name and linked into place when complete; open it with
    /// [`SqliteLedger::open`] to restore.
    ///
    /// # Errors
    /// [`LedgerError::AlreadyExists`] when a file is at `path`; [`LedgerError::FileReplaced`];
    /// [`LedgerError::Storage`] (including a path that is not UTF-8).
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<(), LedgerError> {
        let path = path.as_ref();
        let shown = file::shown(path);
        if path.symlink_metadata().is_ok() {
            return Err(LedgerError::AlreadyExists { path: shown });
        }
        let staging = file::staging_path(path);
        let target = staging
            .to_str()
            .ok_or_else(|| {
                LedgerError::Storage(StorageError::new(format!("{shown}: path is not UTF-8")))
            })?
            .to_owned();
        let made = (|| {
            self.read(|c| c.execute("VACUUM INTO ?1", [&target]).map(drop))?;
            file::sync_file(&staging, &shown)?;
            file::place_new_file(&staging, path, &shown)
        })();
        file::remove_staging(&staging);
        made
    }

    /// Checks the whole file again, as [`SqliteLedger::open`] does: page structure, every
    /// row's check, and use counts against receipts.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] for a damaged ledger; storage errors.
    pub fn check_integrity(&self) -> Result<(), LedgerError> {
        let session = self.lock();
        arm_deadline(self.busy_timeout());
        self.file.check()?;
        integrity::check(&session.conn, &file::shown(self.file.path()))
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        // SQLite rolls back an unfinished transaction when it is dropped, so a poisoned lock
        // guards nothing half-written.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits it if `f` succeeds and
    /// the file is still the one opened.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        if self.journaled_file && self.till.is_none() {
            return Err(crate::journal::SyncError::NoJournal.into());
        }
        let mut session = self.lock();
        let back_to_back = session.last_commit.is_some_and(|t| t.elapsed() < WRITE_GAP);
        match session.burst_start {
            Some(start) if back_to_back && start.elapsed() >= WRITE_BURST => {
                std::thread::sleep(WRITE_GAP);
                session.burst_start = Some(Instant::now());
            }
            Some(_) if back_to_back => {}
            _ => session.burst_start = Some(Instant::now()),
        }
        arm_deadline(self.busy_timeout());
        let tx = session
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let value = f(&tx)?;
        self.file.check()?;
        tx.commit().map_err(sqlite_error)?;
        session.last_commit = Some(Instant::now());
        Ok(value)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LedgerError> {
        let session = self.lock();
        arm_deadline(self.busy_timeout());
        self.file.check()?;
        f(&session.conn).map_err(sqlite_error)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Ledger for SqliteLedger {
    fn merchant(&self) -> MerchantId {
        self.merchant
    }

    fn record_issue(&self, voucher: &Voucher, at: DateTime<Utc>) -> Result<(), LedgerError> {
        self.record_issues(std::slice::from_ref(voucher), at)
    }

    fn record_issues(&self, vouchers: &[Voucher], at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        if let Some(other) = vouchers.iter().find(|v| v.merchant != self.merchant) {
            check_merchant(self.merchant, other.merchant)?;
        }
        for chunk in vouchers.chunks(ISSUES_PER_TRANSACTION) {
            self.write(|tx| {
                chunk.iter().try_for_each(|voucher| {
                    let existing = load_record(tx, voucher.id).map_err(sqlite_error)?;
                    let record = VoucherRecord::issued(existing, voucher, at)?;
                    store_record(tx, &record).map_err(sqlite_error)?;
                    if let (Some(member), Some(issued_at)) = (voucher.member, record.issued_at) {
                        tx.prepare_cached(
                            "INSERT OR IGNORE INTO offers (voucher, member, campaign, issued_at)
                             VALUES (?1, ?2, ?3, ?4)",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                int(voucher.id.0),
                                int(member.0),
                                voucher.campaign.map(|c| c.0),
                                micros(issued_at)
                            ])
                        })
                        .map_err(sqlite_error)?;
                    }
                    Ok(())
                })
            })?;
        }
        Ok(())
    }

    fn redeem(&self, request: &RedeemRequest<'_>) -> Result<RedeemOutcome, LedgerError> {
        check_instant(request.acceptance.at())?;
        let acceptance = request.acceptance;
        let voucher = acceptance.voucher();
        check_merchant(self.merchant, voucher.merchant)?;
        let key = request.idempotency_key.as_str();
        self.write(|tx| {
            let earlier = tx
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE idempotency_key = ?1"
                ))
                .and_then(|mut s| s.query_row([key], receipt_of).optional())
                .map_err(sqlite_error)?;
            if let Some((receipt, voided)) = earlier {
                return replay(receipt, voided.is_some(), request);
            }
            let member = acceptance.member();
            let member_uses: u32 = match member {
                Some(m) => tx
                    .prepare_cached(
                        "SELECT count(*) FROM receipts
                         WHERE voucher = ?1 AND member = ?2 AND voided_at IS NULL",
                    )
                    .and_then(|mut s| s.query_row([int(voucher.id.0), int(m.0)], |r| r.get(0)))
                    .map_err(sqlite_error)?,
                None => 0,
            };
            let existing = load_record(tx, voucher.id).map_err(sqlite_error)?;
            let mut record = VoucherRecord::for_redemption(existing, voucher);
            let admitted = match record.admit(member, member_uses, request.requested_minor()) {
                Ok(admitted) => admitted,
                Err(reason) => return Ok(RedeemOutcome::Refused { reason }),
            };
            if let Some(allowance) = self.till.as_ref().and_then(|t| t.allowance.as_ref())
                && let Some(reason) =
                    journal::allowance_refusal(tx, allowance, acceptance, admitted.amount_minor)?
            {
                return Ok(RedeemOutcome::Refused { reason });
            }
            record.apply_redemption(admitted);
            store_record(tx, &record).map_err(sqlite_error)?;
            let row = ReceiptRow {
                key: key.to_owned(),
                voucher: int(voucher.id.0),
                store: acceptance.store().0,
                member: member.map(|m| int(m.0)),
                at: micros(acceptance.at()),
                spend: int(acceptance.spend_minor()),
                amount: int(admitted.amount_minor),
                voided_at: None,
            };
            tx.prepare_cached(
                "INSERT INTO receipts (idempotency_key, voucher, store, member, at, spend, amount,
                                       row_check)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.key,
                    row.voucher,
                    row.store,
                    row.member,
                    row.at,
                    row.spend,
                    row.amount,
                    row.check(),
                ])
            })
            .map_err(sqlite_error)?;
            let id = ReceiptId(uint(tx.last_insert_rowid()));
            let receipt = recorded_receipt(id, request, admitted.amount_minor);
            insert_visit(tx, &visit_of(acceptance, admitted.amount_minor)).map_err(sqlite_error)?;
            self.journaled(tx, || JournalEntry::Redeemed {
                receipt: receipt.clone(),
                terms: RedeemedTerms::of(voucher),
            })?;
            Ok(RedeemOutcome::Redeemed {
                receipt,
                replayed: false,
            })
        })
    }

    fn void(&self, receipt: ReceiptId, at: DateTime<Utc>) -> Result<VoucherRecord, LedgerError> {
        check_instant(at)?;
        self.write(|tx| {
            let (found, voided) = tx
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE id = ?1"
                ))
                .and_then(|mut s| s.query_row([int(receipt.0)], receipt_of).optional())
                .map_err(sqlite_error)?
                .ok_or(LedgerError::UnknownReceipt(receipt))?;
            check_void(receipt, found.at, voided.is_some(), at)?;
            let (voucher, amount) = (found.voucher, found.amount_minor);
            let mut record = load_record(tx, voucher)
                .map_err(sqlite_error)?
                .ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "receipt {receipt} names unknown voucher {voucher}"
                    ))
                })?;
            record.apply_void(amount).map_err(LedgerError::Corrupt)?;
            store_record(tx, &record).map_err(sqlite_error)?;
            let voided_at = micros(at);
            let row = ReceiptRow {
                key: found.idempotency_key.as_str().to_owned(),
                voucher: int(voucher.0),
                store: found.store.0,
                member: found.member.map(|m| int(m.0)),
                at: micros(found.at),
                spend: int(found.spend_minor),
                amount: int(amount),
                voided_at: Some(voided_at),
            };
            tx.prepare_cached("UPDATE receipts SET voided_at = ?1, row_check = ?2 WHERE id = ?3")
                .and_then(|mut s| s.execute([voided_at, row.check(), int(receipt.0)]))
                .map_err(sqlite_error)?;
            self.journaled(tx, || JournalEntry::Voided {
                receipt,
                voucher,
                at,
            })?;
            Ok(record)
        })
    }

    fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        self.write(|tx| {
            let mut record = load_record(tx, voucher)
                .map_err(sqlite_error)?
                .unwrap_or_else(|| VoucherRecord::new(voucher, None));
            if record.revoked_at.is_some() {
                return Err(LedgerError::AlreadyRevoked(voucher));
            }
            record.revoked_at = Some(at);
            store_record(tx, &record).map_err(sqlite_error)?;
            self.journaled(tx, || JournalEntry::Revoked { voucher, at })
        })
    }

    fn record(&self, voucher: VoucherId) -> Result<Option<VoucherRecord>, LedgerError> {
        self.read(|c| load_record(c, voucher))
    }

    fn receipt(&self, id: ReceiptId) -> Result<Option<Receipt>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE id = ?1"
            ))?
            .query_row([int(id.0)], receipt_of)
            .optional()
            .map(|found| found.map(|(receipt, _)| receipt))
        })
    }

    fn history(&self, voucher: VoucherId) -> Result<Vec<LedgerEvent>, LedgerError> {
        // One read transaction: the record and its receipts as of the same moment.
        let (record, receipts) = {
            let mut session = self.lock();
            arm_deadline(self.busy_timeout());
            self.file.check()?;
            let tx = session.conn.transaction().map_err(sqlite_error)?;
            let record = load_record(&tx, voucher).map_err(sqlite_error)?;
            let receipts: Vec<(Receipt, Option<DateTime<Utc>>)> = tx
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE voucher = ?1 ORDER BY id"
                ))
                .and_then(|mut s| s.query_map([int(voucher.0)], receipt_of)?.collect())
                .map_err(sqlite_error)?;
            tx.commit().map_err(sqlite_error)?;
            (record, receipts)
        };
        Ok(history_of(record.as_ref(), receipts))
    }

    fn apply(&self, request: &MovementRequest) -> Result<Movement, LedgerError> {
        check_instant(request.at)?;
        if request.kind.amount() == 0 {
            return Err(LedgerError::ZeroMovement);
        }
        let key = request.idempotency_key.as_str();
        self.write(|tx| {
            let earlier = tx
                .prepare_cached(&format!(
                    "SELECT {MOVEMENT_COLUMNS} FROM movements WHERE idempotency_key = ?1"
                ))
                .and_then(|mut s| s.query_row([key], movement_of).optional())
                .map_err(sqlite_error)?;
            if let Some(movement) = earlier {
                if movement.member != request.member || movement.kind != request.kind {
                    return Err(LedgerError::IdempotencyConflict(key.to_owned()));
                }
                return Ok(movement);
            }
            let account = load_account(tx, request.member).map_err(sqlite_error)?;
            let after = account.checked_after(request.kind)?;
            tx.prepare_cached(
                "INSERT INTO accounts (member, points, balance, row_check) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (member) DO UPDATE SET points = excluded.points,
                     balance = excluded.balance, row_check = excluded.row_check",
            )
            .and_then(|mut s| {
                s.execute([
                    int(request.member.0),
                    int(after.points),
                    int(after.balance_minor),
                    account_check(request.member, after),
                ])
            })
            .map_err(sqlite_error)?;
            tx.prepare_cached(
                "INSERT INTO movements (idempotency_key, member, kind, amount, at, points_after,
                                        balance_after)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    int(request.member.0),
                    request.kind.code(),
                    int(request.kind.amount()),
                    micros(request.at),
                    int(after.points),
                    int(after.balance_minor),
                ])
            })
            .map_err(sqlite_error)?;
            let movement = recorded_movement(uint(tx.last_insert_rowid()), request, after);
            self.journaled(tx, || JournalEntry::Moved {
                movement: movement.clone(),
            })?;
            Ok(movement)
        })
    }

    fn account(&self, member: MemberId) -> Result<Account, LedgerError> {
        self.read(|c| load_account(c, member))
    }

    fn movements(&self, member: MemberId) -> Result<Vec<Movement>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MOVEMENT_COLUMNS} FROM movements WHERE member = ?1 ORDER BY id"
            ))?
            .query_map([int(member.0)], movement_of)?
            .collect()
        })
    }

    fn record_visit(&self, visit: &VisitEvent) -> Result<(), LedgerError> {
        check_instant(visit.at)?;
        self.write(|tx| {
            insert_visit(tx, visit).map_err(sqlite_error)?;
            self.journaled(tx, || JournalEntry::Visited {
                visit: visit.clone(),
            })
        })
    }

    fn set_marketing_opt_out(
        &self,
        member: MemberId,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        check_instant(at)?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO marketing_opt_outs (member, opted_out, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (member) DO UPDATE SET opted_out = excluded.opted_out,
                     at = excluded.at
                 WHERE excluded.at > marketing_opt_outs.at
                 OR (excluded.at = marketing_opt_outs.at AND excluded.opted_out = 1)",
            )
            .and_then(|mut s| s.execute(params![int(member.0), opted_out, micros(at)]))
            .map_err(sqlite_error)?;
            self.journaled(tx, || JournalEntry::MarketingChoice {
                member,
                opted_out,
                at: ledger_instant(at),
            })
        })
    }

    fn marketing_opt_outs(&self) -> Result<Vec<MemberId>, LedgerError> {
        self.read(|c| {
            c.prepare_cached("SELECT member FROM marketing_opt_outs WHERE opted_out = 1")?
                .query_map([], |row| Ok(MemberId(uint(row.get(0)?))))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map(|mut members| {
            members.sort_unstable();
            members
        })
    }

    fn offers_since(&self, since: DateTime<Utc>) -> Result<Vec<Offer>, LedgerError> {
        let mut offers = self.read(|c| {
            c.prepare_cached(
                "SELECT voucher, member, campaign, issued_at FROM offers WHERE issued_at >= ?1",
            )?
            .query_map([micros(since)], |row| {
                Ok(Offer {
                    voucher: VoucherId(uint(row.get(0)?)),
                    member: MemberId(uint(row.get(1)?)),
                    campaign: row.get::<_, Option<u32>>(2)?.map(CampaignId),
                    issued_at: instant(row.get(3)?)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        offers.sort_by_key(|o| (o.issued_at, o.voucher));
        Ok(offers)
    }

    fn visits(&self) -> Result<Vec<VisitEvent>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT member, store, at, spend, voucher, campaign, discount
                 FROM visits ORDER BY at, id",
            )?
            .query_map([], |row| {
                Ok(VisitEvent {
                    member: row.get::<_, Option<i64>>(0)?.map(|m| MemberId(uint(m))),
                    store: StoreId(row.get(1)?),
                    at: instant(row.get(2)?)?,
                    spend_minor: uint(row.get(3)?),
                    voucher: row.get::<_, Option<i64>>(4)?.map(|v| VoucherId(uint(v))),
                    campaign: row.get::<_, Option<u32>>(5)?.map(CampaignId),
                    discount_minor: uint(row.get(6)?),
                })
            })?
            .collect()
        })
    }

    fn has_visited(&self, member: MemberId) -> Result<bool, LedgerError> {
        self.read(|c| {
            c.prepare_cached("SELECT EXISTS (SELECT 1 FROM visits WHERE member = ?1)")?
                .query_row([int(member.0)], |r| r.get(0))
        })
    }

    fn has_bought(&self, member: MemberId) -> Result<bool, LedgerError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM visits
                                WHERE member = ?1 AND (spend > 0 OR voucher IS NOT NULL))",
            )?
            .query_row([int(member.0)], |r| r.get(0))
        })
    }

    fn check_in(&self, request: &CheckInRequest<'_>) -> Result<CheckInOutcome, LedgerError> {
        check_instant(request.at)?;
        check_request(self.merchant, request)?;
        self.write(|tx| {
            let outcome = members::check_in(tx, self.merchant, request)?;
            if let CheckInOutcome::Visited {
                member,
                enrolled,
                visit,
            } = &outcome
            {
                self.journaled(tx, || JournalEntry::CheckedIn {
                    visit: visit.clone(),
                    enrolled: enrolled.then(|| member.clone()),
                })?;
            }
            Ok(outcome)
        })
    }

    fn member(&self, id: MemberId) -> Result<Option<Member>, LedgerError> {
        let found = self.read(|c| members::find_member(c, self.merchant, "member", int(id.0)))?;
        Ok(found.map(|(_, m)| m))
    }

    fn member_by_card(&self, card: &CardNumber) -> Result<Option<Member>, LedgerError> {
        let found =
            self.read(|c| members::find_member(c, self.merchant, "card", int(card.serial())))?;
        Ok(found.map(|(_, m)| m))
    }

    fn members(&self) -> Result<Vec<Member>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM members ORDER BY enrolled_at, rowid",
                members::MEMBER_COLUMNS
            ))?
            .query_map([], |row| {
                members::member_of(self.merchant, row).map(|(_, m)| m)
            })?
            .collect()
        })
    }
}

fn account_check(member: MemberId, account: Account) -> i64 {
    RowCheck::new("accounts")
        .ints(&[
            Some(int(member.0)),
            Some(int(account.points)),
            Some(int(account.balance_minor)),
        ])
        .finish()
}

/// An account row (`member, points, balance, row_check`), checked.
pub(super) fn account_of(row: &Row<'_>) -> rusqlite::Result<(MemberId, Account)> {
    let member = MemberId(uint(row.get(0)?));
    let account = Account {
        points: uint(row.get(1)?),
        balance_minor: uint(row.get(2)?),
    };
    row_check::verify(
        "accounts",
        member,
        row.get(3)?,
        account_check(member, account),
    )?;
    Ok((member, account))
}

fn load_account(c: &Connection, member: MemberId) -> rusqlite::Result<Account> {
    Ok(c.prepare_cached(
        "SELECT member, points, balance, row_check FROM accounts WHERE member = ?1",
    )?
    .query_row([int(member.0)], account_of)
    .optional()?
    .map(|(_, account)| account)
    .unwrap_or_default())
}

/// Computes the check of every row written before schema version 3 added them.
pub(super) fn fill_row_checks(tx: &Connection) -> rusqlite::Result<()> {
    let vouchers: Vec<[Option<i64>; 11]> = tx
        .prepare(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers"))?
        .query_map([], voucher_columns_of)?
        .collect::<rusqlite::Result<_>>()?;
    for c in &vouchers {
        tx.execute(
            "UPDATE vouchers SET row_check = ?1 WHERE voucher = ?2",
            [voucher_check(c), c[0].unwrap_or_default()],
        )?;
    }
    let receipts: Vec<(i64, ReceiptRow)> = tx
        .prepare(&format!("SELECT {RECEIPT_COLUMNS} FROM receipts"))?
        .query_map([], ReceiptRow::read)?
        .collect::<rusqlite::Result<_>>()?;
    for (id, row) in &receipts {
        tx.execute(
            "UPDATE receipts SET row_check = ?1 WHERE id = ?2",
            [row.check(), *id],
        )?;
    }
    let accounts: Vec<(MemberId, Account)> = tx
        .prepare("SELECT member, points, balance FROM accounts")?
        .query_map([], |row| {
            Ok((
                MemberId(uint(row.get(0)?)),
                Account {
                    points: uint(row.get(1)?),
                    balance_minor: uint(row.get(2)?),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (member, account) in accounts {
        tx.execute(
            "UPDATE accounts SET row_check = ?1 WHERE member = ?2",
            [account_check(member, account), int(member.0)],
        )?;
    }
    Ok(())
}
