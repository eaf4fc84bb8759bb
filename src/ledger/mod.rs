//! The redemption ledger: the only keeper of state.
//!
//! Verification (pure) says a voucher *may* be used; the ledger decides that it *is* used —
//! once. Every operation is atomic: a redemption checks the voucher's state limits and records
//! the use in one transaction, so two tills racing on a single-use voucher get one success and
//! one [`Rejection::AlreadyUsed`]. Every redemption and movement carries an
//! [`IdempotencyKey`]: a till that times out and retries with the same key gets the first
//! receipt back and spends nothing twice.
//!
//! Three implementations share the rules in [`record`]: [`MemoryLedger`] (tests, kiosks that
//! sync elsewhere); with the default `sqlite` feature, `SqliteLedger`, durable and safe for
//! several processes on one file; with the `postgres` feature, `PgLedger`, one database that a
//! chain's tills on many machines share. A ledger serves one merchant.

pub mod account;
mod members;
mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub mod record;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use account::{Account, Movement, MovementKind, MovementRequest, PointsRule, TierSchedule};
pub use members::{CheckInOutcome, CheckInRequest};
pub use memory::MemoryLedger;
#[cfg(feature = "postgres")]
pub use postgres::{PgLedger, PgOptions};
pub use record::{Terms, VoucherRecord, VoucherStatus};
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::sqlite_error;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteLedger, SyncStatus};

use crate::ids::{CampaignId, MemberId, MerchantId, StoreId, VoucherId};
use crate::membership::member::{CardNumber, Member, Tier};
use crate::rejection::Rejection;
use crate::voucher::{Acceptance, Benefit, MemberContext, Voucher};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::num::NonZeroU64;

/// Why a ledger operation failed. A refused redemption is not an error: see
/// [`RedeemOutcome::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The file exists but is not a database (or is damaged beyond reading). Nothing was
    /// written to it.
    #[error("{path}: not an o2okit ledger (not a database, or corrupt): {detail}")]
    NotADatabase {
        /// The file.
        path: String,
        /// What SQLite said.
        detail: String,
    },
    /// The file is a database of some other application. Nothing was written to it.
    #[error("{path}: a database of another application, not an o2okit ledger")]
    ForeignDatabase {
        /// The file.
        path: String,
    },
    /// The file was written by a newer o2okit whose schema this build does not know.
    #[error("ledger schema version {found} is newer than this build's {supported}")]
    SchemaTooNew {
        /// The file's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The ledger belongs to another merchant.
    #[error("ledger of merchant {expected} cannot hold data of merchant {found}")]
    WrongMerchant {
        /// The ledger's merchant.
        expected: MerchantId,
        /// The merchant named.
        found: MerchantId,
    },
    /// The database stayed locked by another process past the busy timeout.
    #[error("ledger busy: another process held the lock past the timeout")]
    Busy,
    /// The ledger's content breaks an invariant (for example a use count below zero).
    #[error("ledger inconsistent: {0}")]
    Corrupt(String),
    /// Any other storage failure (disk full, I/O error), with the error that caused it as its
    /// [`std::error::Error::source`].
    #[error("ledger storage failure: {0}")]
    Storage(#[source] StorageError),
    /// The idempotency key was used before for a different request.
    #[error("idempotency key {0:?} was already used for a different request")]
    IdempotencyConflict(String),
    /// No receipt with this id.
    #[error("no receipt {0}")]
    UnknownReceipt(ReceiptId),
    /// The receipt was voided already.
    #[error("receipt {0} is already voided")]
    AlreadyVoided(ReceiptId),
    /// The voucher was revoked already.
    #[error("voucher {0} is already revoked")]
    AlreadyRevoked(VoucherId),
    /// The voucher was recorded before with different terms.
    #[error("voucher {0} was recorded before with different terms")]
    VoucherConflict(VoucherId),
    /// A movement would take points or balance below zero (or past the maximum).
    #[error("insufficient funds: {kind:?} on an account holding {account:?}")]
    InsufficientFunds {
        /// The movement refused.
        kind: MovementKind,
        /// The account as it is.
        account: Account,
    },
    /// A movement of zero.
    #[error("a movement must move at least 1")]
    ZeroMovement,
    /// Two account identities hash to one member id (a 64-bit collision of the keyed hash):
    /// the second cannot enroll. Nothing was written.
    #[error("another identity already holds member id {0}")]
    IdentityCollision(MemberId),
    /// A request that contradicts itself (such as a welcome voucher for another member).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No ledger file at the path: [`SqliteLedger::open`] never creates one (a till must not
    /// start an empty ledger where its ledger was); use [`SqliteLedger::create`].
    #[error("{path}: no ledger file here (create one explicitly)")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A file already exists where a ledger (or a backup) was to be created. It was not
    /// touched.
    #[error("{path}: a file already exists here")]
    AlreadyExists {
        /// The path.
        path: String,
    },
    /// The ledger's file was removed or replaced by another file while the ledger was open:
    /// nothing more is written to it. Reopen it (or restore it) explicitly.
    #[error("{path}: the ledger file was removed or replaced while open")]
    FileReplaced {
        /// The path.
        path: String,
    },
    /// An instant outside the years the ledger records (2000 to 2199, see
    /// [`crate::is_plausible`]): a till clock reset or set far ahead. Nothing was written.
    #[error("{0} is outside the years 2000 to 2199: is the till's clock set right?")]
    ImplausibleInstant(DateTime<Utc>),
    /// The ledger's server cannot be reached, or the connection broke before anything was
    /// committed: nothing was written. Try again (with the same idempotency key).
    #[error("ledger server unavailable, nothing was written: {0}")]
    Unavailable(String),
    /// The connection broke while the server was committing: the write may or may not be
    /// recorded. Repeat the call with the same idempotency key: it returns the committed
    /// receipt, or redeems once.
    #[error("outcome unknown (connection lost while committing); retry with the same key: {0}")]
    OutcomeUnknown(String),
    /// The database serves other merchants, not this one: nothing was written. The head
    /// office registers a merchant explicitly (`PgOptions::register_merchant`).
    #[error("the database serves merchants {served:?}, not merchant {merchant}")]
    UnregisteredMerchant {
        /// The merchant refused.
        merchant: MerchantId,
        /// The merchants the database serves.
        served: Vec<MerchantId>,
    },
    /// Journal or sync bytes refused (a forged acknowledgement, another till's), or a journal
    /// call on a ledger without a journal. Nothing was written.
    #[error(transparent)]
    Sync(#[from] crate::journal::SyncError),
    /// The deny-list delta in an acknowledgement was refused. Nothing was written.
    #[error(transparent)]
    DenyList(#[from] crate::deny_list::DenyListError),
    /// A void dated before the redemption it voids: a till clock set wrong, or a mistyped
    /// receipt. Nothing was written.
    #[error("receipt {receipt} was redeemed at {redeemed_at}; it cannot be voided at {void_at}")]
    VoidBeforeRedemption {
        /// The receipt.
        receipt: ReceiptId,
        /// When it was redeemed.
        redeemed_at: DateTime<Utc>,
        /// The void's instant.
        void_at: DateTime<Utc>,
    },
}

/// A storage failure: what was being done, and the underlying error when there is one (SQLite's
/// or the file system's), kept as the error's source rather than flattened into text.
#[derive(Debug, Clone)]
pub struct StorageError {
    context: String,
    cause: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// A failure described by `context` alone.
    pub fn new(context: impl Into<String>) -> Self {
        StorageError {
            context: context.into(),
            cause: None,
        }
    }

    /// A failure while doing `context`, caused by `cause`.
    pub fn caused_by(
        context: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StorageError {
            context: context.into(),
            cause: Some(std::sync::Arc::new(cause)),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.context),
            None => f.write_str(&self.context),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// Two storage errors are equal when they say the same.
impl PartialEq for StorageError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for StorageError {}

/// A caller-chosen key that makes a request safe to retry: 1 to 128 printable ASCII
/// characters, unique per request (a till might use `till-7/2026-06-15/000123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks and wraps a key.
    ///
    /// # Errors
    /// [`IdempotencyKeyError`] when the key is empty, too long or not printable ASCII.
    pub fn new(key: impl Into<String>) -> Result<Self, IdempotencyKeyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if key.len() > Self::MAX_LEN {
            return Err(IdempotencyKeyError::TooLong(key.len()));
        }
        if let Some(position) = key
            .bytes()
            .position(|b| !(b.is_ascii_graphic() || b == b' '))
        {
            return Err(IdempotencyKeyError::NotPrintable {
                position,
                key: crate::error::excerpt(&key),
            });
        }
        Ok(IdempotencyKey(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a text is not an [`IdempotencyKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyKeyError {
    /// The key is empty.
    #[error("an idempotency key cannot be empty")]
    Empty,
    /// The key is longer than [`IdempotencyKey::MAX_LEN`] bytes (its length).
    #[error("an idempotency key is at most 128 characters, got {0} bytes")]
    TooLong(usize),
    /// A byte that is not printable ASCII (control, DEL or non-ASCII) at `position`.
    #[error("an idempotency key is printable ASCII; byte {position} of {key:?} is not")]
    NotPrintable {
        /// Where the first offending byte is.
        position: usize,
        /// The key as given, cut to 200 characters.
        key: String,
    },
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IdempotencyKey::new(text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A receipt's number within its ledger, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiptId(pub u64);

impl fmt::Display for ReceiptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Proof that a voucher was redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The receipt's number.
    pub id: ReceiptId,
    /// The voucher redeemed.
    pub voucher: VoucherId,
    /// Where.
    pub store: StoreId,
    /// Who, if identified.
    pub member: Option<MemberId>,
    /// When.
    pub at: DateTime<Utc>,
    /// The basket total, minor units.
    pub spend_minor: u64,
    /// The value applied, minor units (for stored value, capped at what was left).
    pub amount_minor: u64,
    /// The request's key.
    pub idempotency_key: IdempotencyKey,
}

/// A redemption to record.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RedeemRequest<'a> {
    /// The verified voucher and the context it was verified in.
    pub acceptance: &'a Acceptance,
    /// For stored value: how much to spend now, at least 1 (capped at the verified discount
    /// and at what is left); `None` spends as much as the basket and the balance allow.
    /// Ignored for every other benefit, which always applies its verified discount.
    pub amount_minor: Option<NonZeroU64>,
    /// Makes a retry return the first receipt.
    pub idempotency_key: &'a IdempotencyKey,
}

impl<'a> RedeemRequest<'a> {
    /// Redeems `acceptance` once under `idempotency_key`, spending the verified discount
    /// (for stored value: as much as the basket and the balance allow).
    pub fn new(acceptance: &'a Acceptance, idempotency_key: &'a IdempotencyKey) -> Self {
        RedeemRequest {
            acceptance,
            amount_minor: None,
            idempotency_key,
        }
    }

    /// The same request, spending at most `amount_minor` of a stored-value voucher.
    pub fn with_amount(mut self, amount_minor: NonZeroU64) -> Self {
        self.amount_minor = Some(amount_minor);
        self
    }

    /// The amount to apply before the voucher's remaining value caps it.
    pub(crate) fn requested_minor(&self) -> u64 {
        let verified = self.acceptance.discount_minor();
        match (self.acceptance.voucher().benefit, self.amount_minor) {
            (Benefit::StoredValue { .. }, Some(amount)) => amount.get().min(verified),
            _ => verified,
        }
    }
}

/// The outcome of a redemption attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", deny_unknown_fields)]
#[must_use = "a redemption may be refused"]
pub enum RedeemOutcome {
    /// Used. `replayed` is true when this is the receipt of an earlier request with the same
    /// key (nothing was spent this time).
    Redeemed {
        /// The receipt.
        receipt: Receipt,
        /// Whether this repeats an earlier success.
        replayed: bool,
    },
    /// Refused by the voucher's state: already used, member limit reached, no value left,
    /// revoked.
    Refused {
        /// Why.
        reason: Rejection,
    },
}

impl RedeemOutcome {
    /// The receipt, if redeemed.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            RedeemOutcome::Redeemed { receipt, .. } => Some(receipt),
            RedeemOutcome::Refused { .. } => None,
        }
    }
}

/// One customer visit: what analytics counts. Every redemption records one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitEvent {
    /// The member, or `None` for an anonymous walk-in.
    pub member: Option<MemberId>,
    /// Where.
    pub store: StoreId,
    /// When.
    pub at: DateTime<Utc>,
    /// The visit's spend, minor units.
    pub spend_minor: u64,
    /// The voucher redeemed on the visit, if any.
    pub voucher: Option<VoucherId>,
    /// The campaign of that voucher, if any.
    pub campaign: Option<CampaignId>,
    /// The discount given, minor units.
    pub discount_minor: u64,
}

/// A personal voucher the ledger recorded as issued: what campaigns' frequency caps count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// The voucher.
    pub voucher: VoucherId,
    /// The member it is bound to.
    pub member: MemberId,
    /// Its campaign, if any.
    pub campaign: Option<CampaignId>,
    /// When it was first recorded as issued.
    pub issued_at: DateTime<Utc>,
}

/// Something that happened to a voucher, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event", deny_unknown_fields)]
#[non_exhaustive]
pub enum LedgerEvent {
    /// Recorded as issued.
    Issued {
        /// When.
        at: DateTime<Utc>,
    },
    /// Redeemed.
    Redeemed {
        /// The receipt.
        receipt: Receipt,
    },
    /// A redemption voided (refunded).
    Voided {
        /// The receipt voided.
        receipt: ReceiptId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Revoked by the merchant.
    Revoked {
        /// When.
        at: DateTime<Utc>,
    },
}

impl LedgerEvent {
    fn at(&self) -> DateTime<Utc> {
        match self {
            LedgerEvent::Issued { at }
            | LedgerEvent::Voided { at, .. }
            | LedgerEvent::Revoked { at } => *at,
            LedgerEvent::Redeemed { receipt } => receipt.at,
        }
    }
}

/// A voucher's history from its record and its receipts (each with when it was voided), in
/// time order; ties keep the order of the lifecycle (issue, redeem, void, revoke).
pub(crate) fn history_of(
    record: Option<&VoucherRecord>,
    receipts: impl IntoIterator<Item = (Receipt, Option<DateTime<Utc>>)>,
) -> Vec<LedgerEvent> {
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
    events
}

fn sort_history(events: &mut [LedgerEvent]) {
    let rank = |e: &LedgerEvent| match e {
        LedgerEvent::Issued { .. } => 0,
        LedgerEvent::Redeemed { .. } => 1,
        LedgerEvent::Voided { .. } => 2,
        LedgerEvent::Revoked { .. } => 3,
    };
    events.sort_by_key(|e| (e.at(), rank(e)));
}

/// A ledger of one merchant's vouchers, member accounts and visits.
///
/// Every method is atomic. Implementations are `Send + Sync`: one ledger value may serve many
/// threads, and (for [`SqliteLedger`]) many processes may open the same file.
pub trait Ledger: Send + Sync {
    /// The merchant whose ledger this is.
    fn merchant(&self) -> MerchantId;

    /// Records that a voucher was issued. Recording the same voucher again is a no-op.
    ///
    /// # Errors
    /// [`LedgerError::WrongMerchant`]; [`LedgerError::VoucherConflict`] when the id was
    /// recorded with other terms; storage errors.
    fn record_issue(&self, voucher: &Voucher, at: DateTime<Utc>) -> Result<(), LedgerError>;

    /// Records many issued vouchers (a campaign's bulk issue). Each voucher is recorded as by
    /// [`Ledger::record_issue`]; a durable ledger writes them in short transactions of a few
    /// hundred, so tills redeeming at the same time wait at most one such transaction. On an
    /// error, the vouchers before the failing one's transaction are recorded; recording the
    /// whole list again is safe.
    ///
    /// # Errors
    /// As [`Ledger::record_issue`].
    fn record_issues(&self, vouchers: &[Voucher], at: DateTime<Utc>) -> Result<(), LedgerError> {
        vouchers.iter().try_for_each(|v| self.record_issue(v, at))
    }

    /// Redeems a verified voucher once: checks its state limits and records the use, the
    /// receipt and the visit in one transaction.
    ///
    /// # Example
    /// ```
    /// use o2okit::*;
    ///
    /// let ring = Keyring::with_active_key(MerchantId(7), KeyId(1), SigningKey::from_bytes(&[9; 32])?);
    /// let text = Voucher::new(VoucherId(42), MerchantId(7), Currency::CNY,
    ///         Benefit::AmountOff { minor: 2_000 })
    ///     .max_uses(1)
    ///     .sign(&ring)?
    ///     .to_scanner_text();
    /// let store = Store::new(StoreId(1), MerchantId(7), chrono_tz::Asia::Shanghai,
    ///     RegionCode::new("440305")?);
    /// let basket = Basket::single(Currency::CNY, 9_000)?;
    /// let ctx = RedemptionContext::new(&store, "2026-12-24T04:00:00Z".parse()?, &basket);
    /// let Decision::Accepted(accepted) = verify(&text, &ring, &ctx) else { panic!() };
    ///
    /// let ledger = MemoryLedger::new(MerchantId(7)); // SqliteLedger::create / open on a till
    /// let sale = IdempotencyKey::new("till-3/2026-12-24/0042")?;
    /// let first = ledger.redeem(&RedeemRequest::new(&accepted, &sale))?;
    /// let retry = ledger.redeem(&RedeemRequest::new(&accepted, &sale))?; // a timeout's retry
    /// assert_eq!(first.receipt(), retry.receipt()); // the same receipt, spent once
    ///
    /// let other_sale = IdempotencyKey::new("till-4/2026-12-24/0007")?;
    /// let again = ledger.redeem(&RedeemRequest::new(&accepted, &other_sale))?;
    /// assert_eq!(again, RedeemOutcome::Refused { reason: Rejection::AlreadyUsed });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LedgerError::IdempotencyConflict`] when the key was used for another sale (voucher,
    /// member, store or spend differ); [`LedgerError::AlreadyVoided`] when the key's sale was
    /// refunded; [`LedgerError::WrongMerchant`]; storage errors. A refusal by the voucher's
    /// state is an `Ok` outcome.
    fn redeem(&self, request: &RedeemRequest<'_>) -> Result<RedeemOutcome, LedgerError>;

    /// Voids a redemption (a refund): the use, or the value, is restored.
    ///
    /// # Errors
    /// [`LedgerError::UnknownReceipt`], [`LedgerError::AlreadyVoided`]; storage errors.
    fn void(&self, receipt: ReceiptId, at: DateTime<Utc>) -> Result<VoucherRecord, LedgerError>;

    /// Revokes a voucher: every later redemption is refused. Works for a voucher the ledger
    /// has never seen (signed offline).
    ///
    /// # Errors
    /// [`LedgerError::AlreadyRevoked`]; storage errors.
    fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError>;

    /// The voucher's record, if the ledger has seen it.
    ///
    /// # Errors
    /// Storage errors.
    fn record(&self, voucher: VoucherId) -> Result<Option<VoucherRecord>, LedgerError>;

    /// A receipt by number.
    ///
    /// # Errors
    /// Storage errors.
    fn receipt(&self, id: ReceiptId) -> Result<Option<Receipt>, LedgerError>;

    /// Everything that happened to a voucher, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    fn history(&self, voucher: VoucherId) -> Result<Vec<LedgerEvent>, LedgerError>;

    /// Moves a member's points or balance, never below zero, once per key.
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`], [`LedgerError::ZeroMovement`],
    /// [`LedgerError::IdempotencyConflict`]; storage errors.
    fn apply(&self, request: &MovementRequest) -> Result<Movement, LedgerError>;

    /// A member's points and balance (zero for a member never seen).
    ///
    /// # Errors
    /// Storage errors.
    fn account(&self, member: MemberId) -> Result<Account, LedgerError>;

    /// A member's movements, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    fn movements(&self, member: MemberId) -> Result<Vec<Movement>, LedgerError>;

    /// Records a visit without a redemption (a check-in, a plain purchase).
    ///
    /// # Errors
    /// Storage errors.
    fn record_visit(&self, visit: &VisitEvent) -> Result<(), LedgerError>;

    /// Every visit, oldest first: the feed for analytics.
    ///
    /// # Errors
    /// Storage errors.
    fn visits(&self) -> Result<Vec<VisitEvent>, LedgerError>;

    /// Whether the member has any visit recorded (a check-in counts).
    ///
    /// # Errors
    /// Storage errors.
    fn has_visited(&self, member: MemberId) -> Result<bool, LedgerError>;

    /// Whether the member has bought anything: a visit with a spend or a redeemed voucher.
    /// A check-in alone is not a purchase.
    ///
    /// # Errors
    /// Storage errors.
    fn has_bought(&self, member: MemberId) -> Result<bool, LedgerError>;

    /// Records a verified check-in: enrolls the member if the ledger has not seen their
    /// pseudonym (with a card number, who referred them and the welcome voucher), and records
    /// at most one check-in visit per member, store and clock hour. The same code scanned
    /// again is refused as [`Rejection::ReplayedCode`] however long ago it was first scanned;
    /// another code within the hour (or in an hour before the member's latest check-in here,
    /// as after a till clock stepped back) as [`Rejection::AlreadyCheckedIn`]; a refusal
    /// records nothing.
    ///
    /// # Errors
    /// [`LedgerError::IdentityCollision`]; [`LedgerError::InvalidRequest`] and
    /// [`LedgerError::WrongMerchant`] for a welcome voucher not bound to the member or of
    /// another merchant; [`LedgerError::VoucherConflict`] when the welcome voucher's id is
    /// already known to the ledger; storage errors. An error records nothing.
    fn check_in(&self, request: &CheckInRequest<'_>) -> Result<CheckInOutcome, LedgerError>;

    /// A member by id.
    ///
    /// # Errors
    /// Storage errors.
    fn member(&self, id: MemberId) -> Result<Option<Member>, LedgerError>;

    /// A member by card number, as a cashier types it.
    ///
    /// # Errors
    /// Storage errors.
    fn member_by_card(&self, card: &CardNumber) -> Result<Option<Member>, LedgerError>;

    /// Every member, in order of enrollment: the feed for referral analytics.
    ///
    /// # Errors
    /// Storage errors.
    fn members(&self) -> Result<Vec<Member>, LedgerError>;

    /// Records a member's choice about marketing: `opted_out` true stops every campaign from
    /// targeting them, false lets them be targeted again. The choice made at the latest `at`
    /// wins, whatever order the calls arrive in (a till's journal may arrive late); at equal
    /// instants opting out wins, so every order gives the same answer. A member the ledger
    /// has not enrolled may opt out too.
    ///
    /// # Errors
    /// [`LedgerError::InvalidRequest`] for an instant out of range; storage errors.
    fn set_marketing_opt_out(
        &self,
        member: MemberId,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError>;

    /// The members opted out of marketing now, ascending.
    ///
    /// # Errors
    /// Storage errors.
    fn marketing_opt_outs(&self) -> Result<Vec<MemberId>, LedgerError>;

    /// The personal vouchers (bound to a member) first recorded as issued at or after
    /// `since`, by issue time then voucher: what a campaign's frequency cap counts.
    ///
    /// # Errors
    /// Storage errors.
    fn offers_since(&self, since: DateTime<Utc>) -> Result<Vec<Offer>, LedgerError>;

    /// What a till needs to know about a member to verify vouchers: tier from the schedule,
    /// and whether they are new (nothing bought yet: the check-in that enrolled them does not
    /// spend their new-member offers).
    ///
    /// # Errors
    /// Storage errors.
    fn member_context(
        &self,
        member: MemberId,
        at: DateTime<Utc>,
        schedule: &TierSchedule,
    ) -> Result<MemberContext, LedgerError> {
        let tier: Tier = schedule.tier_at(&self.movements(member)?, at);
        Ok(MemberContext {
            id: member,
            tier,
            is_new: !self.has_bought(member)?,
        })
    }
}

/// Refuses data of another merchant than the ledger's.
pub(crate) fn check_merchant(ledger: MerchantId, found: MerchantId) -> Result<(), LedgerError> {
    if found != ledger {
        return Err(LedgerError::WrongMerchant {
            expected: ledger,
            found,
        });
    }
    Ok(())
}

/// Instants as ledgers keep them: to the microsecond, so a receipt read back from storage
/// equals the one first returned.
pub(crate) fn ledger_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The answer to a redemption whose idempotency key was seen before: the same receipt if the
/// request is the same sale (voucher, member, store, spend) and the receipt still stands.
pub(crate) fn replay(
    receipt: Receipt,
    voided: bool,
    request: &RedeemRequest<'_>,
) -> Result<RedeemOutcome, LedgerError> {
    let a = request.acceptance;
    let same_sale = receipt.voucher == a.voucher().id
        && receipt.member == a.member()
        && receipt.store == a.store()
        && receipt.spend_minor == a.spend_minor();
    if !same_sale {
        return Err(LedgerError::IdempotencyConflict(
            request.idempotency_key.as_str().to_owned(),
        ));
    }
    if voided {
        // The sale was refunded: its key cannot bring the discount back.
        return Err(LedgerError::AlreadyVoided(receipt.id));
    }
    Ok(RedeemOutcome::Redeemed {
        receipt,
        replayed: true,
    })
}

/// Refuses an instant outside the years the ledger records.
pub(crate) fn check_instant(at: DateTime<Utc>) -> Result<(), LedgerError> {
    if crate::is_plausible(at.timestamp()) {
        Ok(())
    } else {
        Err(LedgerError::ImplausibleInstant(at))
    }
}

/// Refuses to void a receipt that is voided already, or at an instant before its redemption.
pub(crate) fn check_void(
    receipt: ReceiptId,
    redeemed_at: DateTime<Utc>,
    voided: bool,
    void_at: DateTime<Utc>,
) -> Result<(), LedgerError> {
    if voided {
        return Err(LedgerError::AlreadyVoided(receipt));
    }
    if ledger_instant(void_at) < redeemed_at {
        return Err(LedgerError::VoidBeforeRedemption {
            receipt,
            redeemed_at,
            void_at,
        });
    }
    Ok(())
}

/// The receipt of a redemption the ledger numbered `id`: both ledgers build it here, so they
/// return the same receipt for the same sale (instants to the microsecond).
pub(crate) fn recorded_receipt(
    id: ReceiptId,
    request: &RedeemRequest<'_>,
    amount_minor: u64,
) -> Receipt {
    let a = request.acceptance;
    Receipt {
        id,
        voucher: a.voucher().id,
        store: a.store(),
        member: a.member(),
        at: ledger_instant(a.at()),
        spend_minor: a.spend_minor(),
        amount_minor,
        idempotency_key: request.idempotency_key.clone(),
    }
}

/// The movement a ledger records as number `id`, leaving the account at `after`: both ledgers
/// build it here, so the first answer equals a replay read back (instants to the microsecond).
pub(crate) fn recorded_movement(id: u64, request: &MovementRequest, after: Account) -> Movement {
    Movement {
        id,
        member: request.member,
        kind: request.kind,
        at: ledger_instant(request.at),
        idempotency_key: request.idempotency_key.clone(),
        points_after: after.points,
        balance_after_minor: after.balance_minor,
    }
}

/// The visit a redemption records.
pub(crate) fn visit_of(acceptance: &Acceptance, amount_minor: u64) -> VisitEvent {
    VisitEvent {
        member: acceptance.member(),
        store: acceptance.store(),
        at: ledger_instant(acceptance.at()),
        spend_minor: acceptance.spend_minor(),
        voucher: Some(acceptance.voucher().id),
        campaign: acceptance.voucher().campaign,
        discount_minor: amount_minor,
    }
}
