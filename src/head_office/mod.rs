//! The head office's side of sync: ingest till journals, answer with acknowledgements and
//! deny-list deltas, and report what offline tills did that conflicts.
//!
//! [`HeadOffice`] keeps every journal record of every till exactly once, the redemptions they
//! report, and the deny list's versions: in its own SQLite file ([`HeadOffice::create`]), or
//! in the chain's PostgreSQL database beside `PgLedger`'s tables (`HeadOffice::connect_pg`,
//! feature `postgres`), where several head-office processes may ingest at once. Ingesting is
//! idempotent: the same batch twice, overlapping batches and batches out of order converge to
//! the same state, and a batch that does not check (a broken MAC chain, a record that differs
//! from the one held under its number) is refused whole, with nothing stored.
//!
//! **Reconciliation.** A till working offline cannot know that another till spent the same
//! voucher. The head office records both receipts, counts both uses (its counts stay exact:
//! a single-use voucher spent twice shows two uses, never a hidden one) and lists the voucher
//! in [`HeadOffice::conflicts`] with every receipt and the excess.

mod deny;
#[cfg(feature = "postgres")]
mod postgres;
mod reconcile;
mod sqlite;
mod sync_tx;

pub use reconcile::{Conflict, ConflictReceipt};

use crate::deny_list::DenyList;
use crate::ids::{MemberId, MerchantId, TillId, VoucherId};
use crate::journal::{JournalBatch, JournalEntry, JournalKey, SyncAck, SyncError};
use crate::keys::{Ed25519Key, MerchantSecret};
use crate::ledger::{LedgerError, sqlite_error};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use sync_tx::{NewRecord, SyncTx};

/// Runs `$body` with `$t` bound to a write transaction of the store, committed if it
/// succeeds. On PostgreSQL a serialization failure or deadlock runs it again, so it must
/// depend on nothing but what it reads.
macro_rules! in_write {
    ($office:expr, |$t:ident| $body:expr) => {
        match &$office.store {
            Store::Sqlite(conn) => (|| {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sqlite_error)?;
                let value = {
                    let $t = &mut sqlite::SqliteSync(&tx);
                    $body?
                };
                tx.commit().map_err(sqlite_error)?;
                Ok::<_, LedgerError>(value)
            })(),
            #[cfg(feature = "postgres")]
            Store::Postgres(ledger) => postgres::write(ledger, |$t| $body),
        }
    };
}

/// As `in_write!`, in a read transaction that sees one snapshot.
macro_rules! in_read {
    ($office:expr, |$t:ident| $body:expr) => {
        match &$office.store {
            Store::Sqlite(conn) => (|| {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn.transaction().map_err(sqlite_error)?;
                let $t = &mut sqlite::SqliteSync(&tx);
                $body
            })(),
            #[cfg(feature = "postgres")]
            Store::Postgres(ledger) => postgres::read(ledger, |$t| $body),
        }
    };
}

/// A member's marketing choice as a till reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketingChoice {
    /// The member.
    pub member: MemberId,
    /// Whether they opted out.
    pub opted_out: bool,
    /// When they chose.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The head office's sync state for one merchant.
pub struct HeadOffice {
    merchant: MerchantId,
    secret: MerchantSecret,
    root: Ed25519Key,
    store: Store,
}

/// Where the sync state lives.
enum Store {
    Sqlite(Mutex<Connection>),
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::ledger::PgLedger>),
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
        let conn = sqlite::create(path.as_ref(), merchant.0)?;
        Ok(Self::with(
            Store::Sqlite(Mutex::new(conn)),
            merchant,
            secret,
            root,
        ))
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
        let conn = sqlite::open(path.as_ref(), merchant.0)?;
        Ok(Self::with(
            Store::Sqlite(Mutex::new(conn)),
            merchant,
            secret,
            root,
        ))
    }

    /// The sync state of `merchant` in the chain's PostgreSQL database (the one its
    /// `PgLedger` uses; the schema is created or migrated as by [`crate::PgLedger::connect`]).
    /// Several head-office processes may share it: ingests of one till take turns, and deny
    /// list changes are decided one after the other.
    ///
    /// # Errors
    /// As [`crate::PgLedger::connect_with`].
    #[cfg(feature = "postgres")]
    pub fn connect_pg(
        conninfo: &str,
        merchant: MerchantId,
        secret: MerchantSecret,
        root: Ed25519Key,
        options: crate::ledger::PgOptions,
    ) -> Result<Self, LedgerError> {
        let ledger = crate::ledger::PgLedger::connect_with(conninfo, merchant, options)?;
        postgres::prepare(&ledger)?;
        Ok(Self::with(
            Store::Postgres(Box::new(ledger)),
            merchant,
            secret,
            root,
        ))
    }

    fn with(store: Store, merchant: MerchantId, secret: MerchantSecret, root: Ed25519Key) -> Self {
        HeadOffice {
            merchant,
            secret,
            root,
            store,
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

    /// Ingests a till's batch and answers it. Idempotent: a record already held is counted
    /// as a duplicate and changes nothing. Every MAC is checked before anything is stored.
    ///
    /// # Errors
    /// [`LedgerError::Sync`]: malformed bytes, another merchant's batch, a broken MAC chain
    /// (an edited, deleted or reordered record), a record that differs from the one held
    /// ([`SyncError::Forked`]); storage errors. Nothing is stored on an error.
    pub fn ingest(&self, batch: &[u8]) -> Result<Ingested, LedgerError> {
        let digest = JournalBatch::digest(batch);
        let batch = JournalBatch::decode(batch)?;
        let key = self.journal_key(batch.till);
        batch.check(&key)?;
        let entries = batch
            .records
            .iter()
            .map(|r| r.entry())
            .collect::<Result<Vec<_>, _>>()?;
        let merchant = self.merchant;
        let (new_records, duplicates, through, missing, delta) =
            in_write!(self, |t| ingest_in(t, merchant, &batch, &entries))?;
        let ack = SyncAck {
            merchant,
            till: batch.till,
            batch: digest,
            through,
            missing: missing.clone(),
            deny_list_delta: delta.map(|d| d.sign(&self.root)).unwrap_or_default(),
        }
        .encode(&key);
        Ok(Ingested {
            till: batch.till,
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
        let micros = at.timestamp_micros();
        in_write!(self, |t| {
            t.insert_revocation(voucher, micros)
                .and_then(|()| deny::refresh(t, &BTreeSet::from([voucher.0])))
        })
    }

    /// The current deny list.
    ///
    /// # Errors
    /// Storage errors.
    pub fn deny_list(&self) -> Result<DenyList, LedgerError> {
        let merchant = self.merchant;
        in_read!(self, |t| deny::current(t, merchant))
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
        in_read!(self, |t| reconcile::conflicts(t))
    }

    /// Uses and value spent of `voucher` across every till's reports (voids deducted),
    /// including any excess.
    ///
    /// # Errors
    /// Storage errors.
    pub fn voucher_uses(&self, voucher: VoucherId) -> Result<(u64, u64), LedgerError> {
        in_read!(self, |t| t.uses_of(voucher.0))
    }

    /// Where `till`'s journal stands at the head office.
    ///
    /// # Errors
    /// Storage errors.
    pub fn till_status(&self, till: TillId) -> Result<TillJournalStatus, LedgerError> {
        in_read!(self, |t| {
            let through = t.through(till)?;
            let held = t.seqs_after(till, through)?;
            Ok(TillJournalStatus {
                through,
                missing: gaps(through, &held),
                records: t.record_count(till)?,
            })
        })
    }

    /// Every member's latest marketing choice made at a till (the latest instant wins; at
    /// equal instants, opting out), by member. On PostgreSQL these are the chain ledger's own
    /// choices, which `PgLedger` reads directly; with a sync file, apply them to the ledger
    /// campaigns are planned from ([`HeadOffice::apply_marketing_choices`]).
    ///
    /// # Errors
    /// Storage errors; [`LedgerError::Corrupt`] for an instant out of range.
    pub fn marketing_choices(&self) -> Result<Vec<MarketingChoice>, LedgerError> {
        let mut choices = in_read!(self, |t| t.marketing_choices())?
            .into_iter()
            .map(|(member, opted_out, micros)| {
                let at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                    LedgerError::Corrupt(format!("marketing choice at {micros} µs"))
                })?;
                Ok(MarketingChoice {
                    member: MemberId(member),
                    opted_out,
                    at,
                })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        choices.sort_unstable_by_key(|c| c.member);
        Ok(choices)
    }

    /// The members opted out of marketing at a till now, ascending.
    ///
    /// # Errors
    /// As [`HeadOffice::marketing_choices`].
    pub fn marketing_opt_outs(&self) -> Result<Vec<MemberId>, LedgerError> {
        Ok(self
            .marketing_choices()?
            .into_iter()
            .filter(|c| c.opted_out)
            .map(|c| c.member)
            .collect())
    }

    /// Records every marketing choice tills reported in `ledger` (the latest choice wins
    /// there too, so applying again, or after choices made elsewhere, is safe). Returns how
    /// many were applied.
    ///
    /// # Errors
    /// As [`HeadOffice::marketing_choices`], and the ledger's.
    pub fn apply_marketing_choices(
        &self,
        ledger: &dyn crate::Ledger,
    ) -> Result<usize, LedgerError> {
        let choices = self.marketing_choices()?;
        for c in &choices {
            ledger.set_marketing_opt_out(c.member, c.opted_out, c.at)?;
        }
        Ok(choices.len())
    }

    /// Every entry held from `till`, in journal order.
    ///
    /// # Errors
    /// Storage errors; [`LedgerError::Sync`] for a payload this build does not read.
    pub fn entries(&self, till: TillId) -> Result<Vec<(u64, JournalEntry)>, LedgerError> {
        let rows = in_read!(self, |t| t.payloads(till))?;
        rows.into_iter()
            .map(|(seq, payload)| {
                let entry = JournalEntry::from_payload(&payload)
                    .map_err(|e| SyncError::Malformed(format!("record {seq}: {e}")))?;
                Ok((seq, entry))
            })
            .collect()
    }
}

/// What an ingest decided, before the acknowledgement is signed.
type IngestOutcome = (
    usize,
    usize,
    u64,
    Vec<(u64, u64)>,
    Option<crate::DenyListDelta>,
);

/// The body of [`HeadOffice::ingest`], in one transaction.
fn ingest_in<T: SyncTx>(
    t: &mut T,
    merchant: MerchantId,
    batch: &JournalBatch,
    entries: &[JournalEntry],
) -> Result<IngestOutcome, T::Error> {
    let till = batch.till;
    let mut through = t.lock_till(till)?;
    let held: std::collections::HashMap<u64, Vec<u8>> = match batch.range() {
        Some((first, last)) => t.record_macs(till, first, last)?.into_iter().collect(),
        None => Default::default(),
    };
    let mut new = Vec::new();
    let mut previous = batch.previous;
    for record in &batch.records {
        match held.get(&record.seq) {
            Some(mac) if *mac == record.mac => {}
            Some(_) => {
                return Err(SyncError::Forked {
                    till,
                    seq: record.seq,
                }
                .into());
            }
            None => new.push(NewRecord {
                seq: record.seq,
                previous,
                mac: record.mac,
                payload: &record.payload,
            }),
        }
        previous = record.mac;
    }
    let duplicates = batch.records.len() - new.len();
    t.insert_records(till, &new)?;
    let mut touched = BTreeSet::new();
    let mut redemptions = Vec::new();
    for (record, entry) in batch.records.iter().zip(entries) {
        if held.contains_key(&record.seq) {
            continue;
        }
        match entry {
            JournalEntry::Redeemed { receipt, terms } => {
                redemptions.push((record.seq, receipt, terms));
                touched.insert(receipt.voucher.0);
            }
            JournalEntry::Voided {
                receipt,
                voucher,
                at,
            } => {
                // A void may follow its redemption in this batch: store those first. (One whose
                // redemption has not arrived yet is kept, and applied when it does.)
                t.insert_redemptions(till, &std::mem::take(&mut redemptions))?;
                t.void_redemption(till, *receipt, at.timestamp_micros())?;
                touched.insert(voucher.0);
            }
            JournalEntry::Revoked { voucher, at } => {
                t.insert_revocation(*voucher, at.timestamp_micros())?;
                touched.insert(voucher.0);
            }
            JournalEntry::MarketingChoice {
                member,
                opted_out,
                at,
            } => t.record_marketing_choice(member.0, *opted_out, at.timestamp_micros())?,
            _ => {}
        }
    }
    t.insert_redemptions(till, &redemptions)?;
    check_neighbours(t, batch)?;
    let after = t.seqs_after(till, through)?;
    for &seq in &after {
        if seq != through + 1 {
            break;
        }
        through = seq;
    }
    t.set_through(till, through)?;
    deny::refresh(t, &touched)?;
    let delta = deny::delta_since(t, merchant, batch.deny_list_version)?;
    Ok((new.len(), duplicates, through, gaps(through, &after), delta))
}

/// The ranges missing between `through` and the last of `held` (ascending).
fn gaps(through: u64, held: &[u64]) -> Vec<(u64, u64)> {
    let mut missing = Vec::new();
    let mut expected = through + 1;
    for &seq in held.iter().filter(|&&s| s > through) {
        if seq > expected {
            missing.push((expected, seq - 1));
        }
        expected = seq + 1;
    }
    missing
}

/// Refuses a batch whose first record does not chain from the record before it, or whose
/// last does not lead to the record after it, when the head office holds those.
fn check_neighbours<T: SyncTx>(t: &mut T, batch: &JournalBatch) -> Result<(), T::Error> {
    let (Some((first, last)), Some(last_record)) = (batch.range(), batch.records.last()) else {
        return Ok(());
    };
    let till = batch.till;
    if first > 1
        && t.record_mac(till, first - 1)?
            .is_some_and(|mac| mac != batch.previous)
    {
        return Err(SyncError::BrokenChain { till, seq: first }.into());
    }
    if t.record_previous(till, last + 1)?
        .is_some_and(|p| p != last_record.mac)
    {
        return Err(SyncError::BrokenChain {
            till,
            seq: last + 1,
        }
        .into());
    }
    Ok(())
}
