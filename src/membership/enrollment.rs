//! Enrollment: a customer scans the store's check-in code with their phone number or app
//! account and leaves holding the merchant's electronic membership card.
//!
//! The account identity never reaches storage. [`IdentityKey`] (a merchant secret, apart from
//! the signing keys) turns it into a [`Pseudonym`] with HMAC-SHA256; the member id and the
//! card number are taken from that. A keyed hash, not a plain one, because phone numbers are
//! few enough to hash them all: without the key, a leaked ledger does not give them back.
//!
//! [`check_in_member`] runs the whole scan: verify the check-in code (and the share code, if
//! the customer came through a friend's), derive the pseudonym, then let the ledger enroll the
//! member if new, record the visit once per code shown and record the welcome voucher, in one
//! transaction.

use crate::ids::{MemberId, MerchantId, VoucherId};
use crate::keys::{KeyError, Keyring};
use crate::ledger::{CheckInOutcome, CheckInRequest, Ledger, LedgerError, VisitEvent};
use crate::membership::cards::{membership_card, verify_share_code};
use crate::membership::checkin::{CheckInPolicy, Presence, verify_check_in};
use crate::membership::member::{CardNumber, Member};
use crate::merchant::Store;
use crate::region::{GeoPoint, Geofence};
use crate::rejection::Rejection;
use crate::token::Token;
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// What kind of account an identity is: part of what is hashed, so a phone number and an app
/// account with the same text are different people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A phone number.
    Phone,
    /// An app account id.
    AppAccount,
}

/// The account a customer enrolls with, normalised. Only its [`Pseudonym`] is ever stored;
/// build one with [`AccountIdentity::phone`] or [`AccountIdentity::app_account`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccountIdentity {
    kind: IdentityKind,
    text: String,
}

/// Why a text is not an [`AccountIdentity`]. The messages never repeat the text: it is
/// personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Not 6 to 15 digits after an optional `+`, once spaces and punctuation are dropped.
    #[error("a phone number must be 6 to 15 digits, with an optional leading +")]
    PhoneNumber,
    /// An app account that is empty or longer than 256 bytes (its length).
    #[error("an app account must be 1 to 256 bytes, got {0}")]
    AppAccountLength(usize),
    /// An app account holding control characters.
    #[error("an app account cannot hold control characters")]
    AppAccountControl,
}

impl AccountIdentity {
    /// The longest app account accepted, in bytes.
    pub const MAX_APP_ACCOUNT_LEN: usize = 256;

    /// A phone number as typed: spaces, hyphens, dots and parentheses are dropped and a
    /// leading `00` becomes `+`. Pass numbers in international form (`+86 138 0013 8000`):
    /// the national form of the same number gives another member.
    ///
    /// # Errors
    /// [`IdentityError::PhoneNumber`] when what is left is not 6 to 15 digits after an
    /// optional `+`.
    pub fn phone(text: &str) -> Result<Self, IdentityError> {
        let kept: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let normal = match kept.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => kept,
        };
        let digits = normal.strip_prefix('+').unwrap_or(&normal);
        if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::PhoneNumber);
        }
        Ok(AccountIdentity {
            kind: IdentityKind::Phone,
            text: normal,
        })
    }

    /// An app account id, taken exactly as given (case matters).
    ///
    /// # Errors
    /// [`IdentityError::AppAccountLength`] when empty or longer than 256 bytes,
    /// [`IdentityError::AppAccountControl`] when holding control characters.
    pub fn app_account(text: &str) -> Result<Self, IdentityError> {
        if text.is_empty() || text.len() > Self::MAX_APP_ACCOUNT_LEN {
            return Err(IdentityError::AppAccountLength(text.len()));
        }
        if text.chars().any(char::is_control) {
            return Err(IdentityError::AppAccountControl);
        }
        Ok(AccountIdentity {
            kind: IdentityKind::AppAccount,
            text: text.to_owned(),
        })
    }

    /// The kind of account.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }
}

impl fmt::Debug for AccountIdentity {
    /// Redacted: identities are personal data and do not belong in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountIdentity({:?}, <redacted>)", self.kind)
    }
}

/// The merchant's secret for pseudonyms: at least 32 random bytes, kept apart from the
/// signing keys and never rotated (rotating it would give every member a new id). The bytes
/// are wiped from memory when the key is dropped.
#[derive(Clone)]
pub struct IdentityKey(Zeroizing<Vec<u8>>);

impl IdentityKey {
    /// A key from secret bytes.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] below 32 bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < crate::keys::SigningKey::MIN_LEN {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(IdentityKey(Zeroizing::new(secret.to_vec())))
    }

    /// The pseudonym of `identity` at `merchant`: the same account always gives the same
    /// pseudonym, and two merchants never share one.
    pub fn pseudonym(&self, merchant: MerchantId, identity: &AccountIdentity) -> Pseudonym {
        let tag = match identity.kind {
            IdentityKind::Phone => 1u8,
            IdentityKind::AppAccount => 2,
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"o2okit member v1\0");
        mac.update(&merchant.0.to_le_bytes());
        mac.update(&[tag]);
        mac.update(identity.text.as_bytes());
        Pseudonym(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(<secret>)")
    }
}

/// A member's keyed hash: what the ledger stores instead of the account identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    /// A pseudonym from its 32 stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Pseudonym(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The member id: the first 8 bytes. The ledger refuses a second pseudonym with the same
    /// id ([`crate::LedgerError::IdentityCollision`]); at a million members the chance of one
    /// is about 3 in 100 million.
    pub fn member_id(&self) -> MemberId {
        MemberId(u64::from_le_bytes(self.half(0)))
    }

    /// The card serial the member gets unless another member holds it already (the ledger
    /// then takes the next free one).
    pub fn preferred_card_serial(&self) -> u64 {
        u64::from_le_bytes(self.half(8)) % (CardNumber::MAX_SERIAL + 1)
    }

    fn half(&self, from: usize) -> [u8; 8] {
        let mut eight = [0; 8];
        eight.copy_from_slice(&self.0[from..from + 8]);
        eight
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.member_id())
    }
}

/// The voucher a new member receives on enrolling: the merchant's template, bound to the
/// member and valid for some days from enrollment (store-local).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WelcomeOffer {
    /// Benefit, currency and limits; its id and member are replaced for each new member.
    pub template: Voucher,
    /// Days of validity from the enrolling scan.
    pub valid_days: u32,
}

impl WelcomeOffer {
    /// `template` (its id and member are replaced for each new member), valid for
    /// `valid_days` days from the enrolling scan.
    pub fn new(template: Voucher, valid_days: u32) -> Self {
        WelcomeOffer {
            template,
            valid_days,
        }
    }

    /// The welcome voucher of `member`, numbered `id`, enrolled at `at` in `store`.
    ///
    /// # Errors
    /// When the validity cannot be expressed (a date beyond 2179).
    pub fn voucher_for(
        &self,
        id: VoucherId,
        member: MemberId,
        store: &Store,
        at: DateTime<Utc>,
    ) -> Result<Voucher, crate::Error> {
        let mut voucher = self.template.clone();
        voucher.id = id;
        voucher
            .for_member(member)
            .valid_for_days(at, store.time_zone, self.valid_days)
    }
}

/// Where check-ins are taken: the store, its keys and rules.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CheckInDesk<'a> {
    /// The merchant's signing keys (check-in codes, share codes, cards, vouchers).
    pub keyring: &'a Keyring,
    /// The pseudonym key.
    pub identity_key: &'a IdentityKey,
    /// How the store's codes rotate.
    pub policy: CheckInPolicy,
    /// The store whose codes are accepted.
    pub store: &'a Store,
    /// Given to each new member, if any.
    pub welcome: Option<&'a WelcomeOffer>,
}

impl<'a> CheckInDesk<'a> {
    /// A desk at `store` taking codes that rotate by `policy`, with no welcome offer.
    pub fn new(
        keyring: &'a Keyring,
        identity_key: &'a IdentityKey,
        policy: CheckInPolicy,
        store: &'a Store,
    ) -> Self {
        CheckInDesk {
            keyring,
            identity_key,
            policy,
            store,
            welcome: None,
        }
    }

    /// The same desk, giving `offer` to each new member.
    pub fn with_welcome(mut self, offer: &'a WelcomeOffer) -> Self {
        self.welcome = Some(offer);
        self
    }

    /// Signs `member`'s membership card, and their welcome voucher if they were given one
    /// (as it was issued: same id, enrolled at the same instant, in this desk's store zone,
    /// with this desk's offer). For an app that lost the first answer and must show the card
    /// again: a repeated scan is refused as a replay, so the tokens come from here.
    ///
    /// # Errors
    /// [`crate::KeyError::NoActiveKey`], a welcome voucher that cannot be signed.
    pub fn tokens_for(&self, member: &Member) -> Result<(Token, Option<Token>), crate::Error> {
        let card = membership_card(self.keyring, member.id, &member.card)?;
        let welcome = match (self.welcome, member.welcome_voucher) {
            (Some(offer), Some(id)) => Some(
                offer
                    .voucher_for(id, member.id, self.store, member.enrolled_at)?
                    .sign(self.keyring)?,
            ),
            _ => None,
        };
        Ok((card, welcome))
    }

    /// Refuses a desk whose ledger, keyring and store belong to different merchants.
    fn check_merchants(&self, ledger: &dyn Ledger) -> Result<(), crate::Error> {
        let expected = ledger.merchant();
        for found in [self.keyring.merchant(), self.store.merchant] {
            if found != expected {
                return Err(LedgerError::WrongMerchant { expected, found }.into());
            }
        }
        if self.keyring.active_key().is_none() {
            return Err(KeyError::NoActiveKey.into());
        }
        Ok(())
    }
}

/// One customer's scan of a check-in code.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MemberScan<'a> {
    /// The check-in code's text, as scanned.
    pub code: &'a str,
    /// Who scanned it.
    pub identity: &'a AccountIdentity,
    /// The friend's share code the customer came through, if any. One that does not verify
    /// refuses the scan.
    pub share_code: Option<&'a str>,
    /// The phone's reported position, to prove presence at a printed code.
    pub position: Option<GeoPoint>,
    /// The radius around the store that counts as inside, metres.
    pub fence_radius_m: u32,
    /// The id the welcome voucher takes if this scan enrolls a new member: an id the ledger
    /// has never seen (allocate one per scan; unused ids are harmless).
    pub welcome_id: VoucherId,
    /// When.
    pub at: DateTime<Utc>,
}

impl<'a> MemberScan<'a> {
    /// `identity`'s scan of `code` at `at`, with no share code and no position.
    /// `welcome_id` is the id a welcome voucher takes if this scan enrolls a new member.
    pub fn new(
        code: &'a str,
        identity: &'a AccountIdentity,
        welcome_id: VoucherId,
        at: DateTime<Utc>,
    ) -> Self {
        MemberScan {
            code,
            identity,
            share_code: None,
            position: None,
            fence_radius_m: 0,
            welcome_id,
            at,
        }
    }

    /// The same scan, made through a friend's share code.
    pub fn with_share_code(mut self, share_code: &'a str) -> Self {
        self.share_code = Some(share_code);
        self
    }

    /// The same scan, with the phone's position and the radius around the store (metres)
    /// that counts as inside: proves presence at a printed code.
    pub fn with_position(mut self, position: GeoPoint, fence_radius_m: u32) -> Self {
        self.position = Some(position);
        self.fence_radius_m = fence_radius_m;
        self
    }
}

/// A scan that counted: the member, and what they take home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCheckIn {
    /// The member (new or known).
    pub member: Member,
    /// Whether this scan enrolled them.
    pub enrolled: bool,
    /// How well the scan proves the visit.
    pub presence: Presence,
    /// The visit recorded.
    pub visit: VisitEvent,
    /// The signed membership card to keep on the phone.
    pub card: Token,
    /// The signed welcome voucher, for a new member when the desk has an offer.
    pub welcome: Option<Token>,
}

/// What became of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a scan may be refused"]
pub enum ScanOutcome {
    /// The visit counted (and the customer was enrolled if new).
    CheckedIn(Box<MemberCheckIn>),
    /// Refused: a code that is stale, from the future, from another store, replayed, forged,
    /// a member already checked in this hour, or a share code that does not verify. Nothing
    /// was recorded.
    Refused {
        /// Why.
        reason: Rejection,
    },
}

/// Takes a customer's scan at `desk`: verifies the codes, enrolls a new member (recording who
/// referred them), records the visit, and hands out the card and welcome voucher. Everything
/// that can fail is checked or signed before the ledger records anything.
///
/// The [`membership`](crate::membership) module's documentation walks through a whole scan.
///
/// # Errors
/// [`LedgerError::WrongMerchant`] (as [`crate::Error::Ledger`]) when the ledger, keyring and
/// store are not one merchant's; [`KeyError::NoActiveKey`]; a welcome voucher that cannot be
/// signed; ledger failures.
pub fn check_in_member(
    ledger: &dyn Ledger,
    desk: &CheckInDesk<'_>,
    scan: &MemberScan<'_>,
) -> Result<ScanOutcome, crate::Error> {
    desk.check_merchants(ledger)?;
    let store = desk.store;
    let fence = store.location.map(|center| Geofence {
        center,
        radius_m: scan.fence_radius_m,
    });
    let position = scan.position.zip(fence);
    let check_in = match verify_check_in(
        scan.code,
        desk.keyring,
        &desk.policy,
        scan.at,
        Some(store.id),
        position,
    ) {
        Ok(check_in) => check_in,
        Err(reason) => return Ok(ScanOutcome::Refused { reason }),
    };
    let referred_by = match scan.share_code.map(|t| verify_share_code(t, desk.keyring)) {
        Some(Err(reason)) => return Ok(ScanOutcome::Refused { reason }),
        Some(Ok(referrer)) => Some(referrer),
        None => None,
    };
    let pseudonym = desk
        .identity_key
        .pseudonym(desk.keyring.merchant(), scan.identity);
    let welcome = desk
        .welcome
        .map(|offer| offer.voucher_for(scan.welcome_id, pseudonym.member_id(), store, scan.at))
        .transpose()?;
    // Signed now, kept only if the scan enrolls: nothing can fail once the ledger has written.
    let welcome_token = welcome.as_ref().map(|v| v.sign(desk.keyring)).transpose()?;
    let request = CheckInRequest {
        check_in: &check_in,
        pseudonym: &pseudonym,
        referred_by,
        at: scan.at,
        welcome: welcome.as_ref(),
    };
    match ledger.check_in(&request)? {
        CheckInOutcome::Refused { reason } => Ok(ScanOutcome::Refused { reason }),
        CheckInOutcome::Visited {
            member,
            enrolled,
            visit,
        } => {
            // The keyring's active key was checked above: sealing a card cannot fail now.
            let card = membership_card(desk.keyring, member.id, &member.card)?;
            Ok(ScanOutcome::CheckedIn(Box::new(MemberCheckIn {
                member,
                enrolled,
                presence: check_in.presence,
                visit,
                card,
                welcome: welcome_token.filter(|_| enrolled),
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdentityKey {
        IdentityKey::from_bytes(&[9; 32]).unwrap()
    }

    #[test]
    fn phone_numbers_normalise_and_bad_ones_are_refused() {
        let a = AccountIdentity::phone("+86 138-0013-8000").unwrap();
        let b = AccountIdentity::phone("0086 (138) 0013.8000").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, AccountIdentity::phone("+8613800138000").unwrap());
        assert_eq!(a.kind(), IdentityKind::Phone);
        for bad in [
            "",
            "+",
            "12345",
            "+86 138 0013 800x",
            "1234567890123456",
            "++8613800",
        ] {
            assert!(AccountIdentity::phone(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AccountIdentity::app_account("").is_err());
        assert!(AccountIdentity::app_account("a\nb").is_err());
        assert!(AccountIdentity::app_account(&"x".repeat(257)).is_err());
        // Debug output never shows the number.
        assert!(!format!("{a:?}").contains("138"));
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_per_merchant() {
        let phone = AccountIdentity::phone("+8613800138000").unwrap();
        let p = key().pseudonym(MerchantId(1), &phone);
        assert_eq!(p, key().pseudonym(MerchantId(1), &phone));
        assert_ne!(p, key().pseudonym(MerchantId(2), &phone));
        let other_key = IdentityKey::from_bytes(&[8; 32]).unwrap();
        assert_ne!(p, other_key.pseudonym(MerchantId(1), &phone));
        // A phone number and an app account with the same text are different people.
        let app = AccountIdentity::app_account("+8613800138000").unwrap();
        assert_ne!(p, key().pseudonym(MerchantId(1), &app));
        assert!(p.preferred_card_serial() <= CardNumber::MAX_SERIAL);
        assert!(IdentityKey::from_bytes(&[1; 31]).is_err());
    }
}
