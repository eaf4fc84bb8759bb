//! The ledger file's schema, its versions and the checks made before anything is written.
//!
//! A ledger file is marked with SQLite's `application_id` (`O2OK`) and its schema version in
//! `user_version`. Opening a file that is not a database, or is another application's
//! database, fails before any write. A file of an older schema is migrated in one transaction;
//! a file of a newer schema is refused.

use super::sqlite_error;
use crate::ids::MerchantId;
use crate::ledger::{LedgerError, StorageError};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// `O2OK` in ASCII.
pub(super) const APPLICATION_ID: i64 = 0x4F32_4F4B;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: u32 = 5;

/// `MIGRATIONS[n]` takes a file from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    r#"
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
"#,
    r#"
-- Version 2: members and check-ins. A member is stored under the keyed hash of their account
-- identity (never the phone number itself); card is the card number's 15-digit serial.
CREATE TABLE members (
    member         INTEGER PRIMARY KEY,
    pseudonym      BLOB NOT NULL UNIQUE CHECK (length(pseudonym) = 32),
    card           INTEGER NOT NULL UNIQUE,
    enrolled_store INTEGER NOT NULL,
    referred_by    INTEGER,
    enrolled_at    INTEGER NOT NULL,
    welcome_voucher INTEGER
);
CREATE INDEX members_by_referrer ON members (referred_by);

-- At most one check-in per member, store and clock hour (Unix seconds / 3600), with the
-- rotating code's step (NULL for a printed code) to tell a replayed code from a new one.
CREATE TABLE check_ins (
    member INTEGER NOT NULL,
    store  INTEGER NOT NULL,
    hour   INTEGER NOT NULL,
    step   INTEGER,
    at     INTEGER NOT NULL,
    PRIMARY KEY (member, store, hour)
) WITHOUT ROWID;
"#,
    r#"
-- Version 3: a check of its own content in every row holding voucher state, a receipt or a
-- balance (see row_check.rs); filled for existing rows by the migration.
ALTER TABLE vouchers ADD COLUMN row_check INTEGER;
ALTER TABLE receipts ADD COLUMN row_check INTEGER;
ALTER TABLE accounts ADD COLUMN row_check INTEGER;
"#,
    r#"
-- Version 4: a till's journal (see src/journal): one row per decision written while the
-- ledger has a journal key, gap-free from 1, with its chained MAC; the deny list the till
-- built from the head office's deltas. The sync state sits in meta: journal_till,
-- acknowledged_through, last_sync_at.
CREATE TABLE journal (
    seq     INTEGER PRIMARY KEY CHECK (seq >= 1),
    payload BLOB NOT NULL,
    mac     BLOB NOT NULL CHECK (length(mac) = 32)
);
CREATE TABLE deny_list (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    list BLOB NOT NULL
);
"#,
    r#"
-- Version 5: personal vouchers as issued (what campaigns' frequency caps count; vouchers
-- recorded before this version are not in it) and members' marketing opt-outs.
CREATE TABLE offers (
    voucher   INTEGER PRIMARY KEY,
    member    INTEGER NOT NULL,
    campaign  INTEGER,
    issued_at INTEGER NOT NULL
);
CREATE INDEX offers_by_time ON offers (issued_at);
CREATE TABLE marketing_opt_outs (
    member    INTEGER PRIMARY KEY,
    opted_out INTEGER NOT NULL CHECK (opted_out IN (0, 1)),
    at        INTEGER NOT NULL
);
"#,
];

/// The version whose migration adds the row checks (and fills them in Rust).
const ROW_CHECKS: usize = 3;

/// What the file's header says it is: application id, schema version, schema objects.
fn identify(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok((app, version, objects))
}

fn not_a_database(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| match e {
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
    }
}

/// Checks that an existing file is an o2okit ledger this build reads, through an immutable
/// read-only connection (no lock, no journal, no write of any kind).
pub(super) fn identify_existing(path: &Path, shown: &str) -> Result<(), LedgerError> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(LedgerError::NotADatabase {
            path: shown.to_owned(),
            detail: "empty file (a ledger is created only where no file exists)".into(),
        });
    }
    let uri = format!("{}?immutable=1", file_uri(path));
    let conn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| LedgerError::Storage(StorageError::caused_by(shown, e)))?;
    let (app, version, objects) = identify(&conn).map_err(not_a_database(shown))?;
    if app != APPLICATION_ID {
        return Err(LedgerError::ForeignDatabase {
            path: shown.to_owned(),
        });
    }
    check_identity(app, version, objects, shown)
}

/// A `file:` URI for `path`: every byte outside the unreserved ASCII set percent-encoded, so
/// a path such as `门店/收银台.ledger` names the same file (SQLite decodes the bytes back).
pub(super) fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// Makes the empty database behind `conn` an o2okit ledger of `merchant`.
pub(super) fn create(
    conn: &mut Connection,
    path: &str,
    merchant: MerchantId,
) -> Result<(), LedgerError> {
    let (app, version, objects) = identify(conn).map_err(not_a_database(path))?;
    if (app, version, objects) != (0, 0, 0) {
        return Err(LedgerError::AlreadyExists {
            path: path.to_owned(),
        });
    }
    migrate(conn, path, merchant)?;
    settings(conn, path)
}

/// Prepares the existing ledger behind `conn` for use: migrates an older schema, refuses
/// anything that is not a ledger of `merchant` without writing to it.
pub(super) fn open(
    conn: &mut Connection,
    path: &str,
    merchant: MerchantId,
) -> Result<(), LedgerError> {
    // The file was identified read-only before this connection opened it; look again in case
    // it changed meanwhile.
    let (app, version, objects) = identify(conn).map_err(not_a_database(path))?;
    check_identity(app, version, objects, path)?;
    if app != APPLICATION_ID {
        return Err(LedgerError::NotADatabase {
            path: path.to_owned(),
            detail: "an empty database, not a ledger (a ledger is made by create)".into(),
        });
    }
    if version < i64::from(SCHEMA_VERSION) {
        migrate(conn, path, merchant)?;
    }
    settings(conn, path)?;
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

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction.
fn migrate(conn: &mut Connection, path: &str, merchant: MerchantId) -> Result<(), LedgerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    // Another process may have migrated the file while we waited for the lock.
    let (app, version, objects) = identify(&tx).map_err(not_a_database(path))?;
    check_identity(app, version, objects, path)?;
    let start = if app == APPLICATION_ID {
        version as usize
    } else {
        0
    };
    for (n, migration) in MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(migration).map_err(sqlite_error)?;
        if n + 1 == ROW_CHECKS {
            super::fill_row_checks(&tx).map_err(sqlite_error)?;
        }
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
    tx.commit().map_err(sqlite_error)
}

/// The connection settings every ledger runs with.
fn settings(conn: &Connection, path: &str) -> Result<(), LedgerError> {
    // WAL lets readers run beside the one writer; FULL syncs the WAL on every commit, so an
    // acknowledged redemption survives a power cut, not only a crash.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sqlite_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Storage(StorageError::new(format!(
            "{path}: could not switch to WAL journal (got {mode})"
        ))));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite_error)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite_error)?;
    // SQLite checks each cell's size as it reads a page: damage found in use, not only at open.
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(sqlite_error)
}

fn check_identity(app: i64, version: i64, objects: i64, path: &str) -> Result<(), LedgerError> {
    let empty = app == 0 && version == 0 && objects == 0;
    if !empty && app != APPLICATION_ID {
        return Err(LedgerError::ForeignDatabase {
            path: path.to_owned(),
        });
    }
    if app == APPLICATION_ID && !(0..=i64::from(SCHEMA_VERSION)).contains(&version) {
        return Err(LedgerError::SchemaTooNew {
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
