//! The durable ledger on SQLite (bundled, so a fresh machine needs nothing installed).
//!
//! - **Durability**: WAL journal with `synchronous = FULL`: a commit returns only after the
//!   WAL is on disk, so an acknowledged redemption survives a crash or a power cut. (`NORMAL`
//!   would be faster but may lose the last commits on power loss; a till must not.)
//! - **Several processes**: every write runs in a `BEGIN IMMEDIATE` transaction, which takes
//!   the file's write lock before reading the state it decides on, so two tills sharing a
//!   back-office file cannot both spend a single-use voucher. Waiting for the lock is bounded
//!   by a busy timeout ([`SqliteLedger::BUSY_TIMEOUT`]); past it the call fails with
//!   [`LedgerError::Busy`] and changes nothing.
//! - **Bad files**: see the `schema` module: nothing is written to a file that is not an
//!   o2okit ledger.
//!
//! Storage: u64 ids and amounts are stored as the i64 with the same bits; instants as Unix
//! microseconds.

mod members;
mod schema;

use super::account::{Account, Movement, MovementKind, MovementRequest};
use super::members::{CheckInOutcome, CheckInRequest, check_request};
use super::record::{Terms, VoucherRecord};
use super::{
    IdempotencyKey, Ledger, LedgerError, LedgerEvent, Receipt, ReceiptId, RedeemOutcome,
    RedeemRequest, VisitEvent, check_merchant, ledger_instant, replay, sort_history, visit_of,
};
use crate::ids::{CampaignId, MemberId, MerchantId, StoreId, VoucherId};
use crate::local_time::LocalDateTime;
use crate::member::{CardNumber, Member};
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Maps SQLite failures to ledger errors.
pub(crate) fn sqlite_error(e: rusqlite::Error) -> LedgerError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                LedgerError::Busy
            }
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt => {
                LedgerError::Corrupt(e.to_string())
            }
            _ => LedgerError::Storage(e.to_string()),
        },
        _ => LedgerError::Storage(e.to_string()),
    }
}

/// u64 → the i64 with the same bits.
fn int(value: u64) -> i64 {
    value as i64
}

/// The i64 with the same bits → u64.
fn uint(value: i64) -> u64 {
    value as u64
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn instant(micros: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, micros))
}

fn opt_instant(micros: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    micros.map(instant).transpose()
}

fn key_of(text: String) -> rusqlite::Result<IdempotencyKey> {
    IdempotencyKey::new(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

const RECEIPT_COLUMNS: &str = "id, voucher, store, member, at, spend, amount, idempotency_key";

fn receipt_of(row: &Row<'_>) -> rusqlite::Result<Receipt> {
    Ok(Receipt {
        id: ReceiptId(uint(row.get(0)?)),
        voucher: VoucherId(uint(row.get(1)?)),
        store: StoreId(row.get(2)?),
        member: row.get::<_, Option<i64>>(3)?.map(|m| MemberId(uint(m))),
        at: instant(row.get(4)?)?,
        spend_minor: uint(row.get(5)?),
        amount_minor: uint(row.get(6)?),
        idempotency_key: key_of(row.get(7)?)?,
    })
}

const MOVEMENT_COLUMNS: &str =
    "id, member, kind, amount, at, idempotency_key, points_after, balance_after";

fn movement_of(row: &Row<'_>) -> rusqlite::Result<Movement> {
    let code: u8 = row.get(2)?;
    let amount = uint(row.get(3)?);
    Ok(Movement {
        id: uint(row.get(0)?),
        member: MemberId(uint(row.get(1)?)),
        kind: MovementKind::from_code(code, amount)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(2, i64::from(code)))?,
        at: instant(row.get(4)?)?,
        idempotency_key: key_of(row.get(5)?)?,
        points_after: uint(row.get(6)?),
        balance_after_minor: uint(row.get(7)?),
    })
}

fn load_record(tx: &Connection, voucher: VoucherId) -> rusqlite::Result<Option<VoucherRecord>> {
    tx.prepare_cached(
        "SELECT has_terms, max_uses, max_uses_per_member, face_value, valid_until, campaign,
                uses, value_spent, issued_at, revoked_at
         FROM vouchers WHERE voucher = ?1",
    )?
    .query_row([int(voucher.0)], |row| {
        let terms = if row.get::<_, bool>(0)? {
            Some(Terms {
                max_uses: row.get(1)?,
                max_uses_per_member: row.get(2)?,
                face_value_minor: row.get::<_, Option<i64>>(3)?.map(uint),
                valid_until: row
                    .get::<_, Option<u32>>(4)?
                    .map(|m| {
                        LocalDateTime::from_minutes_since_epoch(m)
                            .ok_or(rusqlite::Error::IntegralValueOutOfRange(4, i64::from(m)))
                    })
                    .transpose()?,
                campaign: row.get::<_, Option<u32>>(5)?.map(CampaignId),
            })
        } else {
            None
        };
        Ok(VoucherRecord {
            voucher,
            terms,
            uses: row.get(6)?,
            value_spent_minor: uint(row.get(7)?),
            issued_at: opt_instant(row.get(8)?)?,
            revoked_at: opt_instant(row.get(9)?)?,
        })
    })
    .optional()
}

fn store_record(tx: &Connection, r: &VoucherRecord) -> rusqlite::Result<()> {
    let t = r.terms;
    tx.prepare_cached(
        "INSERT INTO vouchers (voucher, has_terms, max_uses, max_uses_per_member, face_value,
                               valid_until, campaign, uses, value_spent, issued_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (voucher) DO UPDATE SET
             has_terms = excluded.has_terms, max_uses = excluded.max_uses,
             max_uses_per_member = excluded.max_uses_per_member,
             face_value = excluded.face_value, valid_until = excluded.valid_until,
             campaign = excluded.campaign, uses = excluded.uses,
             value_spent = excluded.value_spent, issued_at = excluded.issued_at,
             revoked_at = excluded.revoked_at",
    )?
    .execute(params![
        int(r.voucher.0),
        t.is_some(),
        t.map(|t| t.max_uses),
        t.and_then(|t| t.max_uses_per_member),
        t.and_then(|t| t.face_value_minor).map(int),
        t.and_then(|t| t.valid_until)
            .map(|u| u.minutes_since_epoch()),
        t.and_then(|t| t.campaign).map(|c| c.0),
        r.uses,
        int(r.value_spent_minor),
        r.issued_at.map(micros),
        r.revoked_at.map(micros),
    ])?;
    Ok(())
}

fn insert_visit(tx: &Connection, v: &VisitEvent) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO visits (member, store, at, spend, voucher, campaign, discount)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        v.member.map(|m| int(m.0)),
        v.store.0,
        micros(v.at),
        int(v.spend_minor),
        v.voucher.map(|id| int(id.0)),
        v.campaign.map(|c| c.0),
        int(v.discount_minor),
    ])?;
    Ok(())
}

/// A ledger in a SQLite file. Each value holds one connection; give each thread (or till) its
/// own `SqliteLedger` on the same file for parallel work, or share one (calls then take turns).
pub struct SqliteLedger {
    merchant: MerchantId,
    conn: Mutex<Connection>,
}

impl SqliteLedger {
    /// How long a call waits for another process's write lock before failing with
    /// [`LedgerError::Busy`].
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

    /// Opens (or creates) the ledger file of `merchant` at `path`.
    ///
    /// # Errors
    /// [`LedgerError::NotADatabase`] or [`LedgerError::ForeignDatabase`] for a file that is
    /// not an o2okit ledger (it is left untouched), [`LedgerError::SchemaTooNew`],
    /// [`LedgerError::WrongMerchant`], [`LedgerError::Busy`], [`LedgerError::Storage`].
    pub fn open(path: impl AsRef<Path>, merchant: MerchantId) -> Result<Self, LedgerError> {
        Self::open_with_busy_timeout(path, merchant, Self::BUSY_TIMEOUT)
    }

    /// As [`SqliteLedger::open`], waiting at most `busy_timeout` for another process's lock.
    ///
    /// # Errors
    /// As [`SqliteLedger::open`].
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        merchant: MerchantId,
        busy_timeout: Duration,
    ) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        // A ledger is created only where no file exists: an existing file — even an empty one,
        // say a ledger truncated by a failed restore — must prove it is a ledger first, through
        // a connection that cannot write to it.
        if path.exists() {
            schema::identify_existing(path, &shown)?;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LedgerError::Storage(format!("{shown}: {e}")))?;
        conn.busy_timeout(busy_timeout).map_err(sqlite_error)?;
        schema::prepare(&mut conn, &shown, merchant)?;
        Ok(SqliteLedger {
            merchant,
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction when it is dropped, so a poisoned lock
        // guards nothing half-written.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits it if `f` succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let value = f(&tx)?;
        tx.commit().map_err(sqlite_error)?;
        Ok(value)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LedgerError> {
        f(&self.lock()).map_err(sqlite_error)
    }
}

impl Ledger for SqliteLedger {
    fn merchant(&self) -> MerchantId {
        self.merchant
    }

    fn record_issue(&self, voucher: &Voucher, at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_merchant(self.merchant, voucher.merchant)?;
        self.write(|tx| {
            let existing = load_record(tx, voucher.id).map_err(sqlite_error)?;
            let record = VoucherRecord::issued(existing, voucher, at)?;
            store_record(tx, &record).map_err(sqlite_error)
        })
    }

    fn redeem(&self, request: &RedeemRequest<'_>) -> Result<RedeemOutcome, LedgerError> {
        let acceptance = request.acceptance;
        let voucher = acceptance.voucher();
        check_merchant(self.merchant, voucher.merchant)?;
        let key = request.idempotency_key.as_str();
        self.write(|tx| {
            let earlier = tx
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS}, voided_at IS NOT NULL FROM receipts
                     WHERE idempotency_key = ?1"
                ))
                .and_then(|mut s| {
                    s.query_row([key], |row| Ok((receipt_of(row)?, row.get::<_, bool>(8)?)))
                        .optional()
                })
                .map_err(sqlite_error)?;
            if let Some((receipt, voided)) = earlier {
                return replay(receipt, voided, request);
            }
            let member = acceptance.member();
            let member_uses: u32 = match member {
                Some(m) => tx
                    .prepare_cached(
                        "SELECT count(*) FROM receipts
                         WHERE voucher = ?1 AND member = ?2 AND voided_at IS NULL",
                    )
                    .and_then(|mut s| s.query_row([int(voucher.id.0), int(m.0)], |r| r.get(0)))
                    .map_err(sqlite_error)?,
                None => 0,
            };
            let existing = load_record(tx, voucher.id).map_err(sqlite_error)?;
            let mut record = VoucherRecord::for_redemption(existing, voucher);
            let admitted = match record.admit(member, member_uses, request.requested_minor()) {
                Ok(admitted) => admitted,
                Err(reason) => return Ok(RedeemOutcome::Refused { reason }),
            };
            record.apply_redemption(admitted);
            store_record(tx, &record).map_err(sqlite_error)?;
            tx.prepare_cached(
                "INSERT INTO receipts (idempotency_key, voucher, store, member, at, spend, amount)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    int(voucher.id.0),
                    acceptance.store().0,
                    member.map(|m| int(m.0)),
                    micros(acceptance.at()),
                    int(acceptance.spend_minor()),
                    int(admitted.amount_minor),
                ])
            })
            .map_err(sqlite_error)?;
            let receipt = Receipt {
                id: ReceiptId(uint(tx.last_insert_rowid())),
                voucher: voucher.id,
                store: acceptance.store(),
                member,
                at: ledger_instant(acceptance.at()),
                spend_minor: acceptance.spend_minor(),
                amount_minor: admitted.amount_minor,
                idempotency_key: request.idempotency_key.clone(),
            };
            insert_visit(tx, &visit_of(acceptance, admitted.amount_minor)).map_err(sqlite_error)?;
            Ok(RedeemOutcome::Redeemed {
                receipt,
                replayed: false,
            })
        })
    }

    fn void(&self, receipt: ReceiptId, at: DateTime<Utc>) -> Result<VoucherRecord, LedgerError> {
        self.write(|tx| {
            let row: Option<(i64, i64, Option<i64>)> = tx
                .prepare_cached("SELECT voucher, amount, voided_at FROM receipts WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row([int(receipt.0)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()
                })
                .map_err(sqlite_error)?;
            let (voucher, amount, voided) = row.ok_or(LedgerError::UnknownReceipt(receipt))?;
            if voided.is_some() {
                return Err(LedgerError::AlreadyVoided(receipt));
            }
            let voucher = VoucherId(uint(voucher));
            let mut record = load_record(tx, voucher)
                .map_err(sqlite_error)?
                .ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "receipt {receipt} names unknown voucher {voucher}"
                    ))
                })?;
            record
                .apply_void(uint(amount))
                .map_err(LedgerError::Corrupt)?;
            store_record(tx, &record).map_err(sqlite_error)?;
            tx.prepare_cached("UPDATE receipts SET voided_at = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute([micros(at), int(receipt.0)]))
                .map_err(sqlite_error)?;
            Ok(record)
        })
    }

    fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        self.write(|tx| {
            let mut record = load_record(tx, voucher)
                .map_err(sqlite_error)?
                .unwrap_or_else(|| VoucherRecord::new(voucher, None));
            if record.revoked_at.is_some() {
                return Err(LedgerError::AlreadyRevoked(voucher));
            }
            record.revoked_at = Some(at);
            store_record(tx, &record).map_err(sqlite_error)
        })
    }

    fn record(&self, voucher: VoucherId) -> Result<Option<VoucherRecord>, LedgerError> {
        self.read(|c| load_record(c, voucher))
    }

    fn receipt(&self, id: ReceiptId) -> Result<Option<Receipt>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE id = ?1"
            ))?
            .query_row([int(id.0)], receipt_of)
            .optional()
        })
    }

    fn history(&self, voucher: VoucherId) -> Result<Vec<LedgerEvent>, LedgerError> {
        // One read transaction: the record and its receipts as of the same moment.
        let (record, receipts) = {
            let mut conn = self.lock();
            let tx = conn.transaction().map_err(sqlite_error)?;
            let record = load_record(&tx, voucher).map_err(sqlite_error)?;
            let receipts: Vec<(Receipt, Option<DateTime<Utc>>)> = tx
                .prepare_cached(&format!(
                    "SELECT {RECEIPT_COLUMNS}, voided_at FROM receipts WHERE voucher = ?1 ORDER BY id"
                ))
                .and_then(|mut s| {
                    s.query_map([int(voucher.0)], |row| {
                        Ok((receipt_of(row)?, opt_instant(row.get(8)?)?))
                    })?
                    .collect()
                })
                .map_err(sqlite_error)?;
            tx.commit().map_err(sqlite_error)?;
            (record, receipts)
        };
        let mut events = Vec::new();
        if let Some(record) = record {
            events.extend(record.issued_at.map(|at| LedgerEvent::Issued { at }));
            events.extend(record.revoked_at.map(|at| LedgerEvent::Revoked { at }));
        }
        for (receipt, voided) in receipts {
            let id = receipt.id;
            events.push(LedgerEvent::Redeemed { receipt });
            events.extend(voided.map(|at| LedgerEvent::Voided { receipt: id, at }));
        }
        sort_history(&mut events);
        Ok(events)
    }

    fn apply(&self, request: &MovementRequest) -> Result<Movement, LedgerError> {
        if request.kind.amount() == 0 {
            return Err(LedgerError::ZeroMovement);
        }
        let key = request.idempotency_key.as_str();
        self.write(|tx| {
            let earlier = tx
                .prepare_cached(&format!(
                    "SELECT {MOVEMENT_COLUMNS} FROM movements WHERE idempotency_key = ?1"
                ))
                .and_then(|mut s| s.query_row([key], movement_of).optional())
                .map_err(sqlite_error)?;
            if let Some(movement) = earlier {
                if movement.member != request.member || movement.kind != request.kind {
                    return Err(LedgerError::IdempotencyConflict(key.to_owned()));
                }
                return Ok(movement);
            }
            let account = load_account(tx, request.member).map_err(sqlite_error)?;
            let after = account.checked_after(request.kind)?;
            tx.prepare_cached(
                "INSERT INTO accounts (member, points, balance) VALUES (?1, ?2, ?3)
                 ON CONFLICT (member) DO UPDATE SET points = excluded.points,
                                                    balance = excluded.balance",
            )
            .and_then(|mut s| {
                s.execute([
                    int(request.member.0),
                    int(after.points),
                    int(after.balance_minor),
                ])
            })
            .map_err(sqlite_error)?;
            tx.prepare_cached(
                "INSERT INTO movements (idempotency_key, member, kind, amount, at, points_after,
                                        balance_after)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    int(request.member.0),
                    request.kind.code(),
                    int(request.kind.amount()),
                    micros(request.at),
                    int(after.points),
                    int(after.balance_minor),
                ])
            })
            .map_err(sqlite_error)?;
            Ok(Movement {
                id: uint(tx.last_insert_rowid()),
                member: request.member,
                kind: request.kind,
                at: request.at,
                idempotency_key: request.idempotency_key.clone(),
                points_after: after.points,
                balance_after_minor: after.balance_minor,
            })
        })
    }

    fn account(&self, member: MemberId) -> Result<Account, LedgerError> {
        self.read(|c| load_account(c, member))
    }

    fn movements(&self, member: MemberId) -> Result<Vec<Movement>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MOVEMENT_COLUMNS} FROM movements WHERE member = ?1 ORDER BY id"
            ))?
            .query_map([int(member.0)], movement_of)?
            .collect()
        })
    }

    fn record_visit(&self, visit: &VisitEvent) -> Result<(), LedgerError> {
        self.write(|tx| insert_visit(tx, visit).map_err(sqlite_error))
    }

    fn visits(&self) -> Result<Vec<VisitEvent>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT member, store, at, spend, voucher, campaign, discount
                 FROM visits ORDER BY at, id",
            )?
            .query_map([], |row| {
                Ok(VisitEvent {
                    member: row.get::<_, Option<i64>>(0)?.map(|m| MemberId(uint(m))),
                    store: StoreId(row.get(1)?),
                    at: instant(row.get(2)?)?,
                    spend_minor: uint(row.get(3)?),
                    voucher: row.get::<_, Option<i64>>(4)?.map(|v| VoucherId(uint(v))),
                    campaign: row.get::<_, Option<u32>>(5)?.map(CampaignId),
                    discount_minor: uint(row.get(6)?),
                })
            })?
            .collect()
        })
    }

    fn has_visited(&self, member: MemberId) -> Result<bool, LedgerError> {
        self.read(|c| {
            c.prepare_cached("SELECT EXISTS (SELECT 1 FROM visits WHERE member = ?1)")?
                .query_row([int(member.0)], |r| r.get(0))
        })
    }

    fn has_bought(&self, member: MemberId) -> Result<bool, LedgerError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM visits
                                WHERE member = ?1 AND (spend > 0 OR voucher IS NOT NULL))",
            )?
            .query_row([int(member.0)], |r| r.get(0))
        })
    }

    fn check_in(&self, request: &CheckInRequest<'_>) -> Result<CheckInOutcome, LedgerError> {
        check_request(self.merchant, request)?;
        self.write(|tx| members::check_in(tx, self.merchant, request))
    }

    fn member(&self, id: MemberId) -> Result<Option<Member>, LedgerError> {
        let found = self.read(|c| members::find_member(c, self.merchant, "member", int(id.0)))?;
        Ok(found.map(|(_, m)| m))
    }

    fn member_by_card(&self, card: &CardNumber) -> Result<Option<Member>, LedgerError> {
        let found =
            self.read(|c| members::find_member(c, self.merchant, "card", int(card.serial())))?;
        Ok(found.map(|(_, m)| m))
    }

    fn members(&self) -> Result<Vec<Member>, LedgerError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM members ORDER BY enrolled_at, rowid",
                members::MEMBER_COLUMNS
            ))?
            .query_map([], |row| {
                members::member_of(self.merchant, row).map(|(_, m)| m)
            })?
            .collect()
        })
    }
}

fn load_account(c: &Connection, member: MemberId) -> rusqlite::Result<Account> {
    Ok(
        c.prepare_cached("SELECT points, balance FROM accounts WHERE member = ?1")?
            .query_row([int(member.0)], |r| {
                Ok(Account {
                    points: uint(r.get(0)?),
                    balance_minor: uint(r.get(1)?),
                })
            })
            .optional()?
            .unwrap_or_default(),
    )
}
