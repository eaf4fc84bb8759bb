//! Conflicts between tills that redeemed the same voucher while offline.

use super::sync_tx::SyncTx;
use crate::ids::{StoreId, TillId, VoucherId};
use crate::ledger::ReceiptId;
use chrono::{DateTime, Utc};
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
pub(super) fn conflicts<T: SyncTx>(tx: &mut T) -> Result<Vec<Conflict>, T::Error> {
    let mut over = tx.over_spent()?;
    over.sort_unstable();
    over.into_iter()
        .map(|(voucher, excess_uses, excess_minor)| {
            Ok(Conflict {
                voucher: VoucherId(voucher),
                receipts: tx.receipts_of(voucher)?,
                excess_uses,
                excess_minor,
            })
        })
        .collect()
}
