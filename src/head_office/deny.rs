//! The deny list's versions at the head office: which vouchers are on it, since and until
//! which version, so that a delta from any version a till holds can be built.

use crate::deny_list::{DenyList, DenyListDelta};
use crate::ids::{MerchantId, VoucherId};
use crate::ledger::{LedgerError, sqlite_error};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

const REVOKED: i64 = 1;
const EXHAUSTED: i64 = 2;

fn version(c: &Connection) -> Result<u64, LedgerError> {
    c.query_row(
        "SELECT value FROM meta WHERE key = 'deny_version'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|v| v as u64)
    .map_err(sqlite_error)
}

/// Why `voucher` belongs on the list now, if it does: revoked, or every use or all its value
/// spent by the redemptions reported.
fn reason_now(c: &Connection, voucher: u64) -> Result<Option<i64>, LedgerError> {
    let revoked: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM revocations WHERE voucher = ?1)")
        .and_then(|mut s| s.query_row([voucher as i64], |r| r.get(0)))
        .map_err(sqlite_error)?;
    if revoked {
        return Ok(Some(REVOKED));
    }
    let exhausted: bool = c
        .prepare_cached(
            "SELECT count(*) >= max(max_uses)
                    OR coalesce(sum(amount) >= max(stored_value), 0)
             FROM redemptions WHERE voucher = ?1 AND voided_at IS NULL",
        )
        .and_then(|mut s| s.query_row([voucher as i64], |r| r.get::<_, Option<bool>>(0)))
        .map_err(sqlite_error)?
        .unwrap_or(false);
    Ok(exhausted.then_some(EXHAUSTED))
}

/// Brings the list up to date for the `touched` vouchers: one new version for all changes.
pub(super) fn refresh(
    tx: &Connection,
    touched: &BTreeSet<u64>,
    _at: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let mut next: Option<u64> = None;
    for &voucher in touched {
        let held: Option<i64> = tx
            .prepare_cached("SELECT reason FROM deny WHERE voucher = ?1 AND removed IS NULL")
            .and_then(|mut s| s.query_row([voucher as i64], |r| r.get(0)).optional())
            .map_err(sqlite_error)?;
        let wanted = reason_now(tx, voucher)?;
        if held == wanted {
            continue;
        }
        let v = match next {
            Some(v) => v,
            None => {
                let v = version(tx)? + 1;
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'deny_version'",
                    [v as i64],
                )
                .map_err(sqlite_error)?;
                next = Some(v);
                v
            }
        };
        tx.prepare_cached("UPDATE deny SET removed = ?1 WHERE voucher = ?2 AND removed IS NULL")
            .and_then(|mut s| s.execute(params![v as i64, voucher as i64]))
            .map_err(sqlite_error)?;
        if let Some(reason) = wanted {
            tx.prepare_cached("INSERT INTO deny (voucher, reason, added) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![voucher as i64, reason, v as i64]))
                .map_err(sqlite_error)?;
        }
    }
    Ok(())
}

/// The list as it was at `version`.
fn list_at(c: &Connection, merchant: MerchantId, version: u64) -> Result<DenyList, LedgerError> {
    let rows: Vec<(i64, i64)> = c
        .prepare_cached(
            "SELECT voucher, reason FROM deny
             WHERE added <= ?1 AND (removed IS NULL OR removed > ?1)",
        )
        .and_then(|mut s| {
            s.query_map([version as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(sqlite_error)?;
    let ids = |reason: i64| {
        rows.iter()
            .filter(move |(_, r)| *r == reason)
            .map(|(v, _)| VoucherId(*v as u64))
    };
    Ok(DenyList::new(merchant, version)
        .with_revoked(ids(REVOKED))
        .with_exhausted(ids(EXHAUSTED)))
}

/// The current list.
pub(super) fn current(c: &Connection, merchant: MerchantId) -> Result<DenyList, LedgerError> {
    list_at(c, merchant, version(c)?)
}

/// The delta from the version a till holds to the current one (none when it is current, or
/// claims a version the head office never made), from the rows changed since: its cost
/// follows the changes, not the list.
pub(super) fn delta_since(
    c: &Connection,
    merchant: MerchantId,
    held: u64,
) -> Result<Option<DenyListDelta>, LedgerError> {
    let now = version(c)?;
    if held >= now {
        return Ok(None);
    }
    let ids = |sql: &str| -> Result<Vec<u64>, LedgerError> {
        c.prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map([held as i64], |r| r.get::<_, i64>(0).map(|v| v as u64))?
                    .collect()
            })
            .map_err(sqlite_error)
    };
    // Revocations are never undone: a revoked row is added and never removed.
    let revoked =
        ids("SELECT voucher FROM deny WHERE reason = 1 AND removed IS NULL AND added > ?1")?;
    let exhausted = ids("SELECT voucher FROM deny d
         WHERE reason = 2 AND removed IS NULL AND added > ?1
           AND NOT EXISTS (SELECT 1 FROM deny e WHERE e.voucher = d.voucher AND e.reason = 2
                           AND e.added <= ?1 AND (e.removed IS NULL OR e.removed > ?1))")?;
    let restored = ids("SELECT voucher FROM deny e
         WHERE reason = 2 AND added <= ?1 AND removed > ?1
           AND NOT EXISTS (SELECT 1 FROM deny d WHERE d.voucher = e.voucher AND d.reason = 2
                           AND d.removed IS NULL)")?;
    Ok(Some(DenyListDelta::from_parts(
        merchant, held, now, revoked, exhausted, restored,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Ed25519Key;

    /// A sync file in memory with the deny list at version 0.
    fn file() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::store::SCHEMA).unwrap();
        c.execute(
            "INSERT INTO meta (key, value) VALUES ('deny_version', 0)",
            [],
        )
        .unwrap();
        c
    }

    #[test]
    fn a_delta_from_the_changed_rows_equals_the_difference_of_the_two_lists() {
        let c = file();
        let merchant = MerchantId(7);
        let root = Ed25519Key::from_seed(&[5; 32]);
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut receipt = 0i64;
        for _ in 0..60 {
            let mut touched = BTreeSet::new();
            for _ in 0..1 + next(4) {
                // Large ids too: their i64 form is negative, their order must not be.
                let voucher = if next(5) == 0 {
                    u64::MAX - next(8)
                } else {
                    next(30)
                };
                match next(5) {
                    0 => {
                        c.execute(
                            "INSERT OR IGNORE INTO revocations (voucher, at) VALUES (?1, 0)",
                            [voucher as i64],
                        )
                        .unwrap();
                    }
                    1 => {
                        c.execute(
                            "UPDATE redemptions SET voided_at = 1
                             WHERE receipt = (SELECT min(receipt) FROM redemptions
                                              WHERE voucher = ?1 AND voided_at IS NULL)",
                            [voucher as i64],
                        )
                        .unwrap();
                    }
                    _ => {
                        receipt += 1;
                        c.execute(
                            "INSERT INTO redemptions (till, receipt, seq, voucher, store, at, spend,
                                 amount, idempotency_key, max_uses)
                             VALUES (1, ?1, ?1, ?2, 1, 0, 100, 10, ?1, 2)",
                            params![receipt, voucher as i64],
                        )
                        .unwrap();
                    }
                }
                touched.insert(voucher);
            }
            refresh(&c, &touched, at).unwrap();
        }
        let now = version(&c).unwrap();
        assert!(now > 20, "the list changed {now} times");
        let current = list_at(&c, merchant, now).unwrap();
        assert!(!current.is_empty());
        for held in 0..now {
            let direct = delta_since(&c, merchant, held).unwrap().unwrap();
            let reference = list_at(&c, merchant, held).unwrap().delta_to(&current);
            assert_eq!(
                direct.sign(&root),
                reference.sign(&root),
                "from version {held}"
            );
            let mut applied = list_at(&c, merchant, held).unwrap();
            applied
                .apply_delta(&direct.sign(&root), &root.public_key())
                .unwrap();
            assert_eq!(applied, current, "from version {held}");
        }
        assert!(delta_since(&c, merchant, now).unwrap().is_none());
    }
}
