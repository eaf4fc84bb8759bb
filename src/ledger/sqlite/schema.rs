//! The ledger file's schema, its versions and the checks made before anything is written.
//!
//! A ledger file is marked with SQLite's `application_id` (`O2OK`) and its schema version in
//! `user_version`. Opening a file that is not a database, or is another application's
//! database, fails before any write. A file of an older schema is migrated in one transaction;
//! a file of a newer schema is refused.

use super::sqlite_error;
use crate::ids::MerchantId;
use crate::ledger::LedgerError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// `O2OK` in ASCII.
pub(super) const APPLICATION_ID: i64 = 0x4F32_4F4B;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: u32 = 1;

/// `MIGRATIONS[n]` takes a file from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per voucher the ledger has seen. u64 ids and amounts are stored as the i64 with the
-- same bits; times are Unix microseconds; valid_until is minutes since 2000-01-01 store-local.
CREATE TABLE vouchers (
    voucher             INTEGER PRIMARY KEY,
    has_terms           INTEGER NOT NULL,
    max_uses            INTEGER,
    max_uses_per_member INTEGER,
    face_value          INTEGER,
    valid_until         INTEGER,
    campaign            INTEGER,
    uses                INTEGER NOT NULL CHECK (uses >= 0),
    value_spent         INTEGER NOT NULL,
    issued_at           INTEGER,
    revoked_at          INTEGER
);

CREATE TABLE receipts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    voucher         INTEGER NOT NULL REFERENCES vouchers (voucher),
    store           INTEGER NOT NULL,
    member          INTEGER,
    at              INTEGER NOT NULL,
    spend           INTEGER NOT NULL,
    amount          INTEGER NOT NULL,
    voided_at       INTEGER
);
CREATE INDEX receipts_by_voucher_member ON receipts (voucher, member);

CREATE TABLE accounts (
    member  INTEGER PRIMARY KEY,
    points  INTEGER NOT NULL,
    balance INTEGER NOT NULL
);

CREATE TABLE movements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    member          INTEGER NOT NULL,
    kind            INTEGER NOT NULL,
    amount          INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    points_after    INTEGER NOT NULL,
    balance_after   INTEGER NOT NULL
);
CREATE INDEX movements_by_member ON movements (member);

CREATE TABLE visits (
    id       INTEGER PRIMARY KEY,
    member   INTEGER,
    store    INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    spend    INTEGER NOT NULL,
    voucher  INTEGER,
    campaign INTEGER,
    discount INTEGER NOT NULL
);
CREATE INDEX visits_by_member ON visits (member);
"#];

/// What the file's header says it is.
fn identify(conn: &Connection) -> rusqlite::Result<(i64, u32, i64)> {
    let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok((app, version, objects))
}

/// Makes `conn` an o2okit ledger of `merchant`: creates the schema in an empty file, migrates
/// an older one, refuses anything else without writing to it.
pub(super) fn prepare(
    conn: &mut Connection,
    path: &str,
    merchant: MerchantId,
) -> Result<(), LedgerError> {
    let not_a_database = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            LedgerError::NotADatabase {
                path: path.to_owned(),
                detail: f.to_string(),
            }
        }
        other => sqlite_error(other),
    };
    // Read-only look first: a foreign or damaged file is refused before any lock for writing.
    let (app, version, objects) = identify(conn).map_err(not_a_database)?;
    check_identity(app, version, objects, path)?;
    if app != APPLICATION_ID || version < SCHEMA_VERSION {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        // Another process may have created or migrated the file while we waited for the lock.
        let (app, version, objects) = identify(&tx).map_err(not_a_database)?;
        check_identity(app, version, objects, path)?;
        let start = if app == APPLICATION_ID { version } else { 0 };
        for (n, migration) in MIGRATIONS.iter().enumerate().skip(start as usize) {
            tx.execute_batch(migration).map_err(sqlite_error)?;
            tx.pragma_update(None, "user_version", n as u32 + 1)
                .map_err(sqlite_error)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sqlite_error)?;
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('merchant', ?1)",
            [i64::from(merchant.0)],
        )
        .map_err(sqlite_error)?;
        tx.commit().map_err(sqlite_error)?;
    }
    // WAL lets readers run beside the one writer; FULL syncs the WAL on every commit, so an
    // acknowledged redemption survives a power cut, not only a crash.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sqlite_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Storage(format!(
            "{path}: could not switch to WAL journal (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite_error)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite_error)?;
    let owner: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'merchant'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite_error)?;
    match owner {
        Some(id) if id == i64::from(merchant.0) => Ok(()),
        Some(id) => Err(LedgerError::WrongMerchant {
            expected: MerchantId(id as u32),
            found: merchant,
        }),
        None => Err(LedgerError::Corrupt(format!(
            "{path}: ledger has no merchant"
        ))),
    }
}

fn check_identity(app: i64, version: u32, objects: i64, path: &str) -> Result<(), LedgerError> {
    let empty = app == 0 && version == 0 && objects == 0;
    if !empty && app != APPLICATION_ID {
        return Err(LedgerError::ForeignDatabase {
            path: path.to_owned(),
        });
    }
    if app == APPLICATION_ID && version > SCHEMA_VERSION {
        return Err(LedgerError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
