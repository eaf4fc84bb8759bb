//! Why a token was refused: a normal outcome at the till, not an error.
//!
//! Each reason has a stable number that never changes meaning (the C ABI exposes the same
//! numbers). Numbers come in blocks by stage: 1–9 the token itself and its signature, 10–19
//! time, 20–29 region, 30–39 member, 40–49 basket, 50–59 voucher state (kept by the ledger).
//! A retired number is never reused.
//!
//! The table below is the one place a reason is written. The Rust enum, [`Rejection::ALL`],
//! the names and texts come from it through `rejection_table!`; with the `capi` feature
//! `build.rs` reads the same lines to write the C enum `o2o_rejection` and the names
//! `o2o_rejection_name` returns; `docs/rejections.md` is checked against it by
//! `tests/rejection_table.rs`. Keep one reason per line in this exact form:
//! `Variant = code, "name", "text";` (no `"` inside the text).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! rejection_table {
    ($($variant:ident = $code:literal, $name:literal, $text:literal;)+) => {
        /// The one reason a voucher (or another token) was refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum Rejection {
            $(
                #[doc = $text]
                #[serde(rename = $name)]
                $variant = $code,
            )+
        }

        const REASON_COUNT: usize = [$($code),+].len();

        impl Rejection {
            /// Every reason, in code order.
            pub const ALL: [Rejection; REASON_COUNT] = [$(Rejection::$variant),+];

            /// A stable machine-readable name, such as `"below_minimum_spend"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $name,)+
                }
            }

            /// One sentence for a person (a cashier, a log reader), in English, such as
            /// "The spend that counts is below the minimum.". Not stable: match on the
            /// reason or its [`code`](Rejection::code), never on this text.
            pub fn text(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $text,)+
                }
            }
        }
    };
}

rejection_table! {
    Malformed = 1, "malformed", "Not a token: bad characters, wrong length, a field that does not parse.";
    UnsupportedVersion = 2, "unsupported_version", "A token format version or signature scheme this build does not read.";
    WrongKind = 3, "wrong_kind", "A valid token of another kind (a membership card scanned as a voucher).";
    WrongMerchant = 4, "wrong_merchant", "Signed for another merchant.";
    UnknownKey = 5, "unknown_key", "Signed with a key id the keyring does not have.";
    RetiredKey = 6, "retired_key", "Signed with a key that has been retired.";
    BadSignature = 7, "bad_signature", "The signature does not match: forged or altered.";
    KeyNotPermitted = 8, "key_not_permitted", "Signed with a key whose role does not cover it: a key for another kind of token, or another store's key.";
    NotYetValid = 10, "not_yet_valid", "Before the start of its validity (store-local time).";
    Expired = 11, "expired", "At or after the end of its validity (store-local time).";
    WrongWeekday = 12, "wrong_weekday", "Not valid on this day of the week (store-local).";
    OutsideHours = 13, "outside_hours", "Outside its daily hours (store-local).";
    StaleCode = 14, "stale_code", "A rotating check-in code older than the tolerance: photographed, or scanned too late.";
    FutureCode = 15, "future_code", "A rotating check-in code from beyond the tolerance ahead: a clock set wrong.";
    ReplayedCode = 16, "replayed_code", "A check-in code this member already scanned in this store.";
    AlreadyCheckedIn = 17, "already_checked_in", "This member already checked in at this store within the clock hour: one check-in visit per member, store and hour.";
    WrongStore = 20, "wrong_store", "Not valid in this store.";
    OutsideRegion = 21, "outside_region", "Not valid in this store's region.";
    OutsideGeofence = 22, "outside_geofence", "This store is outside the voucher's geofence (or its location is unknown).";
    MemberRequired = 30, "member_required", "The voucher needs an identified member and none was presented.";
    WrongMember = 31, "wrong_member", "Bound to another member.";
    NotNewMember = 32, "not_new_member", "For new members only: members who have bought nothing yet.";
    TierTooLow = 33, "tier_too_low", "The member's tier is below the voucher's minimum.";
    NotCombinable = 40, "not_combinable", "Not combinable, and the basket holds other vouchers.";
    CurrencyMismatch = 41, "currency_mismatch", "The basket is in another currency than the voucher.";
    BelowMinimumSpend = 42, "below_minimum_spend", "The spend that counts is below the minimum.";
    NoEligibleItems = 43, "no_eligible_items", "Nothing in the basket counts toward the discount.";
    NoDiscount = 44, "no_discount", "The benefit comes to nothing on this basket (a percentage that rounds down to zero minor units): refused rather than spending a use for nothing.";
    AlreadyUsed = 50, "already_used", "Every use has been spent.";
    MemberLimitReached = 51, "member_limit_reached", "This member has used it as often as allowed.";
    NoValueLeft = 52, "no_value_left", "A stored-value voucher with nothing left.";
    Revoked = 53, "revoked", "Revoked by the merchant.";
    OnlineRequired = 60, "online_required", "This till is working offline and its offline allowance does not cover this voucher (online only, above the offline value, the till's offline budget for the day spent, or too long since its last sync): redeem it online.";
}

impl Rejection {
    /// The stable number of this reason.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason with stable number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<Rejection> {
        Self::ALL.into_iter().find(|r| r.code() == code)
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
        assert_eq!(Rejection::from_code(9), None);
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
