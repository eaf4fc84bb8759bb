//! The membership card's points (积分) and prepaid balance (储值), and the merchant's rules
//! for earning points and climbing tiers.

use super::IdempotencyKey;
use crate::ids::MemberId;
use crate::membership::member::Tier;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A change to a member's points or balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case", tag = "kind", content = "amount")]
pub enum MovementKind {
    /// Points earned (by spending, a campaign, a referral).
    EarnPoints(u64),
    /// Points spent on a reward.
    SpendPoints(u64),
    /// Prepaid balance topped up, minor units.
    TopUp(u64),
    /// Prepaid balance spent, minor units.
    SpendBalance(u64),
}

impl MovementKind {
    /// Signed change to (points, balance).
    pub(crate) fn deltas(self) -> (i128, i128) {
        match self {
            MovementKind::EarnPoints(n) => (i128::from(n), 0),
            MovementKind::SpendPoints(n) => (-i128::from(n), 0),
            MovementKind::TopUp(n) => (0, i128::from(n)),
            MovementKind::SpendBalance(n) => (0, -i128::from(n)),
        }
    }

    /// The amount, points or minor units.
    pub fn amount(self) -> u64 {
        match self {
            MovementKind::EarnPoints(n)
            | MovementKind::SpendPoints(n)
            | MovementKind::TopUp(n)
            | MovementKind::SpendBalance(n) => n,
        }
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn code(self) -> u8 {
        match self {
            MovementKind::EarnPoints(_) => 1,
            MovementKind::SpendPoints(_) => 2,
            MovementKind::TopUp(_) => 3,
            MovementKind::SpendBalance(_) => 4,
        }
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn from_code(code: u8, amount: u64) -> Option<Self> {
        Some(match code {
            1 => MovementKind::EarnPoints(amount),
            2 => MovementKind::SpendPoints(amount),
            3 => MovementKind::TopUp(amount),
            4 => MovementKind::SpendBalance(amount),
            _ => return None,
        })
    }
}

/// A request to move points or balance, safe to retry with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovementRequest {
    /// Whose card.
    pub member: MemberId,
    /// What changes.
    pub kind: MovementKind,
    /// When.
    pub at: DateTime<Utc>,
    /// Makes a retry return the first result instead of moving twice.
    pub idempotency_key: IdempotencyKey,
}

/// A movement the ledger recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    /// Sequence number in the ledger, from 1.
    pub id: u64,
    /// Whose card.
    pub member: MemberId,
    /// What changed.
    pub kind: MovementKind,
    /// When.
    pub at: DateTime<Utc>,
    /// The request's key.
    pub idempotency_key: IdempotencyKey,
    /// Points after the movement.
    pub points_after: u64,
    /// Balance after the movement, minor units.
    pub balance_after_minor: u64,
}

/// A member's points and balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Points held.
    pub points: u64,
    /// Prepaid balance, minor units.
    pub balance_minor: u64,
}

impl Account {
    /// The account after `kind`.
    ///
    /// # Errors
    /// [`super::LedgerError::InsufficientFunds`] when it would go negative or overflow.
    pub(crate) fn checked_after(self, kind: MovementKind) -> Result<Account, super::LedgerError> {
        self.after(kind)
            .ok_or(super::LedgerError::InsufficientFunds {
                kind,
                account: self,
            })
    }

    /// The account after `kind`, or `None` when it would go negative or overflow.
    pub(crate) fn after(self, kind: MovementKind) -> Option<Account> {
        let (dp, db) = kind.deltas();
        let points = u64::try_from(i128::from(self.points) + dp).ok()?;
        let balance_minor = u64::try_from(i128::from(self.balance_minor) + db).ok()?;
        Some(Account {
            points,
            balance_minor,
        })
    }
}

/// How spend earns points: `points_per_unit` points for every whole `unit_minor` spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsRule {
    /// Spend per step, minor units (at least 1): 100 = per yuan.
    pub unit_minor: u64,
    /// Points per step.
    pub points_per_unit: u64,
}

impl PointsRule {
    /// Points earned by `spend_minor` (partial units earn nothing).
    pub fn points_for(&self, spend_minor: u64) -> u64 {
        (spend_minor / self.unit_minor.max(1)).saturating_mul(self.points_per_unit)
    }
}

/// How points earned recently lift a member's tier: "gold after 5,000 points in 12 months".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSchedule {
    /// Points count when earned within this many days before the moment of evaluation.
    pub window_days: u32,
    /// (tier, points needed), any order; a member gets the highest tier they qualify for, or
    /// [`Tier::BASIC`].
    pub levels: Vec<(Tier, u64)>,
}

impl TierSchedule {
    /// The tier for `points_earned` within the window.
    pub fn tier_for(&self, points_earned: u64) -> Tier {
        self.levels
            .iter()
            .filter(|(_, needed)| points_earned >= *needed)
            .map(|(tier, _)| *tier)
            .max()
            .unwrap_or(Tier::BASIC)
    }

    /// The tier at `at`, from a member's movements.
    pub fn tier_at(&self, movements: &[Movement], at: DateTime<Utc>) -> Tier {
        let since = at
            .checked_sub_signed(Duration::days(i64::from(self.window_days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let earned = movements
            .iter()
            .filter(|m| m.at > since && m.at <= at)
            .filter_map(|m| match m.kind {
                MovementKind::EarnPoints(n) => Some(n),
                _ => None,
            })
            .fold(0u64, u64::saturating_add);
        self.tier_for(earned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_never_go_negative() {
        let a = Account {
            points: 10,
            balance_minor: 500,
        };
        assert_eq!(a.after(MovementKind::SpendPoints(11)), None);
        assert_eq!(a.after(MovementKind::SpendBalance(501)), None);
        assert_eq!(
            a.after(MovementKind::SpendBalance(500))
                .unwrap()
                .balance_minor,
            0
        );
        let full = Account {
            points: u64::MAX,
            balance_minor: 0,
        };
        assert_eq!(full.after(MovementKind::EarnPoints(1)), None);
    }

    #[test]
    fn points_rule_rounds_down() {
        let per_yuan = PointsRule {
            unit_minor: 100,
            points_per_unit: 1,
        };
        assert_eq!(per_yuan.points_for(12_899), 128);
        assert_eq!(per_yuan.points_for(99), 0);
    }

    #[test]
    fn tier_counts_points_within_the_window_only() {
        let schedule = TierSchedule {
            window_days: 365,
            levels: vec![(Tier(2), 5_000), (Tier(1), 1_000)],
        };
        assert_eq!(schedule.tier_for(999), Tier::BASIC);
        assert_eq!(schedule.tier_for(1_000), Tier(1));
        assert_eq!(schedule.tier_for(5_000), Tier(2));
        let earn = |at: &str, n| Movement {
            id: 0,
            member: MemberId(1),
            kind: MovementKind::EarnPoints(n),
            at: at.parse().unwrap(),
            idempotency_key: IdempotencyKey::new("k").unwrap(),
            points_after: 0,
            balance_after_minor: 0,
        };
        let history = [
            earn("2025-01-10T00:00:00Z", 3_000),
            earn("2025-12-01T00:00:00Z", 2_000),
        ];
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            schedule.tier_at(&history, at("2025-12-02T00:00:00Z")),
            Tier(2)
        );
        // A year after the first earning it no longer counts.
        assert_eq!(
            schedule.tier_at(&history, at("2026-01-11T00:00:00Z")),
            Tier(1)
        );
    }
}
