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
/// claims a version the head office never made).
pub(super) fn delta_since(
    c: &Connection,
    merchant: MerchantId,
    held: u64,
) -> Result<Option<DenyListDelta>, LedgerError> {
    let now = version(c)?;
    if held >= now {
        return Ok(None);
    }
    Ok(Some(
        list_at(c, merchant, held)?.delta_to(&list_at(c, merchant, now)?),
    ))
}
