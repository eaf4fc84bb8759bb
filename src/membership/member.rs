//! Members: the electronic membership card a customer holds after scanning in a store.

use crate::ids::{MemberId, MerchantId, StoreId, VoucherId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a card number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// Not 16 digits after removing spaces and hyphens.
    #[error("invalid card number {0:?}: expected 16 digits")]
    InvalidFormat(String),
    /// The Luhn check digit does not match: a digit was mistyped.
    #[error("card number {0:?} fails its check digit")]
    BadCheckDigit(String),
    /// The serial needs more than 15 digits.
    #[error("card serial {0} does not fit in 15 digits")]
    SerialTooLarge(u64),
}

/// A membership card number: 15 digits of serial and one Luhn check digit (as on payment
/// cards), so a cashier who mistypes one digit is told at once, and one who swaps two
/// neighbouring digits too — except `09` and `90`, the one swap Luhn cannot see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardNumber([u8; 16]);

impl CardNumber {
    /// The largest serial a card number holds.
    pub const MAX_SERIAL: u64 = 999_999_999_999_999;

    /// The card number for `serial` (0..=[`CardNumber::MAX_SERIAL`]), with its check digit.
    ///
    /// # Errors
    /// [`CardError::SerialTooLarge`] above the maximum.
    pub fn from_serial(serial: u64) -> Result<Self, CardError> {
        if serial > Self::MAX_SERIAL {
            return Err(CardError::SerialTooLarge(serial));
        }
        let mut digits = [b'0'; 16];
        let text = format!("{serial:015}");
        digits[..15].copy_from_slice(text.as_bytes());
        digits[15] = b'0' + luhn_check_digit(&digits[..15]);
        Ok(CardNumber(digits))
    }

    /// Parses a card number as printed or typed: 16 digits, spaces and hyphens ignored.
    ///
    /// # Errors
    /// [`CardError::InvalidFormat`] or [`CardError::BadCheckDigit`].
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b' ' && *b != b'-').collect();
        let digits: [u8; 16] = digits
            .try_into()
            .map_err(|_| CardError::InvalidFormat(crate::error::excerpt(text)))?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(CardError::InvalidFormat(crate::error::excerpt(text)));
        }
        if digits[15] - b'0' != luhn_check_digit(&digits[..15]) {
            return Err(CardError::BadCheckDigit(crate::error::excerpt(text)));
        }
        Ok(CardNumber(digits))
    }

    /// The serial the number was made from.
    pub fn serial(&self) -> u64 {
        self.0[..15]
            .iter()
            .fold(0, |acc, d| acc * 10 + u64::from(d - b'0'))
    }

    /// The 16 digits without separators.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// The Luhn (mod 10) check digit for `payload` digits, as on payment cards.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for CardNumber {
    /// Four groups of four digits: `0000 0000 0123 4566`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "{} {} {} {}", &s[..4], &s[4..8], &s[8..12], &s[12..])
    }
}

impl Serialize for CardNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CardNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CardNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A membership tier. Higher is better; the merchant names the levels (for example 0 basic,
/// 1 silver, 2 gold). Vouchers can require a minimum tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tier(pub u8);

impl Tier {
    /// The entry level every member starts at.
    pub const BASIC: Tier = Tier(0);
}

/// A customer holding a merchant's electronic membership card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Member {
    /// Pseudonymous id (never a phone number).
    pub id: MemberId,
    /// The merchant whose card this is.
    pub merchant: MerchantId,
    /// The card number shown to the member and typed by cashiers.
    pub card: CardNumber,
    /// The store where they enrolled.
    pub enrolled_store: StoreId,
    /// The member whose share code enrolled this one, if any.
    pub referred_by: Option<MemberId>,
    /// When the member enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// The welcome voucher recorded when they enrolled, if any (see
    /// [`crate::CheckInDesk::tokens_for`] to sign it again).
    pub welcome_voucher: Option<VoucherId>,
}

impl Member {
    /// Member `id` of `merchant` holding `card`, enrolled in `store` at `enrolled_at`, with no
    /// referrer and no welcome voucher: for members imported from another system (the ledger
    /// makes its own).
    pub fn new(
        id: MemberId,
        merchant: MerchantId,
        card: CardNumber,
        store: StoreId,
        enrolled_at: DateTime<Utc>,
    ) -> Self {
        Member {
            id,
            merchant,
            card,
            enrolled_store: store,
            referred_by: None,
            enrolled_at,
            welcome_voucher: None,
        }
    }

    /// The same member, enrolled through `referrer`'s share code.
    pub fn referred_by(mut self, referrer: MemberId) -> Self {
        self.referred_by = Some(referrer);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_a_known_number() {
        // 7992739871 has check digit 3 (the classic Luhn example).
        assert_eq!(luhn_check_digit(b"7992739871"), 3);
        assert_eq!(luhn_check_digit(b"000000000000000"), 0);
    }

    #[test]
    fn card_numbers_round_trip_and_catch_typos() {
        let card = CardNumber::from_serial(123_456_789).unwrap();
        assert_eq!(card.serial(), 123_456_789);
        assert_eq!(CardNumber::parse(&card.to_string()).unwrap(), card);
        let text = card.as_str().to_owned();
        for pos in 0..16 {
            let mut typo = text.clone().into_bytes();
            typo[pos] = if typo[pos] == b'9' {
                b'0'
            } else {
                typo[pos] + 1
            };
            let typo = String::from_utf8(typo).unwrap();
            assert!(
                matches!(CardNumber::parse(&typo), Err(CardError::BadCheckDigit(_))),
                "{typo} accepted"
            );
        }
        assert!(CardNumber::parse("1234").is_err());
        assert!(CardNumber::parse("abcdabcdabcdabcd").is_err());
        assert!(CardNumber::from_serial(CardNumber::MAX_SERIAL + 1).is_err());
    }
}
