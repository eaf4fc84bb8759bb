//! The four kinds of limit a voucher carries: time, region, condition and state.

use crate::ids::{CategoryId, StoreId};
use crate::local_time::{LocalDateTime, LocalTimeError};
use crate::membership::member::Tier;
use crate::region::{Geofence, RegionCode};
use chrono::Weekday;
use serde::{Deserialize, Serialize};

/// When a voucher may be used, always on the store's wall clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeLimits {
    /// First valid minute (inclusive), store-local.
    pub valid_from: Option<LocalDateTime>,
    /// End of validity (exclusive), store-local: valid strictly before this minute.
    pub valid_until: Option<LocalDateTime>,
    /// Days of the week it is valid on (store-local date); `None` means every day.
    pub weekdays: Option<WeekdaySet>,
    /// Daily windows it is valid in; empty means all day.
    pub hours: Vec<DailyWindow>,
}

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<Weekday>", from = "Vec<Weekday>")]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    /// Monday to Friday.
    pub const WORKDAYS: WeekdaySet = WeekdaySet(0b001_1111);
    /// Saturday and Sunday.
    pub const WEEKEND: WeekdaySet = WeekdaySet(0b110_0000);
    /// Every day.
    pub const ALL: WeekdaySet = WeekdaySet(0b111_1111);

    /// The set of the given days.
    pub fn of(days: &[Weekday]) -> Self {
        WeekdaySet(
            days.iter()
                .fold(0, |bits, d| bits | 1 << d.num_days_from_monday()),
        )
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    pub(crate) fn from_bits(bits: u8) -> Option<Self> {
        (bits & 0x80 == 0).then_some(WeekdaySet(bits))
    }
}

impl From<WeekdaySet> for Vec<Weekday> {
    fn from(set: WeekdaySet) -> Self {
        let mut day = Weekday::Mon;
        let mut days = Vec::new();
        for _ in 0..7 {
            if set.contains(day) {
                days.push(day);
            }
            day = day.succ();
        }
        days
    }
}

impl From<Vec<Weekday>> for WeekdaySet {
    fn from(days: Vec<Weekday>) -> Self {
        WeekdaySet::of(&days)
    }
}

/// A daily window of wall-clock time, `[start, end)` in minutes after local midnight,
/// `0 <= start < end <= 1440`. A window cannot cross midnight: use two windows (and mind that
/// the weekday limit applies to the local date of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "DailyWindowFields")]
pub struct DailyWindow {
    start_minute: u16,
    end_minute: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DailyWindowFields {
    start_minute: u16,
    end_minute: u16,
}

impl TryFrom<DailyWindowFields> for DailyWindow {
    type Error = LocalTimeError;
    fn try_from(f: DailyWindowFields) -> Result<Self, Self::Error> {
        DailyWindow::new(f.start_minute, f.end_minute)
    }
}

impl DailyWindow {
    /// A window from minutes after midnight.
    ///
    /// # Errors
    /// [`LocalTimeError::InvalidWindow`] unless `start < end <= 1440`.
    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, LocalTimeError> {
        if start_minute >= end_minute || end_minute > 1440 {
            return Err(LocalTimeError::InvalidWindow {
                start: start_minute,
                end: end_minute,
            });
        }
        Ok(DailyWindow {
            start_minute,
            end_minute,
        })
    }

    /// A window from hours and minutes: `DailyWindow::hm(11, 0, 14, 0)` is 11:00–14:00.
    ///
    /// # Errors
    /// As [`DailyWindow::new`].
    pub fn hm(
        start_hour: u16,
        start_minute: u16,
        end_hour: u16,
        end_minute: u16,
    ) -> Result<Self, LocalTimeError> {
        if start_minute >= 60 || end_minute >= 60 {
            return Err(LocalTimeError::InvalidWindow {
                start: start_hour.saturating_mul(60).saturating_add(start_minute),
                end: end_hour.saturating_mul(60).saturating_add(end_minute),
            });
        }
        Self::new(
            start_hour.saturating_mul(60).saturating_add(start_minute),
            end_hour.saturating_mul(60).saturating_add(end_minute),
        )
    }

    /// First minute of the window, after local midnight.
    pub fn start_minute(&self) -> u16 {
        self.start_minute
    }

    /// End of the window (exclusive), minutes after local midnight.
    pub fn end_minute(&self) -> u16 {
        self.end_minute
    }

    /// Whether the local second-of-day lies in the window.
    pub fn contains_second(&self, second_of_day: u32) -> bool {
        let start = u32::from(self.start_minute) * 60;
        let end = u32::from(self.end_minute) * 60;
        (start..end).contains(&second_of_day)
    }
}

/// Where a voucher may be used. Every limit that is set must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionLimits {
    /// Stores it is valid in; empty means any store.
    pub stores: Vec<StoreId>,
    /// Regions it is valid in (a store matches when one of these codes contains its region
    /// code); empty means anywhere.
    pub regions: Vec<RegionCode>,
    /// A circle the store must lie in.
    pub geofence: Option<Geofence>,
}

/// Which basket lines count toward the minimum spend and the discount.
///
/// In JSON: `"all"`, `{"only": [1, 2]}` or `{"except": [3]}`; a rule naming no category is
/// refused when the voucher is signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryRule {
    /// Every line counts.
    #[default]
    All,
    /// Only lines in these categories count.
    Only(Vec<CategoryId>),
    /// Every line except those in these categories counts.
    Except(Vec<CategoryId>),
}

const CATEGORY_RULE_FORMS: &str =
    r#""all", {"only": [category ids]} or {"except": [category ids]}"#;

impl<'de> Deserialize<'de> for CategoryRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Forms;
        impl<'de> serde::de::Visitor<'de> for Forms {
            type Value = CategoryRule;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(CATEGORY_RULE_FORMS)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CategoryRule, E> {
                match text {
                    "all" => Ok(CategoryRule::All),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<CategoryRule, A::Error> {
                use serde::de::Error;
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let rule = match key.as_str() {
                    "only" => CategoryRule::Only(map.next_value()?),
                    "except" => CategoryRule::Except(map.next_value()?),
                    other => return Err(A::Error::unknown_field(other, &["only", "except"])),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(A::Error::unknown_field(&extra, &[]));
                }
                Ok(rule)
            }
        }
        deserializer.deserialize_any(Forms)
    }
}

impl CategoryRule {
    /// Whether a line of `category` counts.
    pub fn counts(&self, category: CategoryId) -> bool {
        match self {
            CategoryRule::All => true,
            CategoryRule::Only(list) => list.contains(&category),
            CategoryRule::Except(list) => !list.contains(&category),
        }
    }
}

/// Conditions on the member and the basket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Minimum spend that counts (see `categories`), minor units; 0 means none.
    pub min_spend_minor: u64,
    /// Which basket lines count toward the minimum spend and the discount.
    pub categories: CategoryRule,
    /// Lowest member tier that may use it.
    pub min_tier: Option<Tier>,
    /// Only new members may use it: those who have bought nothing yet ([`crate::MemberContext::is_new`]).
    pub new_members_only: bool,
    /// Refused when the basket holds any other voucher.
    pub not_combinable: bool,
}

/// How often a voucher may be used. The token carries these; the ledger enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateLimits {
    /// Total uses, at least 1 (1 = single use; `u32::MAX` = no practical limit).
    pub max_uses: u32,
    /// Uses per member, at least 1, if limited (verification then requires a member).
    pub max_uses_per_member: Option<u32>,
    /// Only the chain's shared ledger may redeem it: a till working offline refuses it under
    /// its [`crate::journal::OfflineAllowance`] ([`crate::Rejection::OnlineRequired`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online_only: bool,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits {
            max_uses: 1,
            max_uses_per_member: None,
            online_only: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_sets() {
        assert!(WeekdaySet::WORKDAYS.contains(Weekday::Fri));
        assert!(!WeekdaySet::WORKDAYS.contains(Weekday::Sat));
        assert_eq!(
            WeekdaySet::of(&[Weekday::Sat, Weekday::Sun]),
            WeekdaySet::WEEKEND
        );
        let days: Vec<Weekday> = WeekdaySet::WEEKEND.into();
        assert_eq!(days, vec![Weekday::Sat, Weekday::Sun]);
        assert!(WeekdaySet::from_bits(0x80).is_none());
    }

    #[test]
    fn windows_are_half_open_and_validated() {
        let lunch = DailyWindow::hm(11, 0, 14, 0).unwrap();
        assert!(!lunch.contains_second(11 * 3600 - 1));
        assert!(lunch.contains_second(11 * 3600));
        assert!(lunch.contains_second(14 * 3600 - 1));
        assert!(!lunch.contains_second(14 * 3600));
        assert!(DailyWindow::new(600, 600).is_err());
        assert!(DailyWindow::new(700, 600).is_err());
        assert!(DailyWindow::new(0, 1441).is_err());
        assert!(DailyWindow::hm(10, 60, 11, 0).is_err());
        assert!(DailyWindow::new(0, 1440).unwrap().contains_second(86_399));
    }

    #[test]
    fn category_rules() {
        let c = CategoryId;
        assert!(CategoryRule::All.counts(c(1)));
        assert!(CategoryRule::Only(vec![c(1)]).counts(c(1)));
        assert!(!CategoryRule::Only(vec![c(1)]).counts(c(2)));
        assert!(!CategoryRule::Except(vec![c(1)]).counts(c(1)));
        assert!(CategoryRule::Except(vec![c(1)]).counts(c(2)));
    }
}
