//! The head office's sync state in the chain's PostgreSQL database (schema version 2 of
//! `PgLedger`'s schema: the `o2okit_sync_*` tables, keyed by merchant), and the statements of
//! [`SyncTx`].
//!
//! Several head-office processes may ingest at once: an ingest locks its till's row first
//! (`FOR UPDATE`), so two batches of one till take turns, and locks the merchant's deny-list
//! version before deciding what the list holds, so deny-list changes are decided one after the
//! other, each on what the one before committed (READ COMMITTED: every statement sees what
//! committed before it started).

use super::reconcile::ConflictReceipt;
use super::sync_tx::{DenyIds, NewRecord, SyncTx};
use crate::ids::{StoreId, TillId, VoucherId};
use crate::journal::{RedeemedTerms, SyncError};
use crate::ledger::postgres::pool::{Failure, Finish, Tx};
use crate::ledger::{Ledger, LedgerError, PgLedger, Receipt, ReceiptId};
use chrono::DateTime;

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Self {
        Failure::Ledger(e.into())
    }
}

/// Registers the merchant's deny-list version (0) if it has none yet.
pub(super) fn prepare(ledger: &PgLedger) -> Result<(), LedgerError> {
    let merchant = i64::from(ledger.merchant().0);
    ledger.pool().write(|tx| {
        tx.execute(
            "INSERT INTO o2okit_sync_meta (merchant, deny_version) VALUES ($1, 0)
             ON CONFLICT (merchant) DO NOTHING",
            &[&merchant],
        )?;
        Ok(Finish::Commit(()))
    })
}

/// Runs `body` in a write transaction, retried on a serialization failure or a deadlock.
pub(super) fn write<T>(
    ledger: &PgLedger,
    mut body: impl FnMut(&mut PgSync<'_, '_>) -> Result<T, Failure>,
) -> Result<T, LedgerError> {
    let merchant = i64::from(ledger.merchant().0);
    ledger
        .pool()
        .write(|tx| body(&mut PgSync { tx, merchant }).map(Finish::Commit))
}

/// Runs `body` in a read-only transaction that sees one snapshot.
pub(super) fn read<T>(
    ledger: &PgLedger,
    mut body: impl FnMut(&mut PgSync<'_, '_>) -> Result<T, Failure>,
) -> Result<T, LedgerError> {
    let merchant = i64::from(ledger.merchant().0);
    ledger.pool().read(|tx| body(&mut PgSync { tx, merchant }))
}

/// A reported redemption to store: sequence number, receipt, terms.
type Redeemed<'a> = (u64, &'a Receipt, &'a RedeemedTerms);

/// The statements of one transaction, for one merchant.
pub(super) struct PgSync<'a, 'b> {
    tx: &'a mut Tx<'b>,
    merchant: i64,
}

fn int(v: u64) -> i64 {
    v as i64
}

fn uint(v: i64) -> u64 {
    v as u64
}

impl SyncTx for PgSync<'_, '_> {
    type Error = Failure;

    fn record_mac(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self
            .tx
            .query_opt(
                "SELECT mac FROM o2okit_sync_records WHERE merchant = $1 AND till = $2 AND seq = $3",
                &[&self.merchant, &i64::from(till.0), &int(seq)],
            )?
            .map(|r| r.get(0)))
    }

    fn record_previous(&mut self, till: TillId, seq: u64) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self
            .tx
            .query_opt(
                "SELECT previous FROM o2okit_sync_records
                 WHERE merchant = $1 AND till = $2 AND seq = $3",
                &[&self.merchant, &i64::from(till.0), &int(seq)],
            )?
            .map(|r| r.get(0)))
    }

    fn insert_record(
        &mut self,
        till: TillId,
        seq: u64,
        previous: &[u8],
        mac: &[u8],
        payload: &[u8],
    ) -> Result<(), Failure> {
        Ok(self.tx.execute(
            "INSERT INTO o2okit_sync_records (merchant, till, seq, previous, mac, payload)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &self.merchant,
                &i64::from(till.0),
                &int(seq),
                &previous,
                &mac,
                &payload,
            ],
        )?)
    }

    fn insert_redemption(
        &mut self,
        till: TillId,
        seq: u64,
        receipt: &Receipt,
        terms: &RedeemedTerms,
    ) -> Result<(), Failure> {
        Ok(self.tx.execute(
            "INSERT INTO o2okit_sync_redemptions (merchant, till, receipt, seq, voucher, store,
                 member, at, spend, amount, idempotency_key, max_uses, stored_value, campaign,
                 voided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     (SELECT at FROM o2okit_sync_voids
                      WHERE merchant = $1 AND till = $2 AND receipt = $3))",
            &[
                &self.merchant,
                &i64::from(till.0),
                &int(receipt.id.0),
                &int(seq),
                &int(receipt.voucher.0),
                &i64::from(receipt.store.0),
                &receipt.member.map(|m| int(m.0)),
                &receipt.at.timestamp_micros(),
                &int(receipt.spend_minor),
                &int(receipt.amount_minor),
                &receipt.idempotency_key.as_str(),
                &i64::from(terms.max_uses),
                &terms.stored_value_minor.map(int),
                &terms.campaign.map(|c| i64::from(c.0)),
            ],
        )?)
    }

    fn void_redemption(
        &mut self,
        till: TillId,
        receipt: ReceiptId,
        at: i64,
    ) -> Result<(), Failure> {
        let (till, receipt) = (i64::from(till.0), int(receipt.0));
        self.tx.pipeline([
            (
                "INSERT INTO o2okit_sync_voids (merchant, till, receipt, at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (merchant, till, receipt) DO NOTHING",
                &[&self.merchant, &till, &receipt, &at],
            ),
            (
                "UPDATE o2okit_sync_redemptions SET voided_at = $4
                 WHERE merchant = $1 AND till = $2 AND receipt = $3",
                &[&self.merchant, &till, &receipt, &at],
            ),
        ])?;
        Ok(())
    }

    fn insert_revocation(&mut self, voucher: VoucherId, at: i64) -> Result<(), Failure> {
        Ok(self.tx.execute(
            "INSERT INTO o2okit_sync_revocations (merchant, voucher, at) VALUES ($1, $2, $3)
             ON CONFLICT (merchant, voucher) DO NOTHING",
            &[&self.merchant, &int(voucher.0), &at],
        )?)
    }

    fn record_marketing_choice(
        &mut self,
        member: u64,
        opted_out: bool,
        at: i64,
    ) -> Result<(), Failure> {
        // The chain's ledger's own table: campaigns planned from `PgLedger` see the choice.
        self.tx.execute(
            "INSERT INTO o2okit_marketing_opt_outs (merchant, member, opted_out, at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (merchant, member) DO UPDATE \
             SET opted_out = excluded.opted_out, at = excluded.at \
             WHERE excluded.at > o2okit_marketing_opt_outs.at \
                 OR (excluded.at = o2okit_marketing_opt_outs.at AND excluded.opted_out)",
            &[&self.merchant, &int(member), &opted_out, &at],
        )?;
        Ok(())
    }

    fn marketing_choices(&mut self) -> Result<Vec<(u64, bool, i64)>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT member, opted_out, at FROM o2okit_marketing_opt_outs WHERE merchant = $1",
                &[&self.merchant],
            )?
            .iter()
            .map(|row| (row.get::<_, i64>(0) as u64, row.get(1), row.get(2)))
            .collect())
    }

    fn lock_till(&mut self, till: TillId) -> Result<u64, Failure> {
        let till = i64::from(till.0);
        let [_, rows] = self.tx.pipeline([
            (
                "INSERT INTO o2okit_sync_tills (merchant, till, through) VALUES ($1, $2, 0)
                 ON CONFLICT (merchant, till) DO NOTHING",
                &[&self.merchant, &till],
            ),
            (
                "SELECT through FROM o2okit_sync_tills
                 WHERE merchant = $1 AND till = $2 FOR UPDATE",
                &[&self.merchant, &till],
            ),
        ])?;
        let row = rows
            .first()
            .ok_or_else(|| Failure::Ledger(LedgerError::Corrupt("a till's row vanished".into())))?;
        Ok(uint(row.get(0)))
    }

    fn set_through(&mut self, till: TillId, through: u64) -> Result<(), Failure> {
        Ok(self.tx.execute(
            "UPDATE o2okit_sync_tills SET through = $3 WHERE merchant = $1 AND till = $2",
            &[&self.merchant, &i64::from(till.0), &int(through)],
        )?)
    }

    fn through(&mut self, till: TillId) -> Result<u64, Failure> {
        Ok(self
            .tx
            .query_opt(
                "SELECT through FROM o2okit_sync_tills WHERE merchant = $1 AND till = $2",
                &[&self.merchant, &i64::from(till.0)],
            )?
            .map_or(0, |r| uint(r.get(0))))
    }

    fn seqs_after(&mut self, till: TillId, after: u64) -> Result<Vec<u64>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT seq FROM o2okit_sync_records
                 WHERE merchant = $1 AND till = $2 AND seq > $3 ORDER BY seq",
                &[&self.merchant, &i64::from(till.0), &int(after)],
            )?
            .iter()
            .map(|r| uint(r.get(0)))
            .collect())
    }

    fn record_count(&mut self, till: TillId) -> Result<u64, Failure> {
        let row = self.tx.query_one(
            "SELECT count(*) FROM o2okit_sync_records WHERE merchant = $1 AND till = $2",
            &[&self.merchant, &i64::from(till.0)],
        )?;
        Ok(uint(row.get(0)))
    }

    fn payloads(&mut self, till: TillId) -> Result<Vec<(u64, Vec<u8>)>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT seq, payload FROM o2okit_sync_records
                 WHERE merchant = $1 AND till = $2 ORDER BY seq",
                &[&self.merchant, &i64::from(till.0)],
            )?
            .iter()
            .map(|r| (uint(r.get(0)), r.get(1)))
            .collect())
    }

    fn lock_deny_version(&mut self) -> Result<u64, Failure> {
        let row = self.tx.query_one(
            "SELECT deny_version FROM o2okit_sync_meta WHERE merchant = $1 FOR UPDATE",
            &[&self.merchant],
        )?;
        Ok(uint(row.get(0)))
    }

    fn deny_version(&mut self) -> Result<u64, Failure> {
        let row = self.tx.query_one(
            "SELECT deny_version FROM o2okit_sync_meta WHERE merchant = $1",
            &[&self.merchant],
        )?;
        Ok(uint(row.get(0)))
    }

    fn set_deny_version(&mut self, version: u64) -> Result<(), Failure> {
        Ok(self.tx.execute(
            "UPDATE o2okit_sync_meta SET deny_version = $2 WHERE merchant = $1",
            &[&self.merchant, &int(version)],
        )?)
    }

    fn listed_reason(&mut self, voucher: u64) -> Result<Option<i64>, Failure> {
        Ok(self
            .tx
            .query_opt(
                "SELECT reason FROM o2okit_sync_deny
                 WHERE merchant = $1 AND voucher = $2 AND removed IS NULL",
                &[&self.merchant, &int(voucher)],
            )?
            .map(|r| i64::from(r.get::<_, i16>(0))))
    }

    fn voucher_state(&mut self, voucher: u64) -> Result<(bool, bool), Failure> {
        let row = self.tx.query_one(
            "SELECT EXISTS (SELECT 1 FROM o2okit_sync_revocations
                            WHERE merchant = $1 AND voucher = $2),
                    COALESCE(count(*) >= max(max_uses)
                             OR COALESCE(sum(amount) >= max(stored_value), false), false)
             FROM o2okit_sync_redemptions
             WHERE merchant = $1 AND voucher = $2 AND voided_at IS NULL",
            &[&self.merchant, &int(voucher)],
        )?;
        Ok((row.get(0), row.get(1)))
    }

    fn relist(&mut self, voucher: u64, reason: Option<i64>, version: u64) -> Result<(), Failure> {
        self.tx.execute(
            "UPDATE o2okit_sync_deny SET removed = $3
             WHERE merchant = $1 AND voucher = $2 AND removed IS NULL",
            &[&self.merchant, &int(voucher), &int(version)],
        )?;
        if let Some(reason) = reason {
            let reason = i16::try_from(reason).unwrap_or(i16::MAX);
            self.tx.execute(
                "INSERT INTO o2okit_sync_deny (merchant, voucher, reason, added)
                 VALUES ($1, $2, $3, $4)",
                &[&self.merchant, &int(voucher), &reason, &int(version)],
            )?;
        }
        Ok(())
    }

    fn deny_ids(&mut self, which: DenyIds, v: u64, now: u64) -> Result<Vec<u64>, Failure> {
        // $2 is v, $3 now; a row is on the list at version x when added <= x and it was not
        // removed by x.
        let sql = match which {
            DenyIds::RevokedAt => {
                "SELECT voucher FROM o2okit_sync_deny
                 WHERE merchant = $1 AND reason = 1 AND added <= $2
                   AND (removed IS NULL OR removed > $2)"
            }
            DenyIds::ExhaustedAt => {
                "SELECT voucher FROM o2okit_sync_deny
                 WHERE merchant = $1 AND reason = 2 AND added <= $2
                   AND (removed IS NULL OR removed > $2)"
            }
            DenyIds::RevokedSince => {
                "SELECT voucher FROM o2okit_sync_deny
                 WHERE merchant = $1 AND reason = 1 AND added > $2 AND added <= $3
                   AND (removed IS NULL OR removed > $3)"
            }
            DenyIds::ExhaustedSince => {
                "SELECT voucher FROM o2okit_sync_deny d
                 WHERE merchant = $1 AND reason = 2 AND added > $2 AND added <= $3
                   AND (removed IS NULL OR removed > $3)
                   AND NOT EXISTS (SELECT 1 FROM o2okit_sync_deny e
                                   WHERE e.merchant = $1 AND e.voucher = d.voucher
                                     AND e.reason = 2 AND e.added <= $2
                                     AND (e.removed IS NULL OR e.removed > $2))"
            }
            DenyIds::RestoredSince => {
                "SELECT voucher FROM o2okit_sync_deny e
                 WHERE merchant = $1 AND reason = 2 AND added <= $2 AND removed > $2
                   AND NOT EXISTS (SELECT 1 FROM o2okit_sync_deny d
                                   WHERE d.merchant = $1 AND d.voucher = e.voucher
                                     AND d.reason = 2 AND d.added <= $3
                                     AND (d.removed IS NULL OR d.removed > $3))"
            }
        };
        let (v, now) = (int(v), int(now));
        let rows = match which {
            DenyIds::RevokedAt | DenyIds::ExhaustedAt => {
                self.tx.query(sql, &[&self.merchant, &v])?
            }
            _ => self.tx.query(sql, &[&self.merchant, &v, &now])?,
        };
        Ok(rows.iter().map(|r| uint(r.get(0))).collect())
    }

    fn over_spent(&mut self) -> Result<Vec<(u64, u64, u64)>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT voucher,
                        GREATEST(count(*) - max(max_uses), 0)::BIGINT,
                        GREATEST(COALESCE(sum(amount) - max(stored_value), 0), 0)::BIGINT
                 FROM o2okit_sync_redemptions WHERE merchant = $1 AND voided_at IS NULL
                 GROUP BY voucher
                 HAVING count(*) > max(max_uses)
                     OR COALESCE(sum(amount) > max(stored_value), false)",
                &[&self.merchant],
            )?
            .iter()
            .map(|r| (uint(r.get(0)), uint(r.get(1)), uint(r.get(2))))
            .collect())
    }

    fn receipts_of(&mut self, voucher: u64) -> Result<Vec<ConflictReceipt>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT till, receipt, store, at, amount, idempotency_key
                 FROM o2okit_sync_redemptions
                 WHERE merchant = $1 AND voucher = $2 AND voided_at IS NULL
                 ORDER BY at, till, receipt",
                &[&self.merchant, &int(voucher)],
            )?
            .iter()
            .map(|r| ConflictReceipt {
                till: TillId(u32::try_from(r.get::<_, i64>(0)).unwrap_or(u32::MAX)),
                receipt: ReceiptId(uint(r.get(1))),
                store: StoreId(u32::try_from(r.get::<_, i64>(2)).unwrap_or(u32::MAX)),
                at: DateTime::from_timestamp_micros(r.get(3)).unwrap_or_default(),
                amount_minor: uint(r.get(4)),
                idempotency_key: r.get(5),
            })
            .collect())
    }

    fn record_macs(
        &mut self,
        till: TillId,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Failure> {
        Ok(self
            .tx
            .query(
                "SELECT seq, mac FROM o2okit_sync_records
                 WHERE merchant = $1 AND till = $2 AND seq BETWEEN $3 AND $4",
                &[&self.merchant, &i64::from(till.0), &int(first), &int(last)],
            )?
            .iter()
            .map(|r| (uint(r.get(0)), r.get(1)))
            .collect())
    }

    fn insert_records(&mut self, till: TillId, rows: &[NewRecord<'_>]) -> Result<(), Failure> {
        if rows.is_empty() {
            return Ok(());
        }
        let seqs: Vec<i64> = rows.iter().map(|r| int(r.seq)).collect();
        let previous: Vec<&[u8]> = rows.iter().map(|r| &r.previous[..]).collect();
        let macs: Vec<&[u8]> = rows.iter().map(|r| &r.mac[..]).collect();
        let payloads: Vec<&[u8]> = rows.iter().map(|r| r.payload).collect();
        Ok(self.tx.execute(
            "INSERT INTO o2okit_sync_records (merchant, till, seq, previous, mac, payload)
             SELECT $1, $2, * FROM UNNEST($3::BIGINT[], $4::BYTEA[], $5::BYTEA[], $6::BYTEA[])",
            &[
                &self.merchant,
                &i64::from(till.0),
                &seqs,
                &previous,
                &macs,
                &payloads,
            ],
        )?)
    }

    fn insert_redemptions(
        &mut self,
        till: TillId,
        rows: &[(u64, &Receipt, &RedeemedTerms)],
    ) -> Result<(), Failure> {
        if rows.is_empty() {
            return Ok(());
        }
        let column =
            |f: &dyn Fn(&Redeemed<'_>) -> i64| -> Vec<i64> { rows.iter().map(f).collect() };
        let optional = |f: &dyn Fn(&Redeemed<'_>) -> Option<i64>| -> Vec<Option<i64>> {
            rows.iter().map(f).collect()
        };
        let receipts = column(&|r| int(r.1.id.0));
        let seqs = column(&|r| int(r.0));
        let vouchers = column(&|r| int(r.1.voucher.0));
        let stores = column(&|r| i64::from(r.1.store.0));
        let members = optional(&|r| r.1.member.map(|m| int(m.0)));
        let ats = column(&|r| r.1.at.timestamp_micros());
        let spends = column(&|r| int(r.1.spend_minor));
        let amounts = column(&|r| int(r.1.amount_minor));
        let keys: Vec<&str> = rows.iter().map(|r| r.1.idempotency_key.as_str()).collect();
        let max_uses = column(&|r| i64::from(r.2.max_uses));
        let stored = optional(&|r| r.2.stored_value_minor.map(int));
        let campaigns = optional(&|r| r.2.campaign.map(|c| i64::from(c.0)));
        Ok(self.tx.execute(
            "INSERT INTO o2okit_sync_redemptions (merchant, till, receipt, seq, voucher, store,
                 member, at, spend, amount, idempotency_key, max_uses, stored_value, campaign,
                 voided_at)
             SELECT $1, $2, u.*,
                    (SELECT v.at FROM o2okit_sync_voids v
                     WHERE v.merchant = $1 AND v.till = $2 AND v.receipt = u.receipt)
             FROM UNNEST($3::BIGINT[], $4::BIGINT[], $5::BIGINT[],
                 $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[],
                 $11::TEXT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[])
                 AS u(receipt, seq, voucher, store, member, at, spend, amount, idempotency_key,
                      max_uses, stored_value, campaign)",
            &[
                &self.merchant,
                &i64::from(till.0),
                &receipts,
                &seqs,
                &vouchers,
                &stores,
                &members,
                &ats,
                &spends,
                &amounts,
                &keys,
                &max_uses,
                &stored,
                &campaigns,
            ],
        )?)
    }

    fn listed_reasons(&mut self, vouchers: &[u64]) -> Result<Vec<Option<i64>>, Failure> {
        let ids: Vec<i64> = vouchers.iter().map(|&v| int(v)).collect();
        let listed: std::collections::HashMap<i64, i64> = self
            .tx
            .query(
                "SELECT voucher, reason FROM o2okit_sync_deny
                 WHERE merchant = $1 AND voucher = ANY($2) AND removed IS NULL",
                &[&self.merchant, &ids],
            )?
            .iter()
            .map(|r| (r.get(0), i64::from(r.get::<_, i16>(1))))
            .collect();
        Ok(ids.iter().map(|v| listed.get(v).copied()).collect())
    }

    fn voucher_states(&mut self, vouchers: &[u64]) -> Result<Vec<(bool, bool)>, Failure> {
        let ids: Vec<i64> = vouchers.iter().map(|&v| int(v)).collect();
        let states: std::collections::HashMap<i64, (bool, bool)> = self
            .tx
            .query(
                "SELECT v,
                        EXISTS (SELECT 1 FROM o2okit_sync_revocations r
                                WHERE r.merchant = $1 AND r.voucher = v),
                        COALESCE((SELECT count(*) >= max(max_uses)
                                         OR COALESCE(sum(amount) >= max(stored_value), false)
                                  FROM o2okit_sync_redemptions d
                                  WHERE d.merchant = $1 AND d.voucher = v
                                    AND d.voided_at IS NULL), false)
                 FROM UNNEST($2::BIGINT[]) AS v",
                &[&self.merchant, &ids],
            )?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        Ok(ids
            .iter()
            .map(|v| states.get(v).copied().unwrap_or((false, false)))
            .collect())
    }

    fn relist_many(&mut self, changes: &[(u64, Option<i64>)], version: u64) -> Result<(), Failure> {
        let all: Vec<i64> = changes.iter().map(|c| int(c.0)).collect();
        let (listed, reasons): (Vec<i64>, Vec<i16>) = changes
            .iter()
            .filter_map(|&(v, r)| Some((int(v), i16::try_from(r?).unwrap_or(i16::MAX))))
            .unzip();
        self.tx.pipeline([
            (
                "UPDATE o2okit_sync_deny SET removed = $2
                 WHERE merchant = $1 AND voucher = ANY($3) AND removed IS NULL",
                &[&self.merchant, &int(version), &all],
            ),
            (
                "INSERT INTO o2okit_sync_deny (merchant, voucher, reason, added)
                 SELECT $1, v, r, $2 FROM UNNEST($3::BIGINT[], $4::SMALLINT[]) AS t(v, r)",
                &[&self.merchant, &int(version), &listed, &reasons],
            ),
        ])?;
        Ok(())
    }

    fn uses_of(&mut self, voucher: u64) -> Result<(u64, u64), Failure> {
        let row = self.tx.query_one(
            "SELECT count(*), COALESCE(sum(amount), 0)::BIGINT FROM o2okit_sync_redemptions
             WHERE merchant = $1 AND voucher = $2 AND voided_at IS NULL",
            &[&self.merchant, &int(voucher)],
        )?;
        Ok((uint(row.get(0)), uint(row.get(1))))
    }
}
