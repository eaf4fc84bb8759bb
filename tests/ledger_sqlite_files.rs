//! The SQLite ledger's file handling: durable across reopen, and a corrupt, foreign, newer or
//! other merchant's file refused with a clear error and left byte-for-byte untouched.
#![cfg(feature = "sqlite")]

mod common;

use common::*;
use o2okit::*;
use std::path::Path;

fn open(path: &Path) -> Result<SqliteLedger, LedgerError> {
    SqliteLedger::open(path, MERCHANT)
}

fn create(path: &Path) -> Result<SqliteLedger, LedgerError> {
    SqliteLedger::create(path, MERCHANT)
}

#[test]
fn redemptions_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let a = accept(&amount_off(1, 500), None, 10_000);
    let receipt = {
        let ledger = create(&path).unwrap();
        redeem(&ledger, &a, "k1").unwrap().0
    };
    let ledger = open(&path).unwrap();
    assert_eq!(ledger.receipt(receipt.id).unwrap(), Some(receipt.clone()));
    assert_eq!(redeem(&ledger, &a, "k2"), Err(Rejection::AlreadyUsed));
    assert_eq!(redeem(&ledger, &a, "k1").unwrap(), (receipt, true));
}

fn assert_refused_untouched(bytes: &[u8], expect: impl Fn(&LedgerError) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, bytes).unwrap();
    let err = open(&path).err().expect("opening must fail");
    assert!(expect(&err), "unexpected error: {err}");
    assert!(
        err.to_string().contains("ledger.db") || matches!(err, LedgerError::SchemaTooNew { .. })
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file was modified");
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ledger.db"], "side files were created");
}

#[test]
fn garbage_is_not_a_database() {
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_refused_untouched(&garbage, |e| matches!(e, LedgerError::NotADatabase { .. }));
    let text = b"this is a CSV export, not a ledger\n1,2,3\n".repeat(100);
    assert_refused_untouched(&text, |e| matches!(e, LedgerError::NotADatabase { .. }));
}

/// A SQLite file made by another program, as bytes.
fn sqlite_file(sql: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

#[test]
fn another_applications_database_is_foreign() {
    let foreign = sqlite_file(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER); INSERT INTO orders VALUES (1, 995);",
    );
    assert_refused_untouched(&foreign, |e| {
        matches!(e, LedgerError::ForeignDatabase { .. })
    });
}

#[test]
fn a_newer_schema_is_refused() {
    let newer = sqlite_file(
        "PRAGMA application_id = 1328697163; PRAGMA user_version = 99; CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER);",
    );
    assert_refused_untouched(&newer, |e| {
        *e == LedgerError::SchemaTooNew {
            found: 99,
            supported: 5,
        }
    });
}

#[test]
fn another_merchants_ledger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(create(&path).unwrap());
    assert_eq!(
        SqliteLedger::open(&path, MerchantId(5)).err(),
        Some(LedgerError::WrongMerchant {
            expected: MERCHANT,
            found: MerchantId(5)
        })
    );
    assert!(open(&path).is_ok());
}

#[test]
fn an_existing_empty_file_is_refused_not_made_a_fresh_ledger() {
    // A ledger truncated by a failed restore must not quietly become a new, empty ledger in
    // which every voucher is unused again.
    assert_refused_untouched(b"", |e| matches!(e, LedgerError::NotADatabase { .. }));
}

#[test]
fn a_foreign_database_in_wal_mode_is_not_checkpointed_into() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let snapshot = |p: &Path| std::fs::read(p).unwrap_or_default();
    let wal = dir.path().join("ledger.db-wal");
    let (main_before, wal_before) = (snapshot(&path), snapshot(&wal));
    assert!(matches!(
        open(&path),
        Err(LedgerError::ForeignDatabase { .. })
    ));
    assert_eq!(snapshot(&path), main_before);
    assert_eq!(snapshot(&wal), wal_before);
    drop(other);
}

#[test]
fn create_makes_a_ledger_and_open_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.ledger");
    assert!(matches!(open(&path), Err(LedgerError::NotFound { .. })));
    assert!(!path.exists(), "open created a file");
    let ledger = create(&path).unwrap();
    assert!(ledger.visits().unwrap().is_empty());
    assert!(matches!(
        create(&path),
        Err(LedgerError::AlreadyExists { .. })
    ));
    assert!(open(&path).is_ok());
}

#[test]
fn a_lock_held_past_the_busy_timeout_is_a_busy_error_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(create(&path).unwrap());
    let ledger = SqliteLedger::open_with_busy_timeout(
        &path,
        MERCHANT,
        std::time::Duration::from_millis(100),
    )
    .unwrap();
    let a = accept(&amount_off(1, 500), None, 10_000);
    let other_process = rusqlite::Connection::open(&path).unwrap();
    other_process.execute_batch("BEGIN IMMEDIATE").unwrap();
    let key = idem("k1");
    let request = RedeemRequest::new(&a, &key);
    assert_eq!(ledger.redeem(&request), Err(LedgerError::Busy));
    other_process.execute_batch("COMMIT").unwrap();
    assert_eq!(ledger.record(VoucherId(1)).unwrap(), None);
    assert!(ledger.redeem(&request).unwrap().receipt().is_some());
}

#[test]
fn a_version_1_ledger_is_migrated_keeping_its_redemptions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let a = accept(&amount_off(1, 500), None, 10_000);
    let receipt = {
        let ledger = create(&path).unwrap();
        redeem(&ledger, &a, "k1").unwrap().0
    };
    // Turn the file back into what version 1 wrote: the same tables without members,
    // check-ins and row checks.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE members; DROP TABLE check_ins;
             ALTER TABLE vouchers DROP COLUMN row_check;
             ALTER TABLE receipts DROP COLUMN row_check;
             ALTER TABLE accounts DROP COLUMN row_check;
             DROP TABLE journal; DROP TABLE deny_list;
             DROP TABLE offers; DROP TABLE marketing_opt_outs;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let ledger = open(&path).unwrap();
    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    assert_eq!(ledger.receipt(receipt.id).unwrap(), Some(receipt));
    ledger.check_integrity().unwrap();
    assert_eq!(redeem(&ledger, &a, "k2"), Err(Rejection::AlreadyUsed));
    // The new tables work.
    let pseudonym = IdentityKey::from_bytes(&[3; 32])
        .unwrap()
        .pseudonym(MERCHANT, &AccountIdentity::phone("+8613800138000").unwrap());
    let check_in = CheckIn {
        store: shenzhen().id,
        presence: Presence::Proven,
        step: Some(1),
    };
    let outcome = ledger
        .check_in(&CheckInRequest::new(
            &check_in,
            &pseudonym,
            at("2026-06-15T04:00:00Z"),
        ))
        .unwrap();
    assert!(matches!(
        outcome,
        CheckInOutcome::Visited { enrolled: true, .. }
    ));
    ledger
        .set_marketing_opt_out(MemberId(5), true, at("2026-06-15T04:00:00Z"))
        .unwrap();
    assert_eq!(ledger.marketing_opt_outs().unwrap(), [MemberId(5)]);
}

#[test]
fn members_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let pseudonym = IdentityKey::from_bytes(&[3; 32]).unwrap().pseudonym(
        MERCHANT,
        &AccountIdentity::app_account("wechat:abc").unwrap(),
    );
    let check_in = CheckIn {
        store: shenzhen().id,
        presence: Presence::Proven,
        step: Some(1),
    };
    let request = CheckInRequest::new(&check_in, &pseudonym, at("2026-06-15T04:00:00.000001Z"))
        .referred_by(MemberId(5));
    let member = match create(&path).unwrap().check_in(&request).unwrap() {
        CheckInOutcome::Visited { member, .. } => member,
        CheckInOutcome::Refused { reason } => panic!("{reason}"),
    };
    let ledger = open(&path).unwrap();
    assert_eq!(ledger.member(member.id).unwrap(), Some(member.clone()));
    assert_eq!(ledger.members().unwrap(), vec![member]);
    // The replay guard is durable too.
    assert_eq!(
        ledger.check_in(&request).unwrap(),
        CheckInOutcome::Refused {
            reason: Rejection::ReplayedCode
        }
    );
}
