//! The check made when a ledger is opened, so a damaged file is refused before a till trusts
//! it: a ledger that silently forgot a redemption would let the voucher be spent again.
//!
//! In order, the first failure deciding [`LedgerError::Corrupt`]:
//! 1. SQLite's `PRAGMA quick_check`: every page, cell and free-list entry well formed.
//! 2. `PRAGMA foreign_key_check`: every receipt names a voucher the ledger holds.
//! 3. Every voucher, receipt and account row matches its row check (see `row_check`).
//! 4. Every voucher's use count and spent value equal what its standing receipts add up to.
//!
//! The cost grows with the file: `cargo bench --bench ledger` times opening a ledger of
//! 100,000 receipts.

use super::{RECEIPT_COLUMNS, VOUCHER_COLUMNS, account_of, receipt_of, sqlite_error, voucher_of};
use crate::ledger::LedgerError;
use rusqlite::Connection;

/// Checks the ledger behind `conn`; `path` names it in errors.
pub(super) fn check(conn: &Connection, path: &str) -> Result<(), LedgerError> {
    let corrupt = |what: String| LedgerError::Corrupt(format!("{path}: {what}"));
    let fail = |e: rusqlite::Error| match sqlite_error(e) {
        LedgerError::Corrupt(detail) => corrupt(detail),
        other => other,
    };
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(fail)?;
    if problems != ["ok"] {
        return Err(corrupt(format!("damaged pages: {}", problems.join("; "))));
    }
    let orphan: Option<String> = conn
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut s| {
            let mut rows = s.query([])?;
            rows.next()?
                .map(|r| {
                    Ok(format!(
                        "{} row {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?
                    ))
                })
                .transpose()
        })
        .map_err(fail)?;
    if let Some(orphan) = orphan {
        return Err(corrupt(format!("{orphan} names a missing voucher")));
    }
    conn.prepare(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers"))
        .and_then(|mut s| s.query_map([], voucher_of)?.try_for_each(|r| r.map(drop)))
        .map_err(fail)?;
    conn.prepare(&format!("SELECT {RECEIPT_COLUMNS} FROM receipts"))
        .and_then(|mut s| s.query_map([], receipt_of)?.try_for_each(|r| r.map(drop)))
        .map_err(fail)?;
    conn.prepare("SELECT member, points, balance, row_check FROM accounts")
        .and_then(|mut s| s.query_map([], account_of)?.try_for_each(|r| r.map(drop)))
        .map_err(fail)?;
    let mismatch: Option<i64> = conn
        .prepare(
            "SELECT v.voucher FROM vouchers v
             LEFT JOIN (SELECT voucher, count(*) AS uses, sum(amount) AS spent FROM receipts
                        WHERE voided_at IS NULL GROUP BY voucher) r ON r.voucher = v.voucher
             WHERE v.uses != coalesce(r.uses, 0)
                OR (v.face_value IS NOT NULL AND v.value_spent != coalesce(r.spent, 0))
             LIMIT 1",
        )
        .and_then(|mut s| {
            let mut rows = s.query([])?;
            rows.next()?.map(|r| r.get(0)).transpose()
        })
        .map_err(fail)?;
    if let Some(voucher) = mismatch {
        return Err(corrupt(format!(
            "voucher {} counts other uses than its receipts",
            voucher as u64
        )));
    }
    Ok(())
}
