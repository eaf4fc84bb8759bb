//! # o2okit — the offline-to-online loyalty loop, as a library
//!
//! A customer scans a QR code that exists only inside the store; that scan proves the visit
//! and gives them an electronic membership card. The merchant sends them signed electronic
//! vouchers limited in time, region, conditions and state; the till verifies and redeems a
//! voucher exactly once, offline if need be; and the merchant sees new, returning and
//! retained customers.
//!
//! This crate is the engine of that loop. Its core is pure: no clock reads, no I/O, no global
//! state. Time and randomness come in as parameters, so every rule is testable at any instant.
//!
//! ## The till loop
//! 1. **Keys.** A merchant's [`Keyring`] holds HMAC-SHA256 [`SigningKey`]s under [`KeyId`]s,
//!    with rotation; [`Keyring::export_secrets`] is the only way secrets leave it.
//! 2. **Issue.** Build a [`Voucher`] (a [`Benefit`] with time, place, member and basket
//!    limits), [`Voucher::sign`] it into a [`Token`] and print [`Token::to_scanner_text`] as a
//!    QR code (the `qr` module, features `qr-render` / `qr-decode`).
//! 3. **Verify.** At the till, [`verify`] the scanned text against the moment's
//!    [`RedemptionContext`] ([`Store`], instant, [`Basket`], member). The [`Decision`] is
//!    accepted with the discount, or rejected with one stable [`Rejection`]. Pure and offline.
//! 4. **Redeem.** A [`Ledger`] (`SqliteLedger` on a till, `PgLedger` shared by a chain's
//!    tills with the `postgres` feature, [`MemoryLedger`] in tests) spends
//!    the voucher exactly once per [`IdempotencyKey`] and writes a [`Receipt`].
//! 5. **Members.** A customer who scans the store's check-in code becomes a [`Member`]: see
//!    [`membership`] for check-in codes, enrollment, membership cards and share codes.
//! 6. **Sync.** A till working offline journals every decision ([`journal`]); the head
//!    office's `HeadOffice` ingests the journals, reports offline double spends and answers
//!    with deny-list deltas; an [`OfflineAllowance`] bounds what a till accepts offline.
//! 7. **Report.** [`analytics`] turns the ledger's visits into new, returning and retained
//!    customers, average ticket, cohorts, segments, referrals and campaign attribution.
//! 8. **Market.** [`campaign`] turns a segment into personal vouchers under frequency caps,
//!    opt-outs and a budget, keeps a randomized holdout, and reports the visits and spend
//!    the campaign caused, with confidence intervals.
//!
//! Every fallible call returns [`Error`] (or the module error it wraps); a refusal is not an
//! error. Money is integer minor units ([`Money`]); time rules run on the store's IANA zone
//! ([`chrono_tz`], re-exported with [`chrono`]). The C ABI is the `capi` feature:
//! `scripts/build-c` builds `libo2okit` and `include/o2okit.h`.
//!
//! ## Further reading in the repository
//! `docs/metrics.md` (the metric definitions), `docs/rejections.md` (every rejection reason),
//! the token format in [`token`] and [`voucher`]'s codec, `docs/chain.md` (the chain design),
//! `SECURITY.md` (the threat model) and `include/o2okit.h` (the C conventions).
//!
//! ## Example
//! ```
//! use o2okit::*;
//! use chrono::{DateTime, Utc};
//!
//! let merchant = MerchantId(7);
//! let keyring = Keyring::with_active_key(
//!     merchant,
//!     KeyId(1),
//!     SigningKey::from_bytes(&[0x42; 32])?, // use 32 random bytes
//! );
//! let voucher = Voucher::new(VoucherId(1001), merchant, Currency::CNY,
//!         Benefit::AmountOff { minor: 2_000 })
//!     .valid_between("2026-12-01T00:00".parse()?, "2027-01-01T00:00".parse()?)
//!     .min_spend(10_000);
//! let text = voucher.sign(&keyring)?.to_scanner_text();
//!
//! let store = Store::new(StoreId(1), merchant, chrono_tz::Asia::Shanghai,
//!     RegionCode::new("440305")?).named("Nanshan");
//! let basket = Basket::single(Currency::CNY, 12_800)?;
//! let at: DateTime<Utc> = "2026-12-24T12:00:00Z".parse()?;
//! let ctx = RedemptionContext::new(&store, at, &basket);
//! match verify(&text, &keyring, &ctx) {
//!     Decision::Accepted(ok) => assert_eq!(ok.discount_minor(), 2_000),
//!     Decision::Rejected { reason } => panic!("refused: {reason}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod campaign;
pub mod deny_list;
mod error;
#[cfg(feature = "capi")]
pub mod ffi;
#[cfg(feature = "sqlite")]
pub mod head_office;
pub mod ids;
pub mod journal;
pub mod keys;
pub mod ledger;
pub mod local_time;
pub mod membership;
pub mod merchant;
pub mod money;
#[cfg(any(feature = "qr-render", feature = "qr-decode"))]
pub mod qr;
pub mod region;
pub mod rejection;
pub mod token;
pub mod voucher;

pub use deny_list::{DenyList, DenyListDelta, DenyListError};
pub use error::Error;
#[cfg(feature = "sqlite")]
pub use head_office::HeadOffice;
pub use ids::{
    CampaignId, CategoryId, ItemId, KeyId, MemberId, MerchantId, StoreId, TillId, VoucherId,
};
pub use journal::{JournalBatch, JournalEntry, JournalKey, OfflineAllowance, SyncAck, SyncError};
pub use keys::key_set::{KeySet, KeySetError, PublishedKey};
pub use keys::{
    Ed25519Key, ExportedKey, KeyError, KeyMaterial, KeyRole, KeyStatus, Keyring, KeyringExport,
    MerchantSecret, PublicKey, SigningKey, Verifier, VerifyingKeyring,
};
pub use ledger::{
    CheckInOutcome, CheckInRequest, IdempotencyKey, IdempotencyKeyError, Ledger, LedgerError,
    MemoryLedger, Receipt, ReceiptId, RedeemOutcome, RedeemRequest, StorageError, VisitEvent,
    VoucherStatus,
};
#[cfg(feature = "postgres")]
pub use ledger::{PgLedger, PgOptions};
#[cfg(feature = "sqlite")]
pub use ledger::{SqliteLedger, SyncStatus};
pub use local_time::{LocalDateTime, LocalTimeError, is_plausible};
#[doc(no_inline)]
pub use membership::{
    AccountIdentity, CardError, CardNumber, CheckIn, CheckInDesk, CheckInPolicy, IdentityError,
    IdentityKey, IdentityKind, Member, MemberCheckIn, MemberScan, Presence, Pseudonym, ScanOutcome,
    Tier, WelcomeOffer, check_in_member, membership_card, printed_code, rotating_code, share_code,
    verify_check_in, verify_membership_card, verify_share_code, visit_hour,
};
pub use merchant::{Merchant, Store};
pub use money::{Currency, Money, MoneyError};
pub use region::{GeoPoint, Geofence, RegionCode, RegionError};
pub use rejection::Rejection;
pub use token::{Scheme, Token, TokenError, TokenKind};
pub use voucher::{
    Acceptance, Basket, BasketLine, Benefit, CategoryRule, Conditions, DailyWindow, Decision,
    MemberContext, RedemptionContext, RegionLimits, StateLimits, TimeLimits, Voucher, VoucherError,
    WeekdaySet, verify, verify_token,
};

/// Entry points for the fuzz targets in `fuzz/` (built only with `--cfg fuzzing`): they reach
/// code that sits behind the signature check, which a fuzzer cannot forge its way past.
#[cfg(fuzzing)]
pub mod fuzzing {
    use crate::keys::Keyring;
    use crate::token::{Token, TokenKind};

    /// Signs arbitrary `body` bytes as a voucher with `keyring` and opens them again, so the
    /// voucher body decoder sees every input the fuzzer makes. A body too long to sign is
    /// refused as malformed, as a reader would refuse its token.
    pub fn open_signed_voucher_body(
        keyring: &Keyring,
        body: &[u8],
    ) -> Result<crate::Voucher, crate::Rejection> {
        let token: Token = keyring
            .seal(
                TokenKind::Voucher,
                keyring.merchant(),
                crate::keys::Scope::VoucherStores(&[]),
                |w| w.bytes(body),
            )
            .map_err(|_| crate::Rejection::Malformed)?;
        crate::Voucher::open(&token, keyring)
    }

    /// Signs arbitrary `payload` bytes as a key set with `root`, so the key-set reader sees
    /// every payload the fuzzer makes behind a good signature.
    pub fn sign_key_set_payload(root: &crate::Ed25519Key, payload: &[u8]) -> Vec<u8> {
        crate::keys::key_set::sign_raw(root, payload)
    }

    /// Signs arbitrary `payload` bytes as a deny list (or, with `delta`, a deny-list delta)
    /// with `root`, so the readers see every payload the fuzzer makes behind a good signature.
    pub fn sign_deny_list_payload(
        root: &crate::Ed25519Key,
        delta: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        crate::deny_list::sign_payload(root, delta, payload)
    }
}

/// The `chrono` this crate's instants and wall-clock times are made of, so users need not
/// guess a matching version.
pub use chrono;
/// The `chrono-tz` whose zones a [`Store`] names.
pub use chrono_tz;

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Compiles the README's examples as doctests, so they never go stale (they use SQLite).
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
