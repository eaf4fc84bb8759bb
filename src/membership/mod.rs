//! Membership: how a walk-in customer becomes a member, and what the member carries.
//!
//! The loop, in the order a customer meets it:
//! 1. The store's screen shows a [`rotating_code`] (or a [`printed_code`] is on the wall); see
//!    [`checkin`] for why a rotating code proves presence and a photo of it does not.
//! 2. The customer scans it with their phone number or app account, an [`AccountIdentity`].
//!    [`check_in_member`] verifies the code (and a friend's [`share_code`], if they came
//!    through one), enrolls them under a keyed [`Pseudonym`] if they are new — the number
//!    itself is never stored — and records the visit: one per member, store and hour.
//! 3. They leave holding a signed [`membership_card`] (a [`Member`]'s [`CardNumber`]) and,
//!    if the desk has a [`WelcomeOffer`], a welcome voucher bound to them.
//! 4. At the till the card is shown and checked with [`verify_membership_card`]; the member's
//!    [`Tier`] and history feed the voucher rules (`MemberContext`).
//!
//! A member is **new** for "new members only" vouchers until they have bought something
//! (a redemption with a spend); visit metrics count a customer as new in the period of their
//! first visit (`docs/metrics.md`). The two are different questions and keep different names.
//!
//! # Example
//! ```
//! use o2okit::membership::*;
//! use o2okit::{Keyring, KeyId, MemoryLedger, MerchantId, SigningKey, Store, StoreId,
//!     RegionCode, VoucherId};
//!
//! let merchant = MerchantId(7);
//! let keyring = Keyring::with_active_key(merchant, KeyId(1), SigningKey::from_bytes(&[1; 32])?);
//! let identity_key = IdentityKey::from_bytes(&[2; 32])?;
//! let store = Store::new(StoreId(1), merchant, chrono_tz::Asia::Shanghai,
//!     RegionCode::new("440305")?);
//! let ledger = MemoryLedger::new(merchant);
//! let policy = CheckInPolicy::default();
//! let desk = CheckInDesk::new(&keyring, &identity_key, policy, &store);
//!
//! let now = "2026-12-24T10:00:00Z".parse()?;
//! let shown = rotating_code(&keyring, store.id, &policy, now)?.to_scanner_text();
//! let phone = AccountIdentity::phone("+86 138 0013 8000")?;
//! let scan = MemberScan::new(&shown, &phone, VoucherId(1), now);
//! match check_in_member(&ledger, &desk, &scan)? {
//!     ScanOutcome::CheckedIn(visit) => {
//!         assert!(visit.enrolled);
//!         let card = visit.card.to_scanner_text();
//!         let (member, _) = verify_membership_card(&card, &keyring).expect("genuine");
//!         assert_eq!(member, visit.member.id);
//!     }
//!     ScanOutcome::Refused { reason } => panic!("refused: {reason}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cards;
pub mod checkin;
pub mod enrollment;
pub mod member;

pub use cards::{membership_card, share_code, verify_membership_card, verify_share_code};
pub use checkin::{
    CheckIn, CheckInPolicy, Presence, printed_code, rotating_code, verify_check_in, visit_hour,
};
pub use enrollment::{
    AccountIdentity, CheckInDesk, IdentityError, IdentityKey, IdentityKind, MemberCheckIn,
    MemberScan, Pseudonym, ScanOutcome, WelcomeOffer, check_in_member,
};
pub use member::{CardError, CardNumber, Member, Tier};
