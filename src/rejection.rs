//! Why a token was refused: a normal outcome at the till, not an error.
//!
//! Each reason has a stable number that never changes meaning (the C ABI exposes the same
//! numbers). Numbers come in blocks by stage: 1–9 the token itself and its signature, 10–19
//! time, 20–29 region, 30–39 member, 40–49 basket, 50–59 voucher state (kept by the ledger).
//! A retired number is never reused.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The one reason a voucher (or another token) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a token: bad characters, wrong length, a field that does not parse.
    Malformed = 1,
    /// A token format version or signature scheme this build does not read.
    UnsupportedVersion = 2,
    /// A valid token of another kind (a membership card scanned as a voucher).
    WrongKind = 3,
    /// Signed for another merchant.
    WrongMerchant = 4,
    /// Signed with a key id the keyring does not have.
    UnknownKey = 5,
    /// Signed with a key that has been retired.
    RetiredKey = 6,
    /// The signature does not match: forged or altered.
    BadSignature = 7,
    /// Before the start of its validity (store-local time).
    NotYetValid = 10,
    /// At or after the end of its validity (store-local time).
    Expired = 11,
    /// Not valid on this day of the week (store-local).
    WrongWeekday = 12,
    /// Outside its daily hours (store-local).
    OutsideHours = 13,
    /// A rotating check-in code older than the tolerance: photographed, or scanned too late.
    StaleCode = 14,
    /// A rotating check-in code from beyond the tolerance ahead: a clock set wrong.
    FutureCode = 15,
    /// A check-in code this member already scanned in this store.
    ReplayedCode = 16,
    /// This member already checked in at this store within the hour: one check-in visit per
    /// member, store and clock hour.
    AlreadyCheckedIn = 17,
    /// Not valid in this store.
    WrongStore = 20,
    /// Not valid in this store's region.
    OutsideRegion = 21,
    /// This store is outside the voucher's geofence (or its location is unknown).
    OutsideGeofence = 22,
    /// The voucher needs an identified member and none was presented.
    MemberRequired = 30,
    /// Bound to another member.
    WrongMember = 31,
    /// For new members only.
    NotNewMember = 32,
    /// The member's tier is below the voucher's minimum.
    TierTooLow = 33,
    /// Not combinable, and the basket holds other vouchers.
    NotCombinable = 40,
    /// The basket is in another currency than the voucher.
    CurrencyMismatch = 41,
    /// The spend that counts is below the minimum.
    BelowMinimumSpend = 42,
    /// Nothing in the basket counts toward the discount.
    NoEligibleItems = 43,
    /// The benefit comes to nothing on this basket (a percentage that rounds down to zero
    /// minor units): refused rather than spending a use for nothing.
    NoDiscount = 44,
    /// Every use has been spent.
    AlreadyUsed = 50,
    /// This member has used it as often as allowed.
    MemberLimitReached = 51,
    /// A stored-value voucher with nothing left.
    NoValueLeft = 52,
    /// Revoked by the merchant.
    Revoked = 53,
}

impl Rejection {
    /// Every reason, in code order.
    pub const ALL: [Rejection; 31] = [
        Rejection::Malformed,
        Rejection::UnsupportedVersion,
        Rejection::WrongKind,
        Rejection::WrongMerchant,
        Rejection::UnknownKey,
        Rejection::RetiredKey,
        Rejection::BadSignature,
        Rejection::NotYetValid,
        Rejection::Expired,
        Rejection::WrongWeekday,
        Rejection::OutsideHours,
        Rejection::StaleCode,
        Rejection::FutureCode,
        Rejection::ReplayedCode,
        Rejection::AlreadyCheckedIn,
        Rejection::WrongStore,
        Rejection::OutsideRegion,
        Rejection::OutsideGeofence,
        Rejection::MemberRequired,
        Rejection::WrongMember,
        Rejection::NotNewMember,
        Rejection::TierTooLow,
        Rejection::NotCombinable,
        Rejection::CurrencyMismatch,
        Rejection::BelowMinimumSpend,
        Rejection::NoEligibleItems,
        Rejection::NoDiscount,
        Rejection::AlreadyUsed,
        Rejection::MemberLimitReached,
        Rejection::NoValueLeft,
        Rejection::Revoked,
    ];

    /// The stable number of this reason.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason with stable number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<Rejection> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A stable machine-readable name, such as `"below_minimum_spend"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::UnsupportedVersion => "unsupported_version",
            Rejection::WrongKind => "wrong_kind",
            Rejection::WrongMerchant => "wrong_merchant",
            Rejection::UnknownKey => "unknown_key",
            Rejection::RetiredKey => "retired_key",
            Rejection::BadSignature => "bad_signature",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::Expired => "expired",
            Rejection::WrongWeekday => "wrong_weekday",
            Rejection::OutsideHours => "outside_hours",
            Rejection::StaleCode => "stale_code",
            Rejection::FutureCode => "future_code",
            Rejection::ReplayedCode => "replayed_code",
            Rejection::AlreadyCheckedIn => "already_checked_in",
            Rejection::WrongStore => "wrong_store",
            Rejection::OutsideRegion => "outside_region",
            Rejection::OutsideGeofence => "outside_geofence",
            Rejection::MemberRequired => "member_required",
            Rejection::WrongMember => "wrong_member",
            Rejection::NotNewMember => "not_new_member",
            Rejection::TierTooLow => "tier_too_low",
            Rejection::NotCombinable => "not_combinable",
            Rejection::CurrencyMismatch => "currency_mismatch",
            Rejection::BelowMinimumSpend => "below_minimum_spend",
            Rejection::NoEligibleItems => "no_eligible_items",
            Rejection::NoDiscount => "no_discount",
            Rejection::AlreadyUsed => "already_used",
            Rejection::MemberLimitReached => "member_limit_reached",
            Rejection::NoValueLeft => "no_value_left",
            Rejection::Revoked => "revoked",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for r in Rejection::ALL {
            assert!(codes.insert(r.code()), "duplicate code {}", r.code());
            assert!(names.insert(r.as_str()), "duplicate name {r}");
            assert_eq!(Rejection::from_code(r.code()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Rejection::from_code(0), None);
        assert_eq!(Rejection::from_code(8), None);
    }

    #[test]
    fn codes_are_frozen() {
        // Tills store these numbers: changing one is a breaking change.
        assert_eq!(Rejection::Malformed.code(), 1);
        assert_eq!(Rejection::BadSignature.code(), 7);
        assert_eq!(Rejection::Expired.code(), 11);
        assert_eq!(Rejection::WrongStore.code(), 20);
        assert_eq!(Rejection::TierTooLow.code(), 33);
        assert_eq!(Rejection::BelowMinimumSpend.code(), 42);
        assert_eq!(Rejection::AlreadyUsed.code(), 50);
        assert_eq!(Rejection::Revoked.code(), 53);
    }
}
