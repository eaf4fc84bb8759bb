//! Conflicts between tills that redeemed the same voucher while offline.

use crate::ids::{StoreId, TillId, VoucherId};
use crate::ledger::{LedgerError, ReceiptId, sqlite_error};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

/// One receipt in a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictReceipt {
    /// The till that redeemed.
    pub till: TillId,
    /// The till's receipt number.
    pub receipt: ReceiptId,
    /// The store.
    pub store: StoreId,
    /// When.
    pub at: DateTime<Utc>,
    /// The value applied, minor units.
    pub amount_minor: u64,
    /// The till's idempotency key for the sale.
    pub idempotency_key: String,
}

/// A voucher spent beyond its limits by tills that could not see each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The voucher.
    pub voucher: VoucherId,
    /// Every receipt of it not voided, oldest first.
    pub receipts: Vec<ConflictReceipt>,
    /// Uses beyond the voucher's maximum.
    pub excess_uses: u64,
    /// For stored value: value spent beyond what it held, minor units.
    pub excess_minor: u64,
}

/// Every conflicting voucher, by voucher id.
pub(super) fn conflicts(c: &Connection) -> Result<Vec<Conflict>, LedgerError> {
    let over: Vec<(i64, i64, i64)> = c
        .prepare(
            "SELECT voucher,
                    max(count(*) - max(max_uses), 0),
                    max(coalesce(sum(amount) - max(stored_value), 0), 0)
             FROM redemptions WHERE voided_at IS NULL
             GROUP BY voucher
             HAVING count(*) > max(max_uses) OR coalesce(sum(amount) > max(stored_value), 0)
             ORDER BY voucher",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(sqlite_error)?;
    let mut receipts = c
        .prepare(
            "SELECT till, receipt, store, at, amount, idempotency_key FROM redemptions
             WHERE voucher = ?1 AND voided_at IS NULL ORDER BY at, till, receipt",
        )
        .map_err(sqlite_error)?;
    over.into_iter()
        .map(|(voucher, excess_uses, excess_minor)| {
            let list = receipts
                .query_map([voucher], |r| {
                    Ok(ConflictReceipt {
                        till: TillId(r.get(0)?),
                        receipt: ReceiptId(r.get::<_, i64>(1)? as u64),
                        store: StoreId(r.get(2)?),
                        at: DateTime::from_timestamp_micros(r.get(3)?).unwrap_or_default(),
                        amount_minor: r.get::<_, i64>(4)? as u64,
                        idempotency_key: r.get(5)?,
                    })
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(sqlite_error)?;
            Ok(Conflict {
                voucher: VoucherId(voucher as u64),
                receipts: list,
                excess_uses: excess_uses as u64,
                excess_minor: excess_minor as u64,
            })
        })
        .collect()
}
