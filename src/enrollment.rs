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

use crate::checkin::{CheckInPolicy, Presence, verify_check_in};
use crate::ids::{MemberId, MerchantId, VoucherId};
use crate::keys::{KeyError, Keyring};
use crate::ledger::{CheckInOutcome, CheckInRequest, Ledger, VisitEvent};
use crate::member::{CardNumber, Member};
use crate::member_tokens::{membership_card, verify_share_code};
use crate::merchant::Store;
use crate::region::{GeoPoint, Geofence};
use crate::rejection::Rejection;
use crate::token::Token;
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// The account a customer enrolls with. Only its [`Pseudonym`] is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub enum AccountIdentity {
    /// A phone number, normalised: an optional leading `+` and 6 to 15 digits.
    Phone(String),
    /// An app account, such as `wechat:o6_bmjrPTlm6_2sgVt7hMZOPfL2M`.
    AppAccount(String),
}

impl AccountIdentity {
    /// A phone number as typed: spaces, hyphens, dots and parentheses are dropped and a
    /// leading `00` becomes `+`. Pass numbers in international form (`+86 138 0013 8000`):
    /// the national form of the same number gives another member.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when what is left is not 6 to 15 digits after an
    /// optional `+`.
    pub fn phone(text: &str) -> Result<Self, crate::Error> {
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
            return Err(crate::Error::InvalidInput(
                "a phone number must be 6 to 15 digits, with an optional leading +".into(),
            ));
        }
        Ok(AccountIdentity::Phone(normal))
    }

    /// An app account id, taken exactly as given (case matters).
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when empty, longer than 256 bytes or holding control
    /// characters.
    pub fn app_account(text: &str) -> Result<Self, crate::Error> {
        if text.is_empty() || text.len() > 256 || text.chars().any(char::is_control) {
            return Err(crate::Error::InvalidInput(
                "an app account must be 1 to 256 bytes without control characters".into(),
            ));
        }
        Ok(AccountIdentity::AppAccount(text.to_owned()))
    }

    fn tag_and_text(&self) -> (u8, &str) {
        match self {
            AccountIdentity::Phone(p) => (1, p),
            AccountIdentity::AppAccount(a) => (2, a),
        }
    }
}

impl fmt::Debug for AccountIdentity {
    /// Redacted: identities are personal data and do not belong in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountIdentity::Phone(_) => f.write_str("Phone(<redacted>)"),
            AccountIdentity::AppAccount(_) => f.write_str("AppAccount(<redacted>)"),
        }
    }
}

/// The merchant's secret for pseudonyms: at least 32 random bytes, kept apart from the
/// signing keys and never rotated (rotating it would give every member a new id).
#[derive(Clone)]
pub struct IdentityKey {
    keyed: Hmac<Sha256>,
}

impl IdentityKey {
    /// A key from secret bytes.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] below 32 bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < crate::keys::SigningKey::MIN_LEN {
            return Err(KeyError::TooShort(secret.len()));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        Ok(IdentityKey { keyed })
    }

    /// The pseudonym of `identity` at `merchant`: the same account always gives the same
    /// pseudonym, and two merchants never share one.
    pub fn pseudonym(&self, merchant: MerchantId, identity: &AccountIdentity) -> Pseudonym {
        let (tag, text) = identity.tag_and_text();
        let mut mac = self.keyed.clone();
        mac.update(b"o2okit member v1\0");
        mac.update(&merchant.0.to_le_bytes());
        mac.update(&[tag]);
        mac.update(text.as_bytes());
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
pub struct WelcomeOffer {
    /// Benefit, currency and limits; its id and member are replaced for each new member.
    pub template: Voucher,
    /// Days of validity from the enrolling scan.
    pub valid_days: u32,
}

impl WelcomeOffer {
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

/// One customer's scan of a check-in code.
#[derive(Debug, Clone, Copy)]
pub struct MemberScan<'a> {
    /// The check-in code's text, as scanned.
    pub code: &'a str,
    /// Who scanned it.
    pub identity: &'a AccountIdentity,
    /// The friend's share code the customer came through, if any.
    pub share_code: Option<&'a str>,
    /// The phone's reported position, to prove presence at a printed code.
    pub position: Option<GeoPoint>,
    /// The radius around the store that counts as inside, metres.
    pub fence_radius_m: u32,
    /// The id the welcome voucher takes if this scan enrolls a new member.
    pub welcome_id: VoucherId,
    /// When.
    pub at: DateTime<Utc>,
}

/// A scan that counted: the member, and what they take home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
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
pub enum ScanOutcome {
    /// The visit counted (and the customer was enrolled if new).
    CheckedIn(Box<Enrollment>),
    /// Refused: a code that is stale, from the future, from another store, replayed, forged,
    /// or a share code that does not verify. Nothing was recorded.
    Refused {
        /// Why.
        reason: Rejection,
    },
}

/// Takes a customer's scan at `desk`: verifies the codes, enrolls a new member (recording who
/// referred them), records the visit, and hands out the card and welcome voucher.
///
/// # Errors
/// Ledger failures ([`crate::Error::Ledger`]), a welcome voucher that cannot be signed.
pub fn check_in_member(
    ledger: &dyn Ledger,
    desk: &CheckInDesk<'_>,
    scan: &MemberScan<'_>,
) -> Result<ScanOutcome, crate::Error> {
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
            let card = membership_card(desk.keyring, member.id, &member.card)?;
            let welcome = match (enrolled, welcome) {
                (true, Some(voucher)) => Some(voucher.sign(desk.keyring)?),
                _ => None,
            };
            Ok(ScanOutcome::CheckedIn(Box::new(Enrollment {
                member,
                enrolled,
                presence: check_in.presence,
                visit,
                card,
                welcome,
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
        assert_eq!(a, AccountIdentity::Phone("+8613800138000".into()));
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
        // The stored bytes are not a plain hash of the number.
        use sha2::Digest;
        let plain: [u8; 32] = Sha256::digest(b"+8613800138000").into();
        assert_ne!(p.as_bytes(), &plain);
        assert!(p.preferred_card_serial() <= CardNumber::MAX_SERIAL);
        assert!(IdentityKey::from_bytes(&[1; 31]).is_err());
    }
}
