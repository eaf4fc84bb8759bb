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
//! ## Tiers of the API
//! - **Model**: [`Merchant`], [`Store`], [`Member`], [`Money`], ids in [`ids`].
//! - **Keys**: a [`Keyring`] of HMAC-SHA256 [`SigningKey`]s per merchant, with rotation.
//! - **Vouchers**: build a [`Voucher`], [`Voucher::sign`] it into a [`Token`], print its
//!   [`Token::to_scanner_text`]; at the till, [`verify`] the scanned text against a
//!   [`RedemptionContext`] and get a [`Decision`]: accepted with the discount, or rejected
//!   with one stable [`Rejection`] reason.
//! - **Check-in and enrollment**: a store shows [`rotating_code`]s; a customer's scan with
//!   their [`AccountIdentity`] goes through [`check_in_member`], which enrolls them under a
//!   keyed [`Pseudonym`], records the visit and hands out the membership card.
//! - **Ledger**: [`Ledger`] ([`MemoryLedger`], [`SqliteLedger`]) redeems exactly once.
//! - **C ABI**: the `capi` feature (`scripts/build-c` builds the library), `include/o2okit.h`,
//!   symbols prefixed `o2o_`.
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
//! let store = Store {
//!     id: StoreId(1), merchant, name: "Nanshan".into(),
//!     time_zone: chrono_tz::Asia::Shanghai,
//!     region: RegionCode::new("440305")?, location: None,
//! };
//! let basket = Basket::single(Currency::CNY, 12_800)?;
//! let ctx = RedemptionContext {
//!     store: &store,
//!     at: "2026-12-24T12:00:00Z".parse::<DateTime<Utc>>().unwrap(),
//!     basket: &basket, member: None, other_vouchers: 0,
//! };
//! match verify(&text, &keyring, &ctx) {
//!     Decision::Accepted(ok) => assert_eq!(ok.discount_minor(), 2_000),
//!     Decision::Rejected { reason } => panic!("refused: {reason}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod checkin;
pub mod enrollment;
mod error;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod ids;
pub mod keys;
pub mod ledger;
pub mod local_time;
pub mod member;
pub mod member_tokens;
pub mod merchant;
pub mod money;
#[cfg(any(feature = "qr-render", feature = "qr-decode"))]
pub mod qr;
pub mod region;
pub mod rejection;
pub mod token;
pub mod voucher;

pub use checkin::{
    CheckIn, CheckInPolicy, Presence, printed_code, rotating_code, verify_check_in, visit_hour,
};
pub use enrollment::{
    AccountIdentity, CheckInDesk, IdentityError, IdentityKey, IdentityKind, MemberCheckIn,
    MemberScan, Pseudonym, ScanOutcome, WelcomeOffer, check_in_member,
};
pub use error::Error;
pub use ids::{CampaignId, CategoryId, ItemId, KeyId, MemberId, MerchantId, StoreId, VoucherId};
pub use keys::{ExportedKey, KeyError, KeyStatus, Keyring, KeyringExport, SigningKey};
#[cfg(feature = "sqlite")]
pub use ledger::SqliteLedger;
pub use ledger::{
    CheckInOutcome, CheckInRequest, IdempotencyKey, IdempotencyKeyError, Ledger, LedgerError,
    MemoryLedger, Receipt, ReceiptId, RedeemOutcome, RedeemRequest, StorageError, VisitEvent,
    VoucherStatus,
};
pub use local_time::{LocalDateTime, LocalTimeError, is_plausible};
pub use member::{CardError, CardNumber, Member, Tier};
pub use member_tokens::{membership_card, share_code, verify_membership_card, verify_share_code};
pub use merchant::{Merchant, Store};
pub use money::{Currency, Money, MoneyError};
pub use region::{GeoPoint, Geofence, RegionCode, RegionError};
pub use rejection::Rejection;
pub use token::{Token, TokenError, TokenKind};
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
            .seal(TokenKind::Voucher, keyring.merchant(), |w| w.bytes(body))
            .map_err(|_| crate::Rejection::Malformed)?;
        crate::Voucher::open(&token, keyring)
    }
}

/// The `chrono` this crate's instants and wall-clock times are made of, so users need not
/// guess a matching version.
pub use chrono;
/// The `chrono-tz` whose zones a [`Store`] names.
pub use chrono_tz;

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Compiles the README's example as a doctest, so it never goes stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
