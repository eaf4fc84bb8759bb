//! The deny list's versions at the head office: which vouchers are on it, since and until
//! which version, so that a delta from any version a till holds can be built from the rows
//! changed since.

use super::sync_tx::{DenyIds, SyncTx};
use crate::deny_list::{DenyList, DenyListDelta};
use crate::ids::{MerchantId, VoucherId};
use std::collections::BTreeSet;

const REVOKED: i64 = 1;
const EXHAUSTED: i64 = 2;

/// Brings the list up to date for the `touched` vouchers: one new version for all changes.
/// The version is locked first, so concurrent ingests decide one after the other, each on
/// what the one before committed.
pub(super) fn refresh<T: SyncTx>(tx: &mut T, touched: &BTreeSet<u64>) -> Result<(), T::Error> {
    if touched.is_empty() {
        return Ok(());
    }
    let held_version = tx.lock_deny_version()?;
    let vouchers: Vec<u64> = touched.iter().copied().collect();
    let held = tx.listed_reasons(&vouchers)?;
    let states = tx.voucher_states(&vouchers)?;
    let changes: Vec<(u64, Option<i64>)> = vouchers
        .iter()
        .zip(held.iter().zip(&states))
        .filter_map(|(&voucher, (&held, &state))| {
            let wanted = match state {
                (true, _) => Some(REVOKED),
                (false, true) => Some(EXHAUSTED),
                (false, false) => None,
            };
            (held != wanted).then_some((voucher, wanted))
        })
        .collect();
    if !changes.is_empty() {
        tx.relist_many(&changes, held_version + 1)?;
        tx.set_deny_version(held_version + 1)?;
    }
    Ok(())
}

/// The list as it was at `version`.
pub(super) fn list_at<T: SyncTx>(
    tx: &mut T,
    merchant: MerchantId,
    version: u64,
) -> Result<DenyList, T::Error> {
    let revoked = tx.deny_ids(DenyIds::RevokedAt, version, version)?;
    let exhausted = tx.deny_ids(DenyIds::ExhaustedAt, version, version)?;
    Ok(DenyList::new(merchant, version)
        .with_revoked(revoked.into_iter().map(VoucherId))
        .with_exhausted(exhausted.into_iter().map(VoucherId)))
}

/// The current list.
pub(super) fn current<T: SyncTx>(tx: &mut T, merchant: MerchantId) -> Result<DenyList, T::Error> {
    let version = tx.deny_version()?;
    list_at(tx, merchant, version)
}

/// The delta from the version a till holds to the current one (none when it is current, or
/// claims a version the head office never made), from the rows changed since: its cost
/// follows the changes, not the list.
pub(super) fn delta_since<T: SyncTx>(
    tx: &mut T,
    merchant: MerchantId,
    held: u64,
) -> Result<Option<DenyListDelta>, T::Error> {
    let now = tx.deny_version()?;
    if held >= now {
        return Ok(None);
    }
    Ok(Some(DenyListDelta::from_parts(
        merchant,
        held,
        now,
        tx.deny_ids(DenyIds::RevokedSince, held, now)?,
        tx.deny_ids(DenyIds::ExhaustedSince, held, now)?,
        tx.deny_ids(DenyIds::RestoredSince, held, now)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::super::sqlite::{SCHEMA, SqliteSync};
    use super::*;
    use crate::keys::Ed25519Key;
    use rusqlite::{Connection, params};

    /// A sync file in memory with the deny list at version 0.
    fn file() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
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
            refresh(&mut SqliteSync(&c), &touched).unwrap();
        }
        let t = &mut SqliteSync(&c);
        let now = t.deny_version().unwrap();
        assert!(now > 20, "the list changed {now} times");
        let current = list_at(t, merchant, now).unwrap();
        assert!(!current.is_empty());
        for held in 0..now {
            let direct = delta_since(t, merchant, held).unwrap().unwrap();
            let reference = list_at(t, merchant, held).unwrap().delta_to(&current);
            assert_eq!(
                direct.sign(&root),
                reference.sign(&root),
                "from version {held}"
            );
            let mut applied = list_at(t, merchant, held).unwrap();
            applied
                .apply_delta(&direct.sign(&root), &root.public_key())
                .unwrap();
            assert_eq!(applied, current, "from version {held}");
        }
        assert!(delta_since(t, merchant, now).unwrap().is_none());
    }
}
