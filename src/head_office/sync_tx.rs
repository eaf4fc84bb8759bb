//! The statements the head office's logic needs, one method each, for SQLite and PostgreSQL.

use super::reconcile::ConflictReceipt;
use crate::ids::{TillId, VoucherId};
use crate::journal::RedeemedTerms;
use crate::ledger::{LedgerError, Receipt, ReceiptId};

/// Deny-list rows a query selects (reason 1 revoked, 2 exhausted) for a version `v` and the
/// current version `now` (so that a delta stays the difference of two versions even while
/// another head office commits a newer one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DenyIds {
    /// On the list at version `v` as revoked.
    RevokedAt,
    /// On the list at version `v` as exhausted.
    ExhaustedAt,
    /// Revoked after version `v`, by `now` (revocations are never undone).
    RevokedSince,
    /// Exhausted at `now` and not at version `v`.
    ExhaustedSince,
    /// Exhausted at version `v` and not at `now`.
    RestoredSince,
}

/// One transaction on the head office's sync state.
pub(super) trait SyncTx {
    /// A failure: a rule of the head office, or the database's (which PostgreSQL may retry).
    type Error: From<LedgerError> + From<crate::journal::SyncError>;

    /// The MAC of `till`'s record `seq`, if held.
    fn record_mac(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, Self::Error>;
    /// The MAC record `seq` chains from, if held.
    fn record_previous(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Stores a record.
    fn insert_record(
        &mut self,
        till: TillId,
        seq: u64,
        previous: &[u8],
        mac: &[u8],
        payload: &[u8],
    ) -> Result<(), Self::Error>;
    /// Stores a reported redemption.
    fn insert_redemption(
        &mut self,
        till: TillId,
        seq: u64,
        receipt: &Receipt,
        terms: &RedeemedTerms,
    ) -> Result<(), Self::Error>;
    /// Marks a reported redemption voided.
    fn void_redemption(
        &mut self,
        till: TillId,
        receipt: ReceiptId,
        at: i64,
    ) -> Result<(), Self::Error>;
    /// Records a revocation (a second one of the same voucher changes nothing).
    fn insert_revocation(&mut self, voucher: VoucherId, at: i64) -> Result<(), Self::Error>;
    /// Records a member's marketing choice made at a till; a choice made earlier than the one
    /// held changes nothing.
    fn record_marketing_choice(
        &mut self,
        member: u64,
        opted_out: bool,
        at: i64,
    ) -> Result<(), Self::Error>;
    /// Every member's latest marketing choice: member, opted out, instant (microseconds).
    fn marketing_choices(&mut self) -> Result<Vec<(u64, bool, i64)>, Self::Error>;
    /// Locks `till`'s row (made if absent) for this transaction; its gap-free mark.
    fn lock_till(&mut self, till: TillId) -> Result<u64, Self::Error>;
    /// Sets `till`'s gap-free mark.
    fn set_through(&mut self, till: TillId, through: u64) -> Result<(), Self::Error>;
    /// The gap-free mark, without locking.
    fn through(&mut self, till: TillId) -> Result<u64, Self::Error>;
    /// The sequence numbers held after `after`, ascending.
    fn seqs_after(&mut self, till: TillId, after: u64) -> Result<Vec<u64>, Self::Error>;
    /// Records held from `till`.
    fn record_count(&mut self, till: TillId) -> Result<u64, Self::Error>;
    /// Every record of `till`: sequence number and payload, in order.
    fn payloads(&mut self, till: TillId) -> Result<Vec<(u64, Vec<u8>)>, Self::Error>;
    /// Locks the deny list's version for this transaction and returns it.
    fn lock_deny_version(&mut self) -> Result<u64, Self::Error>;
    /// The deny list's version, without locking.
    fn deny_version(&mut self) -> Result<u64, Self::Error>;
    /// Sets the deny list's version.
    fn set_deny_version(&mut self, version: u64) -> Result<(), Self::Error>;
    /// The voucher's reason on the list now (1 revoked, 2 exhausted), if listed.
    fn listed_reason(&mut self, voucher: u64) -> Result<Option<i64>, Self::Error>;
    /// Whether the voucher is revoked, and whether its reported redemptions spend every use
    /// or all its value.
    fn voucher_state(&mut self, voucher: u64) -> Result<(bool, bool), Self::Error>;
    /// Takes the voucher off the list at `version` and puts it back with `reason`, if any.
    fn relist(
        &mut self,
        voucher: u64,
        reason: Option<i64>,
        version: u64,
    ) -> Result<(), Self::Error>;
    /// The ids a deny-list query selects for versions `v` and `now`.
    fn deny_ids(&mut self, which: DenyIds, v: u64, now: u64) -> Result<Vec<u64>, Self::Error>;
    /// Vouchers spent beyond their limits: voucher, excess uses, excess value.
    fn over_spent(&mut self) -> Result<Vec<(u64, u64, u64)>, Self::Error>;
    /// Every receipt of `voucher` not voided, oldest first.
    fn receipts_of(&mut self, voucher: u64) -> Result<Vec<ConflictReceipt>, Self::Error>;
    /// Uses and value spent of `voucher` (voids deducted).
    fn uses_of(&mut self, voucher: u64) -> Result<(u64, u64), Self::Error>;

    // Set-at-a-time forms of the statements above, for a server where every statement costs
    // a round trip. Each default runs the one-row statement once per row.

    /// The MACs held for `till`'s records `first..=last`.
    fn record_macs(
        &mut self,
        till: TillId,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Self::Error> {
        let mut held = Vec::new();
        for seq in first..=last {
            if let Some(mac) = self.record_mac(till, seq)? {
                held.push((seq, mac));
            }
        }
        Ok(held)
    }

    /// Stores records, in order.
    fn insert_records(&mut self, till: TillId, rows: &[NewRecord<'_>]) -> Result<(), Self::Error> {
        rows.iter()
            .try_for_each(|r| self.insert_record(till, r.seq, &r.previous, &r.mac, r.payload))
    }

    /// Stores reported redemptions: (sequence number, receipt, terms).
    fn insert_redemptions(
        &mut self,
        till: TillId,
        rows: &[(u64, &Receipt, &RedeemedTerms)],
    ) -> Result<(), Self::Error> {
        rows.iter().try_for_each(|(seq, receipt, terms)| {
            self.insert_redemption(till, *seq, receipt, terms)
        })
    }

    /// [`SyncTx::listed_reason`] of each voucher, in order.
    fn listed_reasons(&mut self, vouchers: &[u64]) -> Result<Vec<Option<i64>>, Self::Error> {
        vouchers.iter().map(|&v| self.listed_reason(v)).collect()
    }

    /// [`SyncTx::voucher_state`] of each voucher, in order.
    fn voucher_states(&mut self, vouchers: &[u64]) -> Result<Vec<(bool, bool)>, Self::Error> {
        vouchers.iter().map(|&v| self.voucher_state(v)).collect()
    }

    /// [`SyncTx::relist`] of each (voucher, reason).
    fn relist_many(
        &mut self,
        changes: &[(u64, Option<i64>)],
        version: u64,
    ) -> Result<(), Self::Error> {
        changes
            .iter()
            .try_for_each(|&(voucher, reason)| self.relist(voucher, reason, version))
    }
}

/// A record to store.
pub(super) struct NewRecord<'a> {
    /// Its sequence number.
    pub(super) seq: u64,
    /// The MAC it chains from.
    pub(super) previous: crate::journal::Mac,
    /// Its MAC.
    pub(super) mac: crate::journal::Mac,
    /// The entry's bytes.
    pub(super) payload: &'a [u8],
}
