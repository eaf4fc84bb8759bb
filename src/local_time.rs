//! Store-local civil time, kept apart from UTC instants by type.
//!
//! A lunch voucher valid 11:00–14:00 means 11:00 where the store is. o2okit therefore states
//! every time limit as civil (wall-clock) time and converts the redemption *instant* into the
//! store's zone before comparing. A [`LocalDateTime`] has no zone and cannot be compared with a
//! `DateTime<Utc>`; the only bridge is [`LocalDateTime::of_instant`], which needs a zone.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a civil time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalTimeError {
    /// The fields do not name a real date and time.
    #[error("invalid local date-time: {0}")]
    Invalid(String),
    /// The date-time is before 2000-01-01 00:00 or after 9999-12-31 23:59.
    #[error("local date-time out of range (2000-01-01T00:00 to 9999-12-31T23:59): {0}")]
    OutOfRange(String),
    /// A time of day outside 00:00–24:00 or a window whose end is not after its start.
    #[error("invalid time of day window {start}–{end} (minutes after midnight)")]
    InvalidWindow {
        /// Start minute.
        start: u16,
        /// End minute.
        end: u16,
    },
}

/// Minutes from 2000-01-01T00:00 to 9999-12-31T23:59: 8,000 years of 365 days plus 1,940
/// leap days, less one minute.
const MAX_MINUTES: u32 = (8_000 * 365 + 1_940) * 1_440 - 1;

/// Unix time of 2000-01-01T00:00:00 read as UTC.
const EPOCH_UNIX_SECONDS: i64 = 946_684_800;

/// 2000-01-01T00:00, the encoding epoch.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("2000-01-01 is a valid date")
}

/// The first instant o2okit records or analyses: 2000-01-01T00:00:00Z, Unix seconds.
pub const PLAUSIBLE_FROM_UNIX: i64 = 946_684_800;
/// The end (exclusive) of the instants o2okit records or analyses: 2200-01-01T00:00:00Z.
pub const PLAUSIBLE_UNTIL_UNIX: i64 = 7_258_118_400;

/// Whether an instant (Unix seconds) lies in the years o2okit accepts, 2000 to 2199. A till
/// whose clock reset to 1970 or jumped to 9999 produces instants outside them: the ledger
/// refuses to record such an instant and analytics refuses to count one, with a clear error,
/// rather than stretching every report over centuries.
pub fn is_plausible(at_unix: i64) -> bool {
    (PLAUSIBLE_FROM_UNIX..PLAUSIBLE_UNTIL_UNIX).contains(&at_unix)
}

/// A wall-clock date and time to the minute, with no time zone: "2026-12-31 23:59 wherever
/// the store is".
///
/// Range: 2000-01-01T00:00 to 9999-12-31T23:59. Internally the number of minutes since
/// 2000-01-01T00:00 (civil, ignoring any zone), which is how tokens carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime(u32);

impl LocalDateTime {
    /// The wall-clock minute `year-month-day hour:minute`.
    ///
    /// # Errors
    /// [`LocalTimeError::Invalid`] for a date or time that does not exist on the calendar,
    /// [`LocalTimeError::OutOfRange`] outside the documented range.
    pub fn new(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
    ) -> Result<Self, LocalTimeError> {
        let naive = NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .ok_or_else(|| {
                LocalTimeError::Invalid(format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}"
                ))
            })?;
        Self::from_naive(naive)
    }

    /// Converts a chrono civil date-time; seconds and fractions are dropped (floored).
    ///
    /// # Errors
    /// [`LocalTimeError::OutOfRange`] outside the documented range.
    pub fn from_naive(naive: NaiveDateTime) -> Result<Self, LocalTimeError> {
        let minutes = (naive - epoch()).num_minutes();
        let floor = if naive < epoch() {
            minutes - 1
        } else {
            minutes
        };
        if naive.year() > 9999 || floor < 0 {
            return Err(LocalTimeError::OutOfRange(naive.to_string()));
        }
        u32::try_from(floor)
            .map(LocalDateTime)
            .map_err(|_| LocalTimeError::OutOfRange(naive.to_string()))
    }

    /// The wall-clock minute at which `instant` falls in `zone` (seconds dropped).
    ///
    /// # Errors
    /// [`LocalTimeError::OutOfRange`] when the local time is outside the documented range.
    pub fn of_instant(instant: DateTime<Utc>, zone: Tz) -> Result<Self, LocalTimeError> {
        Self::from_naive(zone.from_utc_datetime(&instant.naive_utc()).naive_local())
    }

    /// Minutes since 2000-01-01T00:00 civil: the token encoding.
    pub(crate) fn minutes_since_epoch(self) -> u32 {
        self.0
    }

    /// Reverses [`LocalDateTime::minutes_since_epoch`]; `None` past 9999-12-31T23:59.
    pub(crate) fn from_minutes_since_epoch(minutes: u32) -> Option<Self> {
        (minutes <= MAX_MINUTES).then_some(LocalDateTime(minutes))
    }

    /// The first instant (Unix seconds) at which a clock in `zone` reads this minute: the
    /// earlier one when the minute happens twice (clocks falling back), and the end of the
    /// jump when it never happens (clocks springing forward).
    pub fn first_instant_in(self, zone: Tz) -> i64 {
        let naive = self.to_naive();
        for minutes in 0..=24 * 60 {
            let local = naive + chrono::Duration::minutes(minutes);
            if let Some(t) = zone.from_local_datetime(&local).earliest() {
                return t.timestamp();
            }
        }
        // No zone skips a whole day; read the minute as UTC rather than fail.
        naive.and_utc().timestamp()
    }

    /// Whether `at` is at or after the first instant a clock in `zone` reads this minute.
    /// Compares instants, not wall-clock readings, so the repeated hour of a fall-back day
    /// cannot bring an expired voucher back.
    pub fn is_reached_at(self, zone: Tz, at: DateTime<Utc>) -> bool {
        at.timestamp() >= self.first_instant_in(zone)
    }

    /// As [`LocalDateTime::is_reached_at`] for the clock's instant and zone, without a zone
    /// lookup when the clock reads more than a day away from this minute: UTC offsets span
    /// 26 hours (UTC−12 to UTC+14), so no offset change can reorder readings that far apart.
    pub fn is_reached_by(self, clock: &StoreClock) -> bool {
        const MARGIN: i64 = 26 * 3600;
        let bound = i64::from(self.0) * 60;
        if clock.local_seconds >= bound + MARGIN {
            true
        } else if clock.local_seconds + MARGIN < bound {
            false
        } else {
            clock.instant >= self.first_instant_in(clock.zone)
        }
    }

    /// The same wall-clock minute as a chrono civil date-time.
    pub fn to_naive(self) -> NaiveDateTime {
        epoch() + chrono::Duration::minutes(i64::from(self.0))
    }

    /// This wall-clock time `days` calendar days later (same hour and minute).
    ///
    /// # Errors
    /// [`LocalTimeError::OutOfRange`] past 9999-12-31T23:59.
    pub fn plus_days(self, days: u32) -> Result<Self, LocalTimeError> {
        let later = self
            .to_naive()
            .checked_add_signed(chrono::Duration::days(i64::from(days)))
            .ok_or_else(|| LocalTimeError::OutOfRange(format!("{self} + {days} days")))?;
        Self::from_naive(later)
    }
}

impl fmt::Display for LocalDateTime {
    /// ISO 8601 without zone or seconds: `2026-12-31T23:59`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_naive().format("%Y-%m-%dT%H:%M"))
    }
}

impl std::str::FromStr for LocalDateTime {
    type Err = LocalTimeError;
    /// Parses `YYYY-MM-DDTHH:MM` (a trailing `:SS` is accepted and must be `:00`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|e| LocalTimeError::Invalid(format!("{:?}: {e}", crate::error::excerpt(s))))?;
        if naive.second() != 0 || naive.nanosecond() != 0 {
            return Err(LocalTimeError::Invalid(format!(
                "{s:?}: limits are whole minutes"
            )));
        }
        Self::from_naive(naive)
    }
}

impl Serialize for LocalDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The wall-clock reading of an instant in a store's zone, to the second: what every time limit
/// is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreClock {
    /// Seconds since 2000-01-01T00:00 on the store's wall clock.
    local_seconds: i64,
    /// The instant read, Unix seconds.
    instant: i64,
    /// The store's zone.
    zone: Tz,
}

impl StoreClock {
    /// Reads `instant` on the clock of a store in `zone`.
    pub fn read(instant: DateTime<Utc>, zone: Tz) -> Self {
        let offset = zone
            .offset_from_utc_datetime(&instant.naive_utc())
            .fix()
            .local_minus_utc();
        StoreClock {
            local_seconds: instant.timestamp() + i64::from(offset) - EPOCH_UNIX_SECONDS,
            instant: instant.timestamp(),
            zone,
        }
    }

    /// The local civil date and time.
    pub fn local(&self) -> NaiveDateTime {
        epoch() + chrono::Duration::seconds(self.local_seconds)
    }

    /// Seconds after local midnight, 0..86_400.
    pub fn second_of_day(&self) -> u32 {
        self.local_seconds.rem_euclid(86_400) as u32
    }

    /// The local weekday.
    pub fn weekday(&self) -> chrono::Weekday {
        // 2000-01-01 was a Saturday, five days after a Monday.
        let from_monday = (self.local_seconds.div_euclid(86_400) + 5).rem_euclid(7);
        chrono::Weekday::try_from(from_monday as u8).unwrap_or(chrono::Weekday::Mon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_minutes() {
        let t = LocalDateTime::new(2026, 12, 31, 23, 59).unwrap();
        assert_eq!(t.to_string(), "2026-12-31T23:59");
        assert_eq!(
            LocalDateTime::from_minutes_since_epoch(t.minutes_since_epoch()),
            Some(t)
        );
        assert_eq!("2026-12-31T23:59".parse::<LocalDateTime>().unwrap(), t);
        assert_eq!(
            LocalDateTime::new(2000, 1, 1, 0, 0)
                .unwrap()
                .minutes_since_epoch(),
            0
        );
    }

    #[test]
    fn constants_match_the_calendar() {
        let last = LocalDateTime::new(9999, 12, 31, 23, 59).unwrap();
        assert_eq!(last.minutes_since_epoch(), MAX_MINUTES);
        assert_eq!(epoch().and_utc().timestamp(), EPOCH_UNIX_SECONDS);
        assert!(LocalDateTime::from_minutes_since_epoch(MAX_MINUTES + 1).is_none());
    }

    #[test]
    fn clock_shortcut_agrees_with_the_exact_check_around_offset_changes() {
        // New York DST, Lord Howe's half-hour DST, and Samoa skipping 2011-12-30 entirely.
        let cases = [
            (
                chrono_tz::America::New_York,
                "2026-11-01T01:30",
                "2026-10-30T00:00:00Z",
            ),
            (
                chrono_tz::America::New_York,
                "2026-03-08T02:30",
                "2026-03-06T00:00:00Z",
            ),
            (
                chrono_tz::Australia::Lord_Howe,
                "2026-04-05T01:45",
                "2026-04-03T00:00:00Z",
            ),
            (
                chrono_tz::Pacific::Apia,
                "2011-12-30T12:00",
                "2011-12-28T00:00:00Z",
            ),
        ];
        for (zone, bound, start) in cases {
            let bound: LocalDateTime = bound.parse().unwrap();
            let mut at = start.parse::<DateTime<Utc>>().unwrap();
            for _ in 0..(5 * 24 * 60 / 7) {
                let clock = StoreClock::read(at, zone);
                assert_eq!(
                    bound.is_reached_by(&clock),
                    bound.is_reached_at(zone, at),
                    "{zone} {bound} {at}"
                );
                at += chrono::Duration::minutes(7);
            }
        }
    }

    #[test]
    fn clock_agrees_with_chrono_on_weekday_and_time_of_day() {
        let zones = [
            chrono_tz::Asia::Shanghai,
            chrono_tz::America::New_York,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::America::St_Johns,
        ];
        // Every 7 hours 13 minutes over four years, before and after the epoch.
        let mut instant = "1998-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        while instant.year() < 2030 {
            for zone in zones {
                let clock = StoreClock::read(instant, zone);
                let expected = instant.with_timezone(&zone).naive_local();
                assert_eq!(clock.local(), expected);
                assert_eq!(clock.weekday(), expected.weekday());
                assert_eq!(clock.second_of_day(), expected.num_seconds_from_midnight());
            }
            instant += chrono::Duration::minutes(7 * 60 + 13) * 37;
        }
    }

    #[test]
    fn a_minute_is_reached_at_its_first_instant() {
        let ny = chrono_tz::America::New_York;
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Spring forward: 02:30 never happens; it is reached when 03:00 EDT begins.
        let gap = LocalDateTime::new(2026, 3, 8, 2, 30).unwrap();
        assert_eq!(
            gap.first_instant_in(ny),
            t("2026-03-08T07:00:00Z").timestamp()
        );
        // Fall back: 01:30 happens twice; the first time counts, and stays reached.
        let twice = LocalDateTime::new(2026, 11, 1, 1, 30).unwrap();
        assert!(!twice.is_reached_at(ny, t("2026-11-01T05:29:59Z")));
        assert!(twice.is_reached_at(ny, t("2026-11-01T05:30:00Z")));
        assert!(twice.is_reached_at(ny, t("2026-11-01T06:00:00Z"))); // 01:00 EST
        // The clock-based check agrees, near the bound and far from it.
        for s in [
            "2026-11-01T05:29:59Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-10-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
        ] {
            let clock = StoreClock::read(t(s), ny);
            assert_eq!(
                twice.is_reached_by(&clock),
                twice.is_reached_at(ny, t(s)),
                "{s}"
            );
        }
        assert!(
            LocalDateTime::new(9999, 12, 31, 0, 0)
                .unwrap()
                .plus_days(1)
                .is_err()
        );
        assert!(
            LocalDateTime::new(2026, 1, 1, 0, 0)
                .unwrap()
                .plus_days(u32::MAX)
                .is_err()
        );
    }

    #[test]
    fn refuses_impossible_and_out_of_range() {
        assert!(matches!(
            LocalDateTime::new(2026, 2, 29, 0, 0),
            Err(LocalTimeError::Invalid(_))
        ));
        assert!(matches!(
            LocalDateTime::new(1999, 12, 31, 23, 59),
            Err(LocalTimeError::OutOfRange(_))
        ));
        assert!("2026-01-01T10:00:30".parse::<LocalDateTime>().is_err());
        assert!(LocalDateTime::from_minutes_since_epoch(u32::MAX).is_none());
    }

    #[test]
    fn instant_lands_on_store_wall_clock() {
        let instant = "2026-01-01T15:59:00Z".parse::<DateTime<Utc>>().unwrap();
        let shanghai = LocalDateTime::of_instant(instant, chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(shanghai.to_string(), "2026-01-01T23:59");
        let ny = LocalDateTime::of_instant(instant, chrono_tz::America::New_York).unwrap();
        assert_eq!(ny.to_string(), "2026-01-01T10:59");
    }
}
