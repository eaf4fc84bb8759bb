//! The chain's ledger on PostgreSQL: one database that every till of every store shares.
//!
//! # Concurrency: row locks in a fixed order, at READ COMMITTED
//! Every write runs at PostgreSQL's default isolation, READ COMMITTED, and first locks the one
//! row its decision depends on with `SELECT … FOR UPDATE`: the voucher for a redemption, a
//! revocation or an issue; the receipt, then its voucher, for a void; the member's account for
//! a movement; the member for a check-in. Only then does it read what the rules in
//! [`crate::ledger::record`] need (the idempotency key's earlier receipt, the member's uses),
//! each in a new statement, which at READ COMMITTED sees every transaction committed before
//! it, including the one that held the lock last. So two tills racing on a voucher take turns,
//! and the second decides on the first one's outcome.
//!
//! Why not SERIALIZABLE: it would be correct too, but PostgreSQL's serializable snapshot
//! isolation aborts transactions on read/write dependencies it only suspects, and under 32
//! tills redeeming at once most of the retries would be false alarms; row locks make the
//! waiting explicit and cost nothing when there is no contention. A row that does not exist
//! yet cannot be locked: two first writes of the same voucher, account or member both insert,
//! the primary key refuses the second, and its whole transaction runs again (at most
//! `MAX_ATTEMPTS`, together with serialization failures and deadlocks, SQLSTATE 40001 and
//! 40P01). Nothing in the hot path is PostgreSQL-only (no advisory locks, no stored
//! procedures): the statements are plain SQL with `FOR UPDATE`, `ON CONFLICT` and `WITH`,
//! which CockroachDB and YugabyteDB also run.
//!
//! # Failures
//! - The server cannot be reached, or the connection breaks before a commit was sent:
//!   [`LedgerError::Unavailable`]; nothing was written.
//! - The connection breaks while committing: [`LedgerError::OutcomeUnknown`]. The write may or
//!   may not be recorded; repeat the call with the same idempotency key, which returns the
//!   committed receipt or redeems once.
//! - A lock or statement waits past the statement timeout: [`LedgerError::Busy`].
//!
//! # Round trips
//! Each connection is driven in the calling thread, and statements that need no answer in
//! between travel together: a redemption sends `BEGIN`, the voucher's lock and the reads that
//! follow it in one round trip, then the voucher, receipt and visit writes with `COMMIT` in a
//! second.
//!
//! # From an async backend
//! Every call blocks its thread on the network (calling it on an async worker thread panics,
//! as any blocking client does). In a tokio service, run it on the blocking pool, sharing one
//! ledger (it holds a pool of connections) through an [`std::sync::Arc`]:
//!
//! ```no_run
//! # async fn handler(ledger: std::sync::Arc<o2okit::PgLedger>, acceptance: o2okit::Acceptance,
//! #     key: o2okit::IdempotencyKey) -> Result<(), Box<dyn std::error::Error>> {
//! use o2okit::{Ledger, RedeemRequest};
//! let outcome = tokio::task::spawn_blocking(move || {
//!     ledger.redeem(&RedeemRequest::new(&acceptance, &key))
//! })
//! .await??;
//! # let _ = outcome; Ok(()) }
//! ```
//!
//! The connection string never appears in an error or in `Debug` output.

pub(crate) mod pool;
mod rows;
mod schema;

use super::Offer;
use super::account::{Account, Movement, MovementRequest};
use super::members::{
    CheckInOutcome, CheckInRequest, EarlierCheckIns, check_request, free_card_serial, hour_of,
    new_member, refusal, visit_of_check_in,
};
use super::record::VoucherRecord;
use super::{
    Ledger, LedgerError, LedgerEvent, Receipt, ReceiptId, RedeemOutcome, RedeemRequest, VisitEvent,
    check_instant, check_merchant, check_void, history_of, recorded_movement, recorded_receipt,
    replay, visit_of,
};
use crate::ids::{CampaignId, MemberId, MerchantId, VoucherId};
use crate::membership::member::{CardNumber, Member};
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use pool::{Failure, Finish, Pool, Settings, Tx};
use rows::*;
use std::fmt;
use std::time::Duration;

/// How [`PgLedger::connect_with`] connects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgOptions {
    /// The most connections the ledger opens (calls beyond wait for one). Default 16.
    pub max_connections: usize,
    /// How long connecting, or waiting for a free connection, may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long one statement, lock waits included, may take before the call fails with
    /// [`LedgerError::Busy`]. Default 10 s.
    pub statement_timeout: Duration,
    /// Register the merchant in a database that already serves other merchants (the head
    /// office adds a merchant once). Without it such a database is refused. Default false.
    pub register_merchant: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
            register_merchant: false,
        }
    }
}

impl PgOptions {
    /// Sets [`PgOptions::max_connections`] (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`PgOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`PgOptions::statement_timeout`].
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets [`PgOptions::register_merchant`].
    pub fn register_merchant(mut self, register: bool) -> Self {
        self.register_merchant = register;
        self
    }
}

/// A ledger in a PostgreSQL database that many tills, processes and machines share. One value
/// is shared by every thread of a process (it keeps a pool of connections); see the module
/// documentation for how it stays exactly-once.
///
/// # Example
/// ```no_run
/// use o2okit::{Ledger, MerchantId, PgLedger};
/// let ledger = PgLedger::connect("host=db.example user=o2okit dbname=loyalty", MerchantId(7))?;
/// assert_eq!(ledger.merchant(), MerchantId(7));
/// # Ok::<(), o2okit::LedgerError>(())
/// ```
pub struct PgLedger {
    merchant: MerchantId,
    pool: Pool,
}

impl fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLedger")
            .field("merchant", &self.merchant)
            .finish_non_exhaustive()
    }
}

/// Voucher records written per transaction by [`Ledger::record_issues`].
const ISSUES_PER_TRANSACTION: usize = 256;

impl PgLedger {
    /// Connects to the database named by `conninfo` (libpq `key=value` pairs or a
    /// `postgresql://` URL), creating or migrating the schema and checking that it serves
    /// `merchant` (the first merchant of an empty database is registered).
    ///
    /// # Errors
    /// [`LedgerError::InvalidRequest`] for a connection string that does not parse;
    /// [`LedgerError::Unavailable`] when the server cannot be reached;
    /// [`LedgerError::SchemaTooNew`]; [`LedgerError::UnregisteredMerchant`]; storage errors.
    pub fn connect(conninfo: &str, merchant: MerchantId) -> Result<Self, LedgerError> {
        Self::connect_with(conninfo, merchant, PgOptions::default())
    }

    /// As [`PgLedger::connect`], with pool size, timeouts and merchant registration set.
    ///
    /// # Errors
    /// As [`PgLedger::connect`].
    pub fn connect_with(
        conninfo: &str,
        merchant: MerchantId,
        options: PgOptions,
    ) -> Result<Self, LedgerError> {
        // The parser's message could quote the string, password included: say only where.
        let mut config: tokio_postgres::Config = conninfo.parse().map_err(|_| {
            LedgerError::InvalidRequest(
                "the PostgreSQL connection string does not parse (libpq key=value pairs or a \
                 postgresql:// URL)"
                    .into(),
            )
        })?;
        config.connect_timeout(options.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("o2okit");
        }
        let pool = Pool::new(
            Settings {
                config,
                max_connections: options.max_connections.max(1),
                connect_timeout: options.connect_timeout,
            },
            options.statement_timeout,
        );
        schema::prepare(&pool, merchant, options.register_merchant)?;
        Ok(PgLedger { merchant, pool })
    }

    /// Sets how long one statement, lock waits included, may take in later calls before they
    /// fail with [`LedgerError::Busy`].
    pub fn set_statement_timeout(&self, timeout: Duration) {
        self.pool.set_statement_timeout(timeout);
    }

    fn id(&self) -> i64 {
        i64::from(self.merchant.0)
    }

    /// The connection pool (the head office's sync tables live in the same database).
    #[cfg(feature = "sqlite")]
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

const LOCK_VOUCHER: &str = concat!(
    "SELECT ",
    voucher_columns!(),
    " FROM o2okit_vouchers WHERE merchant = $1 AND voucher = $2 FOR UPDATE"
);
const READ_VOUCHER: &str = concat!(
    "SELECT ",
    voucher_columns!(),
    " FROM o2okit_vouchers WHERE merchant = $1 AND voucher = $2"
);
const INSERT_VOUCHER: &str = "INSERT INTO o2okit_vouchers (merchant, voucher, has_terms, \
     max_uses, max_uses_per_member, face_value, valid_until, campaign, uses, value_spent, \
     issued_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const UPDATE_VOUCHER: &str = "UPDATE o2okit_vouchers SET has_terms = $3, max_uses = $4, \
     max_uses_per_member = $5, face_value = $6, valid_until = $7, campaign = $8, uses = $9, \
     value_spent = $10, issued_at = $11, revoked_at = $12 WHERE merchant = $1 AND voucher = $2";

/// The voucher's row, locked for the rest of the transaction (`None`: no row to lock yet).
fn lock_voucher(
    tx: &mut Tx<'_>,
    merchant: i64,
    voucher: VoucherId,
) -> Result<Option<VoucherRecord>, Failure> {
    Ok(tx
        .query_opt(LOCK_VOUCHER, &[&merchant, &int(voucher.0)])?
        .map(|row| voucher_of(&row))
        .transpose()?)
}

/// Writes a record: an update of the locked row, or an insert when there was none (a
/// concurrent first insert makes this one fail on the key, and the transaction runs again).
fn store_voucher(
    tx: &mut Tx<'_>,
    merchant: i64,
    record: &VoucherRecord,
    existed: bool,
) -> Result<(), Failure> {
    let columns = VoucherColumns::of(record);
    let id = int(record.voucher.0);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&merchant, &id];
    params.extend(columns.params());
    let sql = if existed {
        UPDATE_VOUCHER
    } else {
        INSERT_VOUCHER
    };
    tx.execute(sql, &params)?;
    Ok(())
}

const INSERT_VISIT: &str = "INSERT INTO o2okit_visits (merchant, member, store, at, spend, \
     voucher, campaign, discount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

fn insert_visit(tx: &mut Tx<'_>, merchant: i64, visit: &VisitEvent) -> Result<(), Failure> {
    let columns = VisitColumns::of(visit);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&merchant];
    params.extend(columns.params());
    tx.execute(INSERT_VISIT, &params)?;
    Ok(())
}

/// After the voucher's lock: the receipt of the idempotency key, if any, and the member's
/// redemptions of the voucher that count, in one statement.
const EARLIER_REDEMPTIONS: &str = concat!(
    "SELECT (SELECT count(*) FROM o2okit_receipts WHERE merchant = $1 AND voucher = $3 \
         AND member = $4 AND voided_at IS NULL), r.",
    "id, r.voucher, r.store, r.member, r.at, r.spend, r.amount, r.idempotency_key, r.voided_at \
     FROM (SELECT 1) AS one LEFT JOIN o2okit_receipts AS r \
     ON r.merchant = $1 AND r.idempotency_key = $2"
);

/// The visit and the receipt of a redemption, after its voucher's write.
macro_rules! redemption {
    ($voucher_write:expr) => {
        concat!(
            "WITH record AS (",
            $voucher_write,
            "), visit AS (INSERT INTO o2okit_visits (merchant, member, store, at, spend, \
             voucher, campaign, discount) VALUES ($1, $9, $10, $11, $12, $13, $14, $15)) \
             INSERT INTO o2okit_receipts (merchant, idempotency_key, voucher, store, member, \
             at, spend, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
        )
    };
}

/// A redemption of a voucher with a row (locked): `$16`–`$25` are its new columns.
const REDEEM_UPDATING: &str = redemption!(
    "UPDATE o2okit_vouchers SET has_terms = $16, max_uses = $17, max_uses_per_member = $18, \
     face_value = $19, valid_until = $20, campaign = $21, uses = $22, value_spent = $23, \
     issued_at = $24, revoked_at = $25 WHERE merchant = $1 AND voucher = $3"
);

/// A redemption of a voucher without a row yet: a concurrent first redemption makes this one
/// fail on the key, and the transaction runs again.
const REDEEM_INSERTING: &str = redemption!(
    "INSERT INTO o2okit_vouchers (merchant, voucher, has_terms, max_uses, \
     max_uses_per_member, face_value, valid_until, campaign, uses, value_spent, issued_at, \
     revoked_at) VALUES ($1, $3, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
);

const RECEIPT_BY_ID: &str = concat!(
    "SELECT ",
    receipt_columns!(),
    " FROM o2okit_receipts WHERE merchant = $1 AND id = $2"
);
const LOCK_RECEIPT: &str = concat!(
    "SELECT ",
    receipt_columns!(),
    " FROM o2okit_receipts WHERE merchant = $1 AND id = $2 FOR UPDATE"
);
const RECEIPTS_OF_VOUCHER: &str = concat!(
    "SELECT ",
    receipt_columns!(),
    " FROM o2okit_receipts WHERE merchant = $1 AND voucher = $2 ORDER BY id"
);

const LOCK_ACCOUNT: &str =
    "SELECT points, balance FROM o2okit_accounts WHERE merchant = $1 AND member = $2 FOR UPDATE";
const READ_ACCOUNT: &str =
    "SELECT points, balance FROM o2okit_accounts WHERE merchant = $1 AND member = $2";
const MOVEMENT_BY_KEY: &str = concat!(
    "SELECT ",
    movement_columns!(),
    " FROM o2okit_movements WHERE merchant = $1 AND idempotency_key = $2"
);

const LOCK_MEMBER: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM o2okit_members WHERE merchant = $1 AND member = $2 FOR UPDATE"
);

fn account_of(row: &tokio_postgres::Row) -> Account {
    Account {
        points: uint(row.get(0)),
        balance_minor: uint(row.get(1)),
    }
}

impl Ledger for PgLedger {
    fn merchant(&self) -> MerchantId {
        self.merchant
    }

    fn record_issue(&self, voucher: &Voucher, at: DateTime<Utc>) -> Result<(), LedgerError> {
        self.record_issues(std::slice::from_ref(voucher), at)
    }

    fn record_issues(&self, vouchers: &[Voucher], at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        if let Some(other) = vouchers.iter().find(|v| v.merchant != self.merchant) {
            check_merchant(self.merchant, other.merchant)?;
        }
        let merchant = self.id();
        for chunk in vouchers.chunks(ISSUES_PER_TRANSACTION) {
            // Locks taken in voucher order: two overlapping batches cannot deadlock.
            let mut sorted: Vec<&Voucher> = chunk.iter().collect();
            sorted.sort_by_key(|v| v.id);
            self.pool.write(|tx| {
                for voucher in &sorted {
                    let existing = lock_voucher(tx, merchant, voucher.id)?;
                    let existed = existing.is_some();
                    let record = VoucherRecord::issued(existing, voucher, at)?;
                    store_voucher(tx, merchant, &record, existed)?;
                    if let (Some(member), Some(issued_at)) = (voucher.member, record.issued_at) {
                        tx.execute(
                            "INSERT INTO o2okit_offers (merchant, voucher, member, campaign, \
                             issued_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                            &[
                                &merchant,
                                &int(voucher.id.0),
                                &int(member.0),
                                &voucher.campaign.map(|c| i64::from(c.0)),
                                &micros(issued_at),
                            ],
                        )?;
                    }
                }
                Ok(Finish::Commit(()))
            })?;
        }
        Ok(())
    }

    fn redeem(&self, request: &RedeemRequest<'_>) -> Result<RedeemOutcome, LedgerError> {
        check_instant(request.acceptance.at())?;
        let acceptance = request.acceptance;
        let voucher = acceptance.voucher();
        check_merchant(self.merchant, voucher.merchant)?;
        let merchant = self.id();
        let key = request.idempotency_key.as_str();
        let member = acceptance.member();
        let voucher_id = int(voucher.id.0);
        let member_id = member.map(|m| int(m.0));
        self.pool.write(|tx| {
            // One round trip: BEGIN, the voucher's lock, then (after the lock) the key's
            // earlier receipt and the member's uses.
            let [locked, earlier] = tx.pipeline([
                (LOCK_VOUCHER, &[&merchant, &voucher_id]),
                (
                    EARLIER_REDEMPTIONS,
                    &[&merchant, &key, &voucher_id, &member_id],
                ),
            ])?;
            let existing = locked.first().map(voucher_of).transpose()?;
            let earlier = earlier.first().ok_or_else(|| {
                LedgerError::Corrupt("the earlier-redemptions query returned no row".into())
            })?;
            if earlier.get::<_, Option<i64>>(1).is_some() {
                let (receipt, voided) = receipt_of(earlier, 1)?;
                return Ok(Finish::Rollback(replay(
                    receipt,
                    voided.is_some(),
                    request,
                )?));
            }
            let member_uses = u32::try_from(earlier.get::<_, i64>(0)).unwrap_or(u32::MAX);
            let existed = existing.is_some();
            let mut record = VoucherRecord::for_redemption(existing, voucher);
            let admitted = match record.admit(member, member_uses, request.requested_minor()) {
                Ok(admitted) => admitted,
                Err(reason) => return Ok(Finish::Rollback(RedeemOutcome::Refused { reason })),
            };
            record.apply_redemption(admitted);
            // The second round trip: the voucher, the receipt and the visit in one statement,
            // with COMMIT.
            let columns = VoucherColumns::of(&record);
            let visit = VisitColumns::of(&visit_of(acceptance, admitted.amount_minor));
            let (store, at, spend, amount) = (
                i64::from(acceptance.store().0),
                micros(acceptance.at()),
                int(acceptance.spend_minor()),
                int(admitted.amount_minor),
            );
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
                &merchant,
                &key,
                &voucher_id,
                &store,
                &member_id,
                &at,
                &spend,
                &amount,
            ];
            params.extend(visit.params());
            params.extend(columns.params());
            let sql = if existed {
                REDEEM_UPDATING
            } else {
                REDEEM_INSERTING
            };
            let rows = tx.query_and_commit(sql, &params)?;
            let id: i64 = rows
                .first()
                .ok_or_else(|| LedgerError::Corrupt("a redemption returned no receipt".into()))?
                .get(0);
            let receipt = recorded_receipt(ReceiptId(uint(id)), request, admitted.amount_minor);
            Ok(Finish::Commit(RedeemOutcome::Redeemed {
                receipt,
                replayed: false,
            }))
        })
    }

    fn void(&self, receipt: ReceiptId, at: DateTime<Utc>) -> Result<VoucherRecord, LedgerError> {
        check_instant(at)?;
        let merchant = self.id();
        self.pool.write(|tx| {
            let row = tx
                .query_opt(LOCK_RECEIPT, &[&merchant, &int(receipt.0)])?
                .ok_or(LedgerError::UnknownReceipt(receipt))?;
            let (found, voided) = receipt_of(&row, 0)?;
            check_void(receipt, found.at, voided.is_some(), at)?;
            let voucher = found.voucher;
            let mut record = lock_voucher(tx, merchant, voucher)?.ok_or_else(|| {
                LedgerError::Corrupt(format!("receipt {receipt} names unknown voucher {voucher}"))
            })?;
            record
                .apply_void(found.amount_minor)
                .map_err(LedgerError::Corrupt)?;
            store_voucher(tx, merchant, &record, true)?;
            tx.execute(
                "UPDATE o2okit_receipts SET voided_at = $3 WHERE merchant = $1 AND id = $2",
                &[&merchant, &int(receipt.0), &micros(at)],
            )?;
            Ok(Finish::Commit(record))
        })
    }

    fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        let merchant = self.id();
        self.pool.write(|tx| {
            let existing = lock_voucher(tx, merchant, voucher)?;
            let existed = existing.is_some();
            let mut record = existing.unwrap_or_else(|| VoucherRecord::new(voucher, None));
            if record.revoked_at.is_some() {
                return Err(LedgerError::AlreadyRevoked(voucher).into());
            }
            record.revoked_at = Some(at);
            store_voucher(tx, merchant, &record, existed)?;
            Ok(Finish::Commit(()))
        })
    }

    fn record(&self, voucher: VoucherId) -> Result<Option<VoucherRecord>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_opt(READ_VOUCHER, &[&merchant, &int(voucher.0)])?
                .map(|row| voucher_of(&row))
                .transpose()?)
        })
    }

    fn receipt(&self, id: ReceiptId) -> Result<Option<Receipt>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_opt(RECEIPT_BY_ID, &[&merchant, &int(id.0)])?
                .map(|row| receipt_of(&row, 0).map(|(receipt, _)| receipt))
                .transpose()?)
        })
    }

    fn history(&self, voucher: VoucherId) -> Result<Vec<LedgerEvent>, LedgerError> {
        let merchant = self.id();
        // One snapshot: the record and its receipts as of the same moment.
        let (record, receipts) = self.pool.read(|tx| {
            let record = tx
                .query_opt(READ_VOUCHER, &[&merchant, &int(voucher.0)])?
                .map(|row| voucher_of(&row))
                .transpose()?;
            let receipts = tx
                .query(RECEIPTS_OF_VOUCHER, &[&merchant, &int(voucher.0)])?
                .iter()
                .map(|row| receipt_of(row, 0))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((record, receipts))
        })?;
        Ok(history_of(record.as_ref(), receipts))
    }

    fn apply(&self, request: &MovementRequest) -> Result<Movement, LedgerError> {
        check_instant(request.at)?;
        if request.kind.amount() == 0 {
            return Err(LedgerError::ZeroMovement);
        }
        let merchant = self.id();
        let key = request.idempotency_key.as_str();
        let member = int(request.member.0);
        self.pool.write(|tx| {
            let locked = tx.query_opt(LOCK_ACCOUNT, &[&merchant, &member])?;
            if let Some(row) = tx.query_opt(MOVEMENT_BY_KEY, &[&merchant, &key])? {
                let movement = movement_of(&row)?;
                if movement.member != request.member || movement.kind != request.kind {
                    return Err(LedgerError::IdempotencyConflict(key.to_owned()).into());
                }
                return Ok(Finish::Rollback(movement));
            }
            let account = locked.as_ref().map(account_of).unwrap_or_default();
            let after = account.checked_after(request.kind)?;
            let (points, balance) = (int(after.points), int(after.balance_minor));
            let sql = if locked.is_some() {
                "UPDATE o2okit_accounts SET points = $3, balance = $4 \
                 WHERE merchant = $1 AND member = $2"
            } else {
                "INSERT INTO o2okit_accounts (merchant, member, points, balance) \
                 VALUES ($1, $2, $3, $4)"
            };
            tx.execute(sql, &[&merchant, &member, &points, &balance])?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO o2okit_movements (merchant, idempotency_key, member, kind, \
                     amount, at, points_after, balance_after) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &merchant,
                        &key,
                        &member,
                        &i16::from(request.kind.code()),
                        &int(request.kind.amount()),
                        &micros(request.at),
                        &points,
                        &balance,
                    ],
                )?
                .get(0);
            Ok(Finish::Commit(recorded_movement(uint(id), request, after)))
        })
    }

    fn account(&self, member: MemberId) -> Result<Account, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_opt(READ_ACCOUNT, &[&merchant, &int(member.0)])?
                .as_ref()
                .map(account_of)
                .unwrap_or_default())
        })
    }

    fn movements(&self, member: MemberId) -> Result<Vec<Movement>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query(
                    concat!(
                        "SELECT ",
                        movement_columns!(),
                        " FROM o2okit_movements WHERE merchant = $1 AND member = $2 ORDER BY id"
                    ),
                    &[&merchant, &int(member.0)],
                )?
                .iter()
                .map(movement_of)
                .collect::<Result<_, _>>()?)
        })
    }

    fn record_visit(&self, visit: &VisitEvent) -> Result<(), LedgerError> {
        check_instant(visit.at)?;
        let merchant = self.id();
        self.pool.write(|tx| {
            insert_visit(tx, merchant, visit)?;
            Ok(Finish::Commit(()))
        })
    }

    fn visits(&self) -> Result<Vec<VisitEvent>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query(
                    concat!(
                        "SELECT ",
                        visit_columns!(),
                        " FROM o2okit_visits WHERE merchant = $1 ORDER BY at, id"
                    ),
                    &[&merchant],
                )?
                .iter()
                .map(visit_of_row)
                .collect::<Result<_, _>>()?)
        })
    }

    fn set_marketing_opt_out(
        &self,
        member: MemberId,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        check_instant(at)?;
        let merchant = self.id();
        self.pool.write(|tx| {
            tx.execute(
                "INSERT INTO o2okit_marketing_opt_outs (merchant, member, opted_out, at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (merchant, member) DO UPDATE \
                 SET opted_out = excluded.opted_out, at = excluded.at \
                 WHERE excluded.at > o2okit_marketing_opt_outs.at \
                 OR (excluded.at = o2okit_marketing_opt_outs.at AND excluded.opted_out)",
                &[&merchant, &int(member.0), &opted_out, &micros(at)],
            )?;
            Ok(Finish::Commit(()))
        })
    }

    fn marketing_opt_outs(&self) -> Result<Vec<MemberId>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            let mut members: Vec<MemberId> = tx
                .query(
                    "SELECT member FROM o2okit_marketing_opt_outs \
                     WHERE merchant = $1 AND opted_out",
                    &[&merchant],
                )?
                .iter()
                .map(|row| MemberId(uint(row.get(0))))
                .collect();
            members.sort_unstable();
            Ok(members)
        })
    }

    fn offers_since(&self, since: DateTime<Utc>) -> Result<Vec<Offer>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            let mut offers = tx
                .query(
                    "SELECT voucher, member, campaign, issued_at FROM o2okit_offers \
                     WHERE merchant = $1 AND issued_at >= $2",
                    &[&merchant, &micros(since)],
                )?
                .iter()
                .map(|row| {
                    Ok(Offer {
                        voucher: VoucherId(uint(row.get(0))),
                        member: MemberId(uint(row.get(1))),
                        campaign: row
                            .get::<_, Option<i64>>(2)
                            .map(|c| CampaignId(u32::try_from(c).unwrap_or(u32::MAX))),
                        issued_at: instant(row.get(3))?,
                    })
                })
                .collect::<Result<Vec<_>, LedgerError>>()?;
            offers.sort_by_key(|o| (o.issued_at, o.voucher));
            Ok(offers)
        })
    }

    fn has_visited(&self, member: MemberId) -> Result<bool, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM o2okit_visits \
                     WHERE merchant = $1 AND member = $2)",
                    &[&merchant, &int(member.0)],
                )?
                .get(0))
        })
    }

    fn has_bought(&self, member: MemberId) -> Result<bool, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM o2okit_visits WHERE merchant = $1 \
                     AND member = $2 AND (spend > 0 OR voucher IS NOT NULL))",
                    &[&merchant, &int(member.0)],
                )?
                .get(0))
        })
    }

    fn check_in(&self, request: &CheckInRequest<'_>) -> Result<CheckInOutcome, LedgerError> {
        check_instant(request.at)?;
        check_request(self.merchant, request)?;
        let merchant = self.id();
        self.pool
            .write(|tx| check_in(tx, self.merchant, merchant, request))
    }

    fn member(&self, id: MemberId) -> Result<Option<Member>, LedgerError> {
        self.find_member("member", int(id.0))
    }

    fn member_by_card(&self, card: &CardNumber) -> Result<Option<Member>, LedgerError> {
        self.find_member("card", int(card.serial()))
    }

    fn members(&self) -> Result<Vec<Member>, LedgerError> {
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query(
                    concat!(
                        "SELECT ",
                        member_columns!(),
                        " FROM o2okit_members WHERE merchant = $1 ORDER BY enrolled_at, seq"
                    ),
                    &[&merchant],
                )?
                .iter()
                .map(|row| member_of(self.merchant, row).map(|(_, m)| m))
                .collect::<Result<_, _>>()?)
        })
    }
}

impl PgLedger {
    fn find_member(&self, column: &str, value: i64) -> Result<Option<Member>, LedgerError> {
        let sql = match column {
            "card" => concat!(
                "SELECT ",
                member_columns!(),
                " FROM o2okit_members WHERE merchant = $1 AND card = $2"
            ),
            _ => concat!(
                "SELECT ",
                member_columns!(),
                " FROM o2okit_members WHERE merchant = $1 AND member = $2"
            ),
        };
        let merchant = self.id();
        self.pool.read(|tx| {
            Ok(tx
                .query_opt(sql, &[&merchant, &value])?
                .map(|row| member_of(self.merchant, &row).map(|(_, m)| m))
                .transpose()?)
        })
    }
}

/// The check-in transaction: the member's row locked (or inserted), then the rules.
fn check_in(
    tx: &mut Tx<'_>,
    merchant_id: MerchantId,
    merchant: i64,
    request: &CheckInRequest<'_>,
) -> Result<Finish<CheckInOutcome>, Failure> {
    let id = request.pseudonym.member_id();
    let known = tx
        .query_opt(LOCK_MEMBER, &[&merchant, &int(id.0)])?
        .map(|row| member_of(merchant_id, &row))
        .transpose()?;
    let (member, enrolled) = match known {
        Some((pseudonym, _)) if pseudonym != *request.pseudonym => {
            return Err(LedgerError::IdentityCollision(id).into());
        }
        Some((_, member)) => (member, false),
        None => {
            let serial = free_card_serial(request.pseudonym, |s| {
                tx.query_one(
                    "SELECT EXISTS (SELECT 1 FROM o2okit_members \
                     WHERE merchant = $1 AND card = $2)",
                    &[&merchant, &int(s)],
                )
                .map(|row| row.get::<_, bool>(0))
            })?;
            (new_member(merchant_id, request, serial)?, true)
        }
    };
    let (store, hour) = (i64::from(request.check_in.store.0), hour_of(request));
    let step = request.check_in.step.map(int);
    let row = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM o2okit_check_ins WHERE merchant = $1 AND member = $2 \
             AND store = $3 AND step IS NOT DISTINCT FROM $4), \
         (SELECT max(hour) FROM o2okit_check_ins WHERE merchant = $1 AND member = $2 \
             AND store = $3)",
        &[&merchant, &int(id.0), &store, &step],
    )?;
    let earlier = EarlierCheckIns {
        step_seen: row.get(0),
        latest_hour: row.get::<_, Option<i64>>(1).map(uint),
    };
    if let Some(reason) = refusal(request, earlier) {
        return Ok(Finish::Rollback(CheckInOutcome::Refused { reason }));
    }
    if enrolled {
        if let Some(voucher) = request.welcome
            && lock_voucher(tx, merchant, voucher.id)?.is_some()
        {
            return Err(LedgerError::VoucherConflict(voucher.id).into());
        }
        tx.execute(
            concat!(
                "INSERT INTO o2okit_members (merchant, ",
                member_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &merchant,
                &int(id.0),
                &&request.pseudonym.as_bytes()[..],
                &int(member.card.serial()),
                &i64::from(member.enrolled_store.0),
                &member.referred_by.map(|m| int(m.0)),
                &micros(member.enrolled_at),
                &member.welcome_voucher.map(|v| int(v.0)),
            ],
        )?;
        if let Some(voucher) = request.welcome {
            let record = VoucherRecord::issued(None, voucher, request.at)?;
            store_voucher(tx, merchant, &record, false)?;
        }
    }
    tx.execute(
        "INSERT INTO o2okit_check_ins (merchant, member, store, hour, step, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &merchant,
            &int(id.0),
            &store,
            &int(hour),
            &step,
            &micros(request.at),
        ],
    )?;
    let visit = visit_of_check_in(request);
    insert_visit(tx, merchant, &visit)?;
    Ok(Finish::Commit(CheckInOutcome::Visited {
        member,
        enrolled,
        visit,
    }))
}
