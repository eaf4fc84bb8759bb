//! The head office's sync state in a SQLite file: schema, creation, opening, and the
//! statements of [`SyncTx`].

use super::reconcile::ConflictReceipt;
use super::sync_tx::{DenyIds, SyncTx};
use crate::ids::{StoreId, TillId, VoucherId};
use crate::journal::RedeemedTerms;
use crate::ledger::sqlite_error;
use crate::ledger::{LedgerError, Receipt, ReceiptId, StorageError};
use chrono::DateTime;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::Path;

/// `O2OH` in ASCII: the sync file's SQLite `application_id`.
const APPLICATION_ID: i64 = 0x4F32_4F48;
const SCHEMA_VERSION: i64 = 2;

pub(super) const SCHEMA: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- Every journal record of every till, exactly once; previous is the MAC it chains from.
CREATE TABLE records (
    till     INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    previous BLOB NOT NULL,
    mac      BLOB NOT NULL,
    payload  BLOB NOT NULL,
    PRIMARY KEY (till, seq)
) WITHOUT ROWID;

-- How far each till's journal is held without a gap.
CREATE TABLE tills (
    till    INTEGER PRIMARY KEY,
    through INTEGER NOT NULL
);

-- Every redemption a till reported, with the voucher terms it saw.
CREATE TABLE redemptions (
    till            INTEGER NOT NULL,
    receipt         INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    voucher         INTEGER NOT NULL,
    store           INTEGER NOT NULL,
    member          INTEGER,
    at              INTEGER NOT NULL,
    spend           INTEGER NOT NULL,
    amount          INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    max_uses        INTEGER NOT NULL,
    stored_value    INTEGER,
    campaign        INTEGER,
    voided_at       INTEGER,
    PRIMARY KEY (till, receipt)
);
CREATE INDEX redemptions_by_voucher ON redemptions (voucher);

-- Voids as reported, kept even before their redemption arrives (batches out of order): a
-- redemption stored later takes its voided_at from here.
CREATE TABLE voids (
    till    INTEGER NOT NULL,
    receipt INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (till, receipt)
) WITHOUT ROWID;

CREATE TABLE revocations (
    voucher INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL
);

-- The deny list's history: a voucher is on the list (as reason 1 revoked, 2 exhausted) from
-- version added until the version removed (a void restored a use).
CREATE TABLE deny (
    voucher INTEGER NOT NULL,
    reason  INTEGER NOT NULL,
    added   INTEGER NOT NULL,
    removed INTEGER
);
CREATE INDEX deny_by_voucher ON deny (voucher);
CREATE INDEX deny_by_added ON deny (added);
CREATE INDEX deny_by_removed ON deny (removed) WHERE removed IS NOT NULL;
"#;

/// Version 2: members' marketing choices made at tills (the latest wins).
const VERSION_2: &str = r#"
CREATE TABLE marketing_opt_outs (
    member    INTEGER PRIMARY KEY,
    opted_out INTEGER NOT NULL CHECK (opted_out IN (0, 1)),
    at        INTEGER NOT NULL
);
"#;

fn storage(path: &Path) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| LedgerError::Storage(StorageError::caused_by(path.display().to_string(), e))
}

fn settings(conn: &Connection) -> Result<(), LedgerError> {
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite_error)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite_error)
}

/// Creates a new sync file of `merchant` at `path` (none may exist).
pub(super) fn create(path: &Path, merchant: u32) -> Result<Connection, LedgerError> {
    if path.symlink_metadata().is_ok() {
        return Err(LedgerError::AlreadyExists {
            path: path.display().to_string(),
        });
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(storage(path))?;
    settings(&conn)?;
    let tx = conn.transaction().map_err(sqlite_error)?;
    tx.execute_batch(SCHEMA).map_err(sqlite_error)?;
    tx.execute_batch(VERSION_2).map_err(sqlite_error)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('merchant', ?1), ('deny_version', 0)",
        [i64::from(merchant)],
    )
    .map_err(sqlite_error)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sqlite_error)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sqlite_error)?;
    tx.commit().map_err(sqlite_error)?;
    Ok(conn)
}

/// Opens the existing sync file of `merchant` at `path`, refusing anything else unwritten.
pub(super) fn open(path: &Path, merchant: u32) -> Result<Connection, LedgerError> {
    let shown = path.display().to_string();
    if path.symlink_metadata().is_err() {
        return Err(LedgerError::NotFound { path: shown });
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(storage(path))?;
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| LedgerError::NotADatabase {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    if app != APPLICATION_ID {
        return Err(LedgerError::ForeignDatabase { path: shown });
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite_error)?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::SchemaTooNew {
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION as u32,
        });
    }
    settings(&conn)?;
    let owner: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'merchant'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite_error)?;
    match owner {
        Some(m) if m == i64::from(merchant) => {}
        Some(m) => {
            return Err(LedgerError::WrongMerchant {
                expected: crate::ids::MerchantId(m as u32),
                found: crate::ids::MerchantId(merchant),
            });
        }
        None => return Err(LedgerError::Corrupt(format!("{shown}: no merchant"))),
    }
    if version < SCHEMA_VERSION {
        // Write-locked, and the version read again under the lock: of two processes opening
        // an old file at once, one migrates and the other finds it done.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite_error)?;
        if version < 2 {
            tx.execute_batch(VERSION_2).map_err(sqlite_error)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite_error)?;
        tx.commit().map_err(sqlite_error)?;
    }
    Ok(conn)
}

/// The statements of one transaction on the SQLite sync file.
pub(super) struct SqliteSync<'a>(pub(super) &'a Connection);

fn int(v: u64) -> i64 {
    v as i64
}

fn uint(v: i64) -> u64 {
    v as u64
}

impl SqliteSync<'_> {
    fn opt_blob(&self, sql: &str, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(params![till.0, int(seq)], |r| r.get(0))
                    .optional()
            })
            .map_err(sqlite_error)
    }

    fn run(&self, sql: &str, values: impl rusqlite::Params) -> Result<(), LedgerError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(values))
            .map(drop)
            .map_err(sqlite_error)
    }

    fn ids(&self, sql: &str, values: impl rusqlite::Params) -> Result<Vec<u64>, LedgerError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map(values, |r| r.get::<_, i64>(0).map(uint))?
                    .collect()
            })
            .map_err(sqlite_error)
    }

    fn one<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        values: impl rusqlite::Params,
    ) -> Result<T, LedgerError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(values, |r| r.get(0)))
            .map_err(sqlite_error)
    }
}

impl SyncTx for SqliteSync<'_> {
    type Error = LedgerError;

    fn record_mac(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        self.opt_blob(
            "SELECT mac FROM records WHERE till = ?1 AND seq = ?2",
            till,
            seq,
        )
    }

    fn record_previous(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        self.opt_blob(
            "SELECT previous FROM records WHERE till = ?1 AND seq = ?2",
            till,
            seq,
        )
    }

    fn insert_record(
        &mut self,
        till: TillId,
        seq: u64,
        previous: &[u8],
        mac: &[u8],
        payload: &[u8],
    ) -> Result<(), LedgerError> {
        self.run(
            "INSERT INTO records (till, seq, previous, mac, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![till.0, int(seq), previous, mac, payload],
        )
    }

    fn insert_redemption(
        &mut self,
        till: TillId,
        seq: u64,
        receipt: &Receipt,
        terms: &RedeemedTerms,
    ) -> Result<(), LedgerError> {
        self.run(
            "INSERT INTO redemptions (till, receipt, seq, voucher, store, member, at, spend,
                 amount, idempotency_key, max_uses, stored_value, campaign, voided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                     (SELECT at FROM voids WHERE till = ?1 AND receipt = ?2))",
            params![
                till.0,
                int(receipt.id.0),
                int(seq),
                int(receipt.voucher.0),
                receipt.store.0,
                receipt.member.map(|m| int(m.0)),
                receipt.at.timestamp_micros(),
                int(receipt.spend_minor),
                int(receipt.amount_minor),
                receipt.idempotency_key.as_str(),
                terms.max_uses,
                terms.stored_value_minor.map(int),
                terms.campaign.map(|c| c.0),
            ],
        )
    }

    fn void_redemption(
        &mut self,
        till: TillId,
        receipt: ReceiptId,
        at: i64,
    ) -> Result<(), LedgerError> {
        self.run(
            "INSERT OR IGNORE INTO voids (till, receipt, at) VALUES (?1, ?2, ?3)",
            params![till.0, int(receipt.0), at],
        )?;
        self.run(
            "UPDATE redemptions SET voided_at = ?1 WHERE till = ?2 AND receipt = ?3",
            params![at, till.0, int(receipt.0)],
        )
    }

    fn insert_revocation(&mut self, voucher: VoucherId, at: i64) -> Result<(), LedgerError> {
        self.run(
            "INSERT OR IGNORE INTO revocations (voucher, at) VALUES (?1, ?2)",
            params![int(voucher.0), at],
        )
    }

    fn record_marketing_choice(
        &mut self,
        member: u64,
        opted_out: bool,
        at: i64,
    ) -> Result<(), LedgerError> {
        self.run(
            "INSERT INTO marketing_opt_outs (member, opted_out, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (member) DO UPDATE SET opted_out = excluded.opted_out, at = excluded.at
             WHERE excluded.at > marketing_opt_outs.at
                 OR (excluded.at = marketing_opt_outs.at AND excluded.opted_out = 1)",
            params![int(member), opted_out, at],
        )
    }

    fn marketing_choices(&mut self) -> Result<Vec<(u64, bool, i64)>, LedgerError> {
        self.0
            .prepare_cached("SELECT member, opted_out, at FROM marketing_opt_outs")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(sqlite_error)
    }

    fn lock_till(&mut self, till: TillId) -> Result<u64, LedgerError> {
        // The transaction is IMMEDIATE: the whole file is locked already.
        self.through(till)
    }

    fn set_through(&mut self, till: TillId, through: u64) -> Result<(), LedgerError> {
        self.run(
            "INSERT INTO tills (till, through) VALUES (?1, ?2)
             ON CONFLICT (till) DO UPDATE SET through = excluded.through",
            params![till.0, int(through)],
        )
    }

    fn through(&mut self, till: TillId) -> Result<u64, LedgerError> {
        Ok(self
            .ids("SELECT through FROM tills WHERE till = ?1", [till.0])?
            .first()
            .copied()
            .unwrap_or(0))
    }

    fn seqs_after(&mut self, till: TillId, after: u64) -> Result<Vec<u64>, LedgerError> {
        self.ids(
            "SELECT seq FROM records WHERE till = ?1 AND seq > ?2 ORDER BY seq",
            params![till.0, int(after)],
        )
    }

    fn record_count(&mut self, till: TillId) -> Result<u64, LedgerError> {
        self.one::<i64>("SELECT count(*) FROM records WHERE till = ?1", [till.0])
            .map(uint)
    }

    fn payloads(&mut self, till: TillId) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
        self.0
            .prepare_cached("SELECT seq, payload FROM records WHERE till = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([till.0], |r| Ok((uint(r.get(0)?), r.get(1)?)))?
                    .collect()
            })
            .map_err(sqlite_error)
    }

    fn lock_deny_version(&mut self) -> Result<u64, LedgerError> {
        self.deny_version()
    }

    fn deny_version(&mut self) -> Result<u64, LedgerError> {
        self.one::<i64>("SELECT value FROM meta WHERE key = 'deny_version'", [])
            .map(uint)
    }

    fn set_deny_version(&mut self, version: u64) -> Result<(), LedgerError> {
        self.run(
            "UPDATE meta SET value = ?1 WHERE key = 'deny_version'",
            [int(version)],
        )
    }

    fn listed_reason(&mut self, voucher: u64) -> Result<Option<i64>, LedgerError> {
        self.0
            .prepare_cached("SELECT reason FROM deny WHERE voucher = ?1 AND removed IS NULL")
            .and_then(|mut s| s.query_row([int(voucher)], |r| r.get(0)).optional())
            .map_err(sqlite_error)
    }

    fn voucher_state(&mut self, voucher: u64) -> Result<(bool, bool), LedgerError> {
        let revoked = self.one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM revocations WHERE voucher = ?1)",
            [int(voucher)],
        )?;
        let exhausted = self
            .one::<Option<bool>>(
                "SELECT count(*) >= max(max_uses)
                        OR coalesce(sum(amount) >= max(stored_value), 0)
                 FROM redemptions WHERE voucher = ?1 AND voided_at IS NULL",
                [int(voucher)],
            )?
            .unwrap_or(false);
        Ok((revoked, exhausted))
    }

    fn relist(
        &mut self,
        voucher: u64,
        reason: Option<i64>,
        version: u64,
    ) -> Result<(), LedgerError> {
        self.run(
            "UPDATE deny SET removed = ?1 WHERE voucher = ?2 AND removed IS NULL",
            params![int(version), int(voucher)],
        )?;
        match reason {
            Some(reason) => self.run(
                "INSERT INTO deny (voucher, reason, added) VALUES (?1, ?2, ?3)",
                params![int(voucher), reason, int(version)],
            ),
            None => Ok(()),
        }
    }

    fn deny_ids(&mut self, which: DenyIds, v: u64, now: u64) -> Result<Vec<u64>, LedgerError> {
        // ?1 is v, ?2 now; a row is on the list at version x when added <= x and it was not
        // removed by x.
        let sql = match which {
            DenyIds::RevokedAt => {
                "SELECT voucher FROM deny
                 WHERE reason = 1 AND added <= ?1 AND (removed IS NULL OR removed > ?1)"
            }
            DenyIds::ExhaustedAt => {
                "SELECT voucher FROM deny
                 WHERE reason = 2 AND added <= ?1 AND (removed IS NULL OR removed > ?1)"
            }
            DenyIds::RevokedSince => {
                "SELECT voucher FROM deny
                 WHERE reason = 1 AND added > ?1 AND added <= ?2
                   AND (removed IS NULL OR removed > ?2)"
            }
            DenyIds::ExhaustedSince => {
                "SELECT voucher FROM deny d
                 WHERE reason = 2 AND added > ?1 AND added <= ?2
                   AND (removed IS NULL OR removed > ?2)
                   AND NOT EXISTS (SELECT 1 FROM deny e WHERE e.voucher = d.voucher
                                   AND e.reason = 2 AND e.added <= ?1
                                   AND (e.removed IS NULL OR e.removed > ?1))"
            }
            DenyIds::RestoredSince => {
                "SELECT voucher FROM deny e
                 WHERE reason = 2 AND added <= ?1 AND removed > ?1
                   AND NOT EXISTS (SELECT 1 FROM deny d WHERE d.voucher = e.voucher
                                   AND d.reason = 2 AND d.added <= ?2
                                   AND (d.removed IS NULL OR d.removed > ?2))"
            }
        };
        match which {
            DenyIds::RevokedAt | DenyIds::ExhaustedAt => self.ids(sql, [int(v)]),
            _ => self.ids(sql, [int(v), int(now)]),
        }
    }

    fn over_spent(&mut self) -> Result<Vec<(u64, u64, u64)>, LedgerError> {
        self.0
            .prepare_cached(
                "SELECT voucher,
                        max(count(*) - max(max_uses), 0),
                        max(coalesce(sum(amount) - max(stored_value), 0), 0)
                 FROM redemptions WHERE voided_at IS NULL
                 GROUP BY voucher
                 HAVING count(*) > max(max_uses) OR coalesce(sum(amount) > max(stored_value), 0)",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((uint(r.get(0)?), uint(r.get(1)?), uint(r.get(2)?)))
                })?
                .collect()
            })
            .map_err(sqlite_error)
    }

    fn receipts_of(&mut self, voucher: u64) -> Result<Vec<ConflictReceipt>, LedgerError> {
        self.0
            .prepare_cached(
                "SELECT till, receipt, store, at, amount, idempotency_key FROM redemptions
                 WHERE voucher = ?1 AND voided_at IS NULL ORDER BY at, till, receipt",
            )
            .and_then(|mut s| {
                s.query_map([int(voucher)], |r| {
                    Ok(ConflictReceipt {
                        till: TillId(r.get(0)?),
                        receipt: ReceiptId(uint(r.get(1)?)),
                        store: StoreId(r.get(2)?),
                        at: DateTime::from_timestamp_micros(r.get(3)?).unwrap_or_default(),
                        amount_minor: uint(r.get(4)?),
                        idempotency_key: r.get(5)?,
                    })
                })?
                .collect()
            })
            .map_err(sqlite_error)
    }

    fn uses_of(&mut self, voucher: u64) -> Result<(u64, u64), LedgerError> {
        self.0
            .prepare_cached(
                "SELECT count(*), coalesce(sum(amount), 0) FROM redemptions
                 WHERE voucher = ?1 AND voided_at IS NULL",
            )
            .and_then(|mut s| {
                s.query_row([int(voucher)], |r| Ok((uint(r.get(0)?), uint(r.get(1)?))))
            })
            .map_err(sqlite_error)
    }
}
