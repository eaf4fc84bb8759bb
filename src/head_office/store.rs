//! The head office's sync file: schema, creation and opening.

use crate::ledger::sqlite_error;
use crate::ledger::{LedgerError, StorageError};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;

/// `O2OH` in ASCII: the sync file's SQLite `application_id`.
const APPLICATION_ID: i64 = 0x4F32_4F48;
const SCHEMA_VERSION: i64 = 1;

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
    let conn = Connection::open_with_flags(
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
        Some(m) if m == i64::from(merchant) => Ok(conn),
        Some(m) => Err(LedgerError::WrongMerchant {
            expected: crate::ids::MerchantId(m as u32),
            found: crate::ids::MerchantId(merchant),
        }),
        None => Err(LedgerError::Corrupt(format!("{shown}: no merchant"))),
    }
}
