//! Calendar periods (days, ISO weeks, months) on a merchant's wall clock, as UTC boundaries.

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The length of a reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Calendar days, labelled `2025-01-31`.
    Day,
    /// ISO weeks starting on Monday, labelled `2025-W05`.
    Week,
    /// Calendar months, labelled `2025-01`.
    Month,
}

impl Granularity {
    /// The first day of the period containing `date`.
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }

    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => start + Days::new(1),
            Granularity::Week => start + Days::new(7),
            Granularity::Month => start + Months::new(1),
        }
    }

    fn label(self, start: NaiveDate) -> String {
        match self {
            Granularity::Day => start.format("%Y-%m-%d").to_string(),
            Granularity::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Granularity::Month => start.format("%Y-%m").to_string(),
        }
    }
}

/// The instant local midnight of `date` begins in `zone` (the first instant of the day when a
/// daylight-saving jump skips midnight).
fn start_instant(zone: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for minutes in (0..=180).step_by(15) {
        let local = midnight + chrono::Duration::minutes(minutes);
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.timestamp(),
            LocalResult::None => {}
        }
    }
    Utc.from_utc_datetime(&midnight).timestamp()
}

/// Consecutive periods covering a span of time, with their UTC boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    granularity: Granularity,
    /// Start of each period and, last, the end of the final one: Unix seconds.
    bounds: Vec<i64>,
    labels: Vec<String>,
}

impl Periods {
    /// The periods from the one containing `first` to the one containing `last` (Unix seconds),
    /// on the wall clock of `zone`.
    pub fn covering(granularity: Granularity, zone: Tz, first: i64, last: i64) -> Self {
        let local_date = |t: i64| {
            DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .with_timezone(&zone)
                .date_naive()
        };
        let mut start = granularity.start_of(local_date(first));
        let last_date = local_date(last.max(first));
        let mut bounds = Vec::new();
        let mut labels = Vec::new();
        while start <= last_date {
            bounds.push(start_instant(zone, start));
            labels.push(granularity.label(start));
            start = granularity.next(start);
        }
        bounds.push(start_instant(zone, start));
        Periods {
            granularity,
            bounds,
            labels,
        }
    }

    /// The granularity.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// How many periods.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label of period `i`.
    pub fn label(&self, i: usize) -> &str {
        &self.labels[i]
    }

    /// The UTC start of period `i` and of the one after it, Unix seconds.
    pub fn bounds(&self, i: usize) -> (i64, i64) {
        (self.bounds[i], self.bounds[i + 1])
    }

    /// The period containing `t` (Unix seconds), if any.
    pub fn index_of(&self, t: i64) -> Option<usize> {
        let i = self.bounds.partition_point(|b| *b <= t);
        (1..self.bounds.len()).contains(&i).then(|| i - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        s.parse::<DateTime<Utc>>().unwrap().timestamp()
    }

    #[test]
    fn months_start_at_local_midnight() {
        let zone = chrono_tz::Asia::Shanghai;
        let p = Periods::covering(
            Granularity::Month,
            zone,
            ts("2025-01-31T15:59:59Z"),
            ts("2025-03-01T00:00:00Z"),
        );
        assert_eq!(p.len(), 3);
        assert_eq!(p.label(0), "2025-01");
        assert_eq!(p.bounds(1).0, ts("2025-01-31T16:00:00Z"));
        assert_eq!(p.index_of(ts("2025-01-31T15:59:59Z")), Some(0));
        assert_eq!(p.index_of(ts("2025-01-31T16:00:00Z")), Some(1));
        assert_eq!(p.index_of(ts("2024-12-31T15:59:59Z")), None);
    }

    #[test]
    fn iso_weeks_and_days() {
        let zone = chrono_tz::America::New_York;
        let p = Periods::covering(
            Granularity::Week,
            zone,
            ts("2024-12-31T12:00:00Z"),
            ts("2025-01-06T12:00:00Z"),
        );
        assert_eq!(p.label(0), "2025-W01"); // Monday 2024-12-30 starts ISO week 2025-W01
        assert_eq!(p.label(1), "2025-W02");
        let d = Periods::covering(
            Granularity::Day,
            zone,
            ts("2025-03-09T04:59:59Z"),
            ts("2025-03-10T12:00:00Z"),
        );
        assert_eq!(d.label(0), "2025-03-08");
        // The spring-forward day is 23 hours long.
        let (start, end) = d.bounds(1);
        assert_eq!(end - start, 23 * 3600);
    }
}
