//! The head office's side of sync: ingest till journals, answer with acknowledgements and
//! deny-list deltas, and report what offline tills did that conflicts.
//!
//! [`HeadOffice`] keeps its own SQLite file (feature `sqlite`): every journal record of every
//! till exactly once, the redemptions they report, and the deny list's versions. Ingesting is
//! idempotent: the same batch twice, overlapping batches and batches out of order converge to
//! the same state, and a batch that does not check (a broken MAC chain, a record that differs
//! from the one held under its number) is refused whole, with nothing stored.
//!
//! **Reconciliation.** A till working offline cannot know that another till spent the same
//! voucher. The head office records both receipts, counts both uses (its counts stay exact:
//! a single-use voucher spent twice shows two uses, never a hidden one) and lists the voucher
//! in [`HeadOffice::conflicts`] with every receipt and the excess.

mod deny;
mod reconcile;
mod store;

pub use reconcile::{Conflict, ConflictReceipt};

use crate::deny_list::DenyList;
use crate::ids::{MerchantId, TillId, VoucherId};
use crate::journal::{JournalBatch, JournalEntry, JournalKey, SyncAck, SyncError};
use crate::keys::{Ed25519Key, MerchantSecret};
use crate::ledger::{LedgerError, sqlite_error};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

/// The head office's sync state for one merchant.
pub struct HeadOffice {
    merchant: MerchantId,
    secret: MerchantSecret,
    root: Ed25519Key,
    conn: Mutex<Connection>,
}

/// What one ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The till.
    pub till: TillId,
    /// Records stored for the first time.
    pub new_records: usize,
    /// Records already held (a batch sent again, or overlapping).
    pub duplicates: usize,
    /// The head office holds every record of the till up to here.
    pub through: u64,
    /// Ranges after `through` that are missing while later records are held.
    pub missing: Vec<(u64, u64)>,
    /// The acknowledgement's bytes, for the till's [`crate::SqliteLedger::apply_sync_ack`].
    pub ack: Vec<u8>,
}

/// A till's journal as the head office holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TillJournalStatus {
    /// Held without a gap up to here.
    pub through: u64,
    /// Missing ranges after `through`.
    pub missing: Vec<(u64, u64)>,
    /// Records held.
    pub records: u64,
}

fn int(v: u64) -> i64 {
    v as i64
}

fn uint(v: i64) -> u64 {
    v as u64
}

impl HeadOffice {
    /// Creates the sync file of `merchant` at `path`. `secret` derives every till's journal
    /// key; `root` signs the deny lists (the key whose public half tills pin).
    ///
    /// # Errors
    /// [`LedgerError::AlreadyExists`]; storage errors.
    pub fn create(
        path: impl AsRef<Path>,
        merchant: MerchantId,
        secret: MerchantSecret,
        root: Ed25519Key,
    ) -> Result<Self, LedgerError> {
        let conn = store::create(path.as_ref(), merchant.0)?;
        Ok(Self::with(conn, merchant, secret, root))
    }

    /// Opens the existing sync file of `merchant` at `path`.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`], [`LedgerError::ForeignDatabase`],
    /// [`LedgerError::WrongMerchant`], [`LedgerError::SchemaTooNew`]; storage errors.
    pub fn open(
        path: impl AsRef<Path>,
        merchant: MerchantId,
        secret: MerchantSecret,
        root: Ed25519Key,
    ) -> Result<Self, LedgerError> {
        let conn = store::open(path.as_ref(), merchant.0)?;
        Ok(Self::with(conn, merchant, secret, root))
    }

    fn with(
        conn: Connection,
        merchant: MerchantId,
        secret: MerchantSecret,
        root: Ed25519Key,
    ) -> Self {
        HeadOffice {
            merchant,
            secret,
            root,
            conn: Mutex::new(conn),
        }
    }

    /// The merchant.
    pub fn merchant(&self) -> MerchantId {
        self.merchant
    }

    /// The journal key of `till`, to provision the till with.
    pub fn journal_key(&self, till: TillId) -> JournalKey {
        JournalKey::derive(&self.secret, self.merchant, till)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ingests a till's batch and answers it. Idempotent: a record already held is counted
    /// as a duplicate and changes nothing. Every MAC is checked before anything is stored.
    ///
    /// # Errors
    /// [`LedgerError::Sync`]: malformed bytes, another merchant's batch, a broken MAC chain
    /// (an edited, deleted or reordered record), a record that differs from the one held
    /// ([`SyncError::Forked`]); storage errors. Nothing is stored on an error.
    pub fn ingest(&self, batch: &[u8], at: DateTime<Utc>) -> Result<Ingested, LedgerError> {
        let batch = JournalBatch::decode(batch)?;
        let key = self.journal_key(batch.till);
        batch.check(&key)?;
        let entries = batch
            .records
            .iter()
            .map(|r| r.entry())
            .collect::<Result<Vec<_>, _>>()?;
        let till = batch.till;
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let (mut new_records, mut duplicates) = (0, 0);
        let mut touched = BTreeSet::new();
        let mut previous = batch.previous;
        for (record, entry) in batch.records.iter().zip(&entries) {
            let held: Option<Vec<u8>> = tx
                .prepare_cached("SELECT mac FROM records WHERE till = ?1 AND seq = ?2")
                .and_then(|mut s| {
                    s.query_row(params![till.0, int(record.seq)], |r| r.get(0))
                        .optional()
                })
                .map_err(sqlite_error)?;
            match held {
                Some(mac) if mac == record.mac => duplicates += 1,
                Some(_) => {
                    return Err(SyncError::Forked {
                        till,
                        seq: record.seq,
                    }
                    .into());
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO records (till, seq, previous, mac, payload)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            till.0,
                            int(record.seq),
                            &previous[..],
                            &record.mac[..],
                            record.payload
                        ])
                    })
                    .map_err(sqlite_error)?;
                    apply_entry(&tx, till, record.seq, entry, &mut touched)?;
                    new_records += 1;
                }
            }
            previous = record.mac;
        }
        check_neighbours(&tx, &batch)?;
        let (through, missing) = advance(&tx, till)?;
        deny::refresh(&tx, &touched, at)?;
        let delta = deny::delta_since(&tx, self.merchant, batch.deny_list_version)?;
        tx.commit().map_err(sqlite_error)?;
        let ack = SyncAck {
            merchant: self.merchant,
            till,
            through,
            missing: missing.clone(),
            deny_list_delta: delta.map(|d| d.sign(&self.root)).unwrap_or_default(),
        }
        .encode(&key);
        Ok(Ingested {
            till,
            new_records,
            duplicates,
            through,
            missing,
            ack,
        })
    }

    /// Revokes a voucher at the head office: it joins the deny list's next version.
    ///
    /// # Errors
    /// Storage errors.
    pub fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        tx.execute(
            "INSERT OR IGNORE INTO revocations (voucher, at) VALUES (?1, ?2)",
            params![int(voucher.0), at.timestamp_micros()],
        )
        .map_err(sqlite_error)?;
        deny::refresh(&tx, &BTreeSet::from([voucher.0]), at)?;
        tx.commit().map_err(sqlite_error)
    }

    /// The current deny list.
    ///
    /// # Errors
    /// Storage errors.
    pub fn deny_list(&self) -> Result<DenyList, LedgerError> {
        let conn = self.lock();
        deny::current(&conn, self.merchant)
    }

    /// The current deny list, signed with the root key (to give a new till a full list).
    ///
    /// # Errors
    /// Storage errors.
    pub fn signed_deny_list(&self) -> Result<Vec<u8>, LedgerError> {
        Ok(self.deny_list()?.sign(&self.root))
    }

    /// Every voucher that tills spent beyond its limits while offline, with every receipt.
    ///
    /// # Errors
    /// Storage errors.
    pub fn conflicts(&self) -> Result<Vec<Conflict>, LedgerError> {
        let conn = self.lock();
        reconcile::conflicts(&conn)
    }

    /// Uses and value spent of `voucher` across every till's reports (voids deducted),
    /// including any excess.
    ///
    /// # Errors
    /// Storage errors.
    pub fn voucher_uses(&self, voucher: VoucherId) -> Result<(u64, u64), LedgerError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT count(*), coalesce(sum(amount), 0) FROM redemptions
             WHERE voucher = ?1 AND voided_at IS NULL",
            [int(voucher.0)],
            |r| Ok((uint(r.get(0)?), uint(r.get(1)?))),
        )
        .map_err(sqlite_error)
    }

    /// Where `till`'s journal stands at the head office.
    ///
    /// # Errors
    /// Storage errors.
    pub fn till_status(&self, till: TillId) -> Result<TillJournalStatus, LedgerError> {
        let conn = self.lock();
        let through = through_of(&conn, till)?;
        let records: i64 = conn
            .query_row(
                "SELECT count(*) FROM records WHERE till = ?1",
                [till.0],
                |r| r.get(0),
            )
            .map_err(sqlite_error)?;
        Ok(TillJournalStatus {
            through,
            missing: missing_after(&conn, till, through)?,
            records: uint(records),
        })
    }

    /// Every entry held from `till`, in journal order.
    ///
    /// # Errors
    /// Storage errors; [`LedgerError::Sync`] for a payload this build does not read.
    pub fn entries(&self, till: TillId) -> Result<Vec<(u64, JournalEntry)>, LedgerError> {
        let conn = self.lock();
        let rows: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT seq, payload FROM records WHERE till = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map([till.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(sqlite_error)?;
        rows.into_iter()
            .map(|(seq, payload)| {
                let entry = JournalEntry::from_payload(&payload)
                    .map_err(|e| SyncError::Malformed(format!("record {seq}: {e}")))?;
                Ok((uint(seq), entry))
            })
            .collect()
    }
}

/// Refuses a batch whose first record does not chain from the record before it, or whose
/// last does not lead to the record after it, when the head office holds those.
fn check_neighbours(tx: &Connection, batch: &JournalBatch) -> Result<(), LedgerError> {
    let Some((first, last)) = batch.range() else {
        return Ok(());
    };
    let till = batch.till;
    let column = |seq: u64, column: &str| -> Result<Option<Vec<u8>>, LedgerError> {
        tx.prepare_cached(&format!(
            "SELECT {column} FROM records WHERE till = ?1 AND seq = ?2"
        ))
        .and_then(|mut s| {
            s.query_row(params![till.0, int(seq)], |r| r.get(0))
                .optional()
        })
        .map_err(sqlite_error)
    };
    let before = if first > 1 {
        column(first - 1, "mac")?
    } else {
        None
    };
    if before.is_some_and(|mac| mac != batch.previous) {
        return Err(SyncError::BrokenChain { till, seq: first }.into());
    }
    let last_mac = batch.records.last().map(|r| r.mac);
    if column(last + 1, "previous")?
        .is_some_and(|p| Some(p.as_slice()) != last_mac.as_ref().map(|m| &m[..]))
    {
        return Err(SyncError::BrokenChain {
            till,
            seq: last + 1,
        }
        .into());
    }
    Ok(())
}

/// Applies an entry's effect on the head office's view of vouchers.
fn apply_entry(
    tx: &Connection,
    till: TillId,
    seq: u64,
    entry: &JournalEntry,
    touched: &mut BTreeSet<u64>,
) -> Result<(), LedgerError> {
    match entry {
        JournalEntry::Redeemed { receipt, terms } => {
            tx.prepare_cached(
                "INSERT INTO redemptions (till, receipt, seq, voucher, store, member, at, spend,
                     amount, idempotency_key, max_uses, stored_value, campaign)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    till.0,
                    int(receipt.id.0),
                    int(seq),
                    int(receipt.voucher.0),
                    receipt.store.0,
                    receipt.member.map(|m| int(m.0)),
                    receipt.at.timestamp_micros(),
                    int(receipt.spend_minor),
                    int(receipt.amount_minor),
                    receipt.idempotency_key.as_str(),
                    terms.max_uses,
                    terms.stored_value_minor.map(int),
                    terms.campaign.map(|c| c.0),
                ])
            })
            .map_err(sqlite_error)?;
            touched.insert(receipt.voucher.0);
        }
        JournalEntry::Voided {
            receipt,
            voucher,
            at,
        } => {
            tx.prepare_cached(
                "UPDATE redemptions SET voided_at = ?1 WHERE till = ?2 AND receipt = ?3",
            )
            .and_then(|mut s| s.execute(params![at.timestamp_micros(), till.0, int(receipt.0)]))
            .map_err(sqlite_error)?;
            touched.insert(voucher.0);
        }
        JournalEntry::Revoked { voucher, at } => {
            tx.prepare_cached("INSERT OR IGNORE INTO revocations (voucher, at) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![int(voucher.0), at.timestamp_micros()]))
                .map_err(sqlite_error)?;
            touched.insert(voucher.0);
        }
        _ => {}
    }
    Ok(())
}

fn through_of(c: &Connection, till: TillId) -> Result<u64, LedgerError> {
    c.prepare_cached("SELECT through FROM tills WHERE till = ?1")
        .and_then(|mut s| s.query_row([till.0], |r| r.get::<_, i64>(0)).optional())
        .map(|t| t.map_or(0, uint))
        .map_err(sqlite_error)
}

/// Moves the till's gap-free mark as far as the held records reach.
fn advance(tx: &Connection, till: TillId) -> Result<(u64, Vec<(u64, u64)>), LedgerError> {
    let mut through = through_of(tx, till)?;
    let held_after: Vec<i64> = tx
        .prepare_cached("SELECT seq FROM records WHERE till = ?1 AND seq > ?2 ORDER BY seq")
        .and_then(|mut s| {
            s.query_map(params![till.0, int(through)], |r| r.get(0))?
                .collect()
        })
        .map_err(sqlite_error)?;
    for seq in held_after.iter().map(|&s| uint(s)) {
        if seq != through + 1 {
            break;
        }
        through = seq;
    }
    tx.prepare_cached(
        "INSERT INTO tills (till, through) VALUES (?1, ?2)
         ON CONFLICT (till) DO UPDATE SET through = excluded.through",
    )
    .and_then(|mut s| s.execute(params![till.0, int(through)]))
    .map_err(sqlite_error)?;
    Ok((through, missing_after(tx, till, through)?))
}

/// The gaps between `through` and the last record held.
fn missing_after(
    c: &Connection,
    till: TillId,
    through: u64,
) -> Result<Vec<(u64, u64)>, LedgerError> {
    let held: Vec<i64> = c
        .prepare_cached("SELECT seq FROM records WHERE till = ?1 AND seq > ?2 ORDER BY seq")
        .and_then(|mut s| {
            s.query_map(params![till.0, int(through)], |r| r.get(0))?
                .collect()
        })
        .map_err(sqlite_error)?;
    let mut missing = Vec::new();
    let mut expected = through + 1;
    for seq in held.into_iter().map(uint) {
        if seq > expected {
            missing.push((expected, seq - 1));
        }
        expected = seq + 1;
    }
    Ok(missing)
}
