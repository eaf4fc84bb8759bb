//! What a voucher gives.

use crate::ids::ItemId;
use serde::{Deserialize, Serialize};

/// The benefit of a voucher. Amounts are minor units of the voucher's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Benefit {
    /// A fixed amount off the eligible spend (never more than the eligible spend).
    AmountOff {
        /// Amount off, minor units, at least 1.
        minor: u64,
    },
    /// A percentage off the eligible spend, rounded down to the minor unit, optionally capped.
    PercentOff {
        /// Hundredths of a percent: 1..=10_000 (1,500 = 15%).
        basis_points: u16,
        /// The most it may take off, minor units (at least 1), if capped.
        cap_minor: Option<u64>,
    },
    /// A free item.
    GiftItem {
        /// The item handed out.
        item: ItemId,
        /// How many, at least 1.
        quantity: u16,
    },
    /// Prepaid value spent in parts over several visits; the ledger tracks what is left.
    StoredValue {
        /// Face value, minor units, at least 1.
        minor: u64,
    },
}

impl Benefit {
    /// The discount this benefit gives on `eligible_minor` of spend that counts, before any
    /// state kept by the ledger (a stored-value voucher may have less left than its face value).
    pub fn discount_on(&self, eligible_minor: u64) -> u64 {
        match *self {
            Benefit::AmountOff { minor } | Benefit::StoredValue { minor } => {
                minor.min(eligible_minor)
            }
            Benefit::PercentOff {
                basis_points,
                cap_minor,
            } => {
                let raw = u128::from(eligible_minor) * u128::from(basis_points) / 10_000;
                // raw ≤ eligible_minor because basis_points ≤ 10,000.
                let raw = raw as u64;
                cap_minor.map_or(raw, |cap| raw.min(cap))
            }
            Benefit::GiftItem { .. } => 0,
        }
    }

    /// Whether the benefit is worth something only against eligible spend.
    pub(crate) fn needs_eligible_spend(&self) -> bool {
        !matches!(self, Benefit::GiftItem { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts() {
        assert_eq!(Benefit::AmountOff { minor: 500 }.discount_on(300), 300);
        assert_eq!(Benefit::AmountOff { minor: 500 }.discount_on(3000), 500);
        let pct = Benefit::PercentOff {
            basis_points: 1500,
            cap_minor: Some(1000),
        };
        assert_eq!(pct.discount_on(1999), 299); // 299.85 rounded down
        assert_eq!(pct.discount_on(100_000), 1000);
        let full = Benefit::PercentOff {
            basis_points: 10_000,
            cap_minor: None,
        };
        assert_eq!(full.discount_on(u64::MAX), u64::MAX);
        let gift = Benefit::GiftItem {
            item: ItemId(7),
            quantity: 1,
        };
        assert_eq!(gift.discount_on(5000), 0);
    }
}
