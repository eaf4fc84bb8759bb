//! Money: integer minor units with an ISO 4217 currency code. Never floating point.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a currency code or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The code is not three ASCII letters.
    #[error("invalid currency code {0:?}: expected three ASCII letters such as \"CNY\"")]
    InvalidCurrency(String),
    /// Amounts of different currencies were combined.
    #[error("currency mismatch: {expected} and {found}")]
    CurrencyMismatch {
        /// The currency that was expected.
        expected: Currency,
        /// The currency that was found instead.
        found: Currency,
    },
    /// A sum left the range of the amount type.
    #[error("amount overflow")]
    Overflow,
}

/// An ISO 4217 alphabetic currency code, such as `CNY`, stored upper-case.
///
/// Any three ASCII letters are accepted (o2okit does not ship the ISO list); lower-case input
/// is upper-cased.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency(*b"CNY");
    /// Hong Kong dollar.
    pub const HKD: Currency = Currency(*b"HKD");
    /// United States dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a three-letter code.
    ///
    /// # Errors
    /// [`MoneyError::InvalidCurrency`] unless `code` is exactly three ASCII letters.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::InvalidCurrency(crate::error::excerpt(code)));
        }
        let mut upper = [0u8; 3];
        for (out, b) in upper.iter_mut().zip(bytes) {
            *out = b.to_ascii_uppercase();
        }
        Ok(Currency(upper))
    }

    /// The code as text, e.g. `"CNY"`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point of the minor unit (ISO 4217 exponent): 0 for JPY, KRW and
    /// a few others, 3 for the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya, Tunisia and
    /// Oman's rial, 2 for every other code.
    pub fn minor_digits(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }

    /// Packs the code into 15 bits (5 bits a letter) for compact tokens.
    pub(crate) fn to_packed(self) -> u16 {
        self.0
            .iter()
            .fold(0u16, |acc, b| (acc << 5) | u16::from(b - b'A'))
    }

    /// Reverses [`Currency::to_packed`]; `None` for values no code packs to.
    pub(crate) fn from_packed(packed: u16) -> Option<Self> {
        if packed >> 15 != 0 {
            return None;
        }
        let mut code = [0u8; 3];
        for (i, out) in code.iter_mut().enumerate() {
            let letter = (packed >> (10 - 5 * i)) & 0x1f;
            if letter >= 26 {
                return None;
            }
            *out = b'A' + letter as u8;
        }
        Some(Currency(code))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::new(&text).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: signed integer minor units (cents, fen) of one currency.
///
/// `minor` ranges over all of `i64`; negative amounts are refunds or corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount in minor units of `currency`.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount of `minor` units of `currency`.
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Adds two amounts of the same currency.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`] for different currencies, [`MoneyError::Overflow`] when
    /// the sum leaves `i64`.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            });
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }
}

impl fmt::Display for Money {
    /// Formats as `CNY 12.34` using the currency's minor digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{} {sign}{magnitude}", self.currency);
        }
        let scale = 10u64.pow(digits);
        write!(
            f,
            "{} {sign}{}.{:0width$}",
            self.currency,
            magnitude / scale,
            magnitude % scale,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_parses_and_upper_cases() {
        assert_eq!(Currency::new("cny").unwrap(), Currency::CNY);
        assert!(Currency::new("CN").is_err());
        assert!(Currency::new("CN1").is_err());
        assert!(Currency::new("CNYY").is_err());
        assert!(Currency::new("ÇNY").is_err());
    }

    #[test]
    fn currency_packs_round_trip() {
        for code in ["AAA", "ZZZ", "CNY", "USD", "JPY", "EUR"] {
            let c = Currency::new(code).unwrap();
            assert_eq!(Currency::from_packed(c.to_packed()), Some(c));
        }
        assert_eq!(Currency::from_packed(0x8000), None);
        assert_eq!(Currency::from_packed(26 << 10), None);
    }

    #[test]
    fn money_displays_with_minor_digits() {
        assert_eq!(Money::new(1234, Currency::CNY).to_string(), "CNY 12.34");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "USD -0.05");
        assert_eq!(Money::new(500, Currency::JPY).to_string(), "JPY 500");
        let kwd = Currency::new("KWD").unwrap();
        assert_eq!(Money::new(1005, kwd).to_string(), "KWD 1.005");
    }

    #[test]
    fn money_adds_only_same_currency() {
        let a = Money::new(100, Currency::CNY);
        assert_eq!(a.checked_add(a).unwrap().minor, 200);
        assert!(matches!(
            a.checked_add(Money::new(1, Currency::USD)),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(
            Money::new(i64::MAX, Currency::CNY).checked_add(Money::new(1, Currency::CNY)),
            Err(MoneyError::Overflow)
        );
    }
}
