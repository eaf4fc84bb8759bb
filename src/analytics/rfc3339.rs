//! The fast path for export timestamps: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of one to
//! nine digits, then `Z` or `±HH:MM`. That fixed layout is what tills and databases write; it
//! is read here in a few nanoseconds without allocating.
//!
//! Anything else, even when valid RFC 3339 (a lower-case `t`, a space, a leap second, `-00:00`,
//! a longer fraction), gives `None`, and the caller falls back to chrono's full parser. What
//! the fast path accepts, chrono accepts too, at the same instant (tested against chrono), so
//! together they accept exactly what chrono does.

/// The last date read and its day number: rows of one day, as a time-sorted export holds
/// them, skip the calendar.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LastDay {
    /// `YYYY-MM-DD` as read; all zero bytes (never a date) before the first.
    date: [u8; 10],
    /// Days from 1970-01-01.
    days: i64,
}

/// The Unix seconds of `text` (the fraction dropped), or `None` when it is not in the fast
/// layout.
#[cfg(test)]
pub(super) fn unix_seconds(text: &[u8]) -> Option<i64> {
    unix_seconds_after(text, &mut LastDay::default())
}

/// [`unix_seconds`], remembering the date in `last` for the next row.
pub(super) fn unix_seconds_after(text: &[u8], last: &mut LastDay) -> Option<i64> {
    let (date, time) = text.split_at_checked(10)?;
    let days = if date == last.date {
        last.days
    } else {
        let days = days_of(date)?;
        *last = LastDay {
            date: date.try_into().ok()?,
            days,
        };
        days
    };
    let [b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, rest @ ..] = time else {
        return None;
    };
    let (hour, minute, second) = (
        number(&[*h0, *h1])?,
        number(&[*mi0, *mi1])?,
        number(&[*s0, *s1])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let rest = match rest {
        [b'.', fraction @ ..] => {
            let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if !(1..=9).contains(&digits) {
                return None;
            }
            &fraction[digits..]
        }
        _ => rest,
    };
    let offset = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (hours, minutes) = (number(&[*h0, *h1])?, number(&[*m0, *m1])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = (hours * 60 + minutes) * 60;
            match sign {
                b'+' => seconds,
                // "-00:00" means "offset unknown" in RFC 3339: left to chrono.
                _ if seconds == 0 => return None,
                _ => -seconds,
            }
        }
        _ => return None,
    };
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second - offset)
}

/// The day number of `YYYY-MM-DD`, or `None` when it is not a date in that layout.
fn days_of(date: &[u8]) -> Option<i64> {
    let [y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1] = date else {
        return None;
    };
    let year = number(&[*y0, *y1, *y2, *y3])?;
    let (month, day) = (number(&[*mo0, *mo1])?, number(&[*d0, *d1])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// The value of ASCII decimal digits, or `None` if any byte is not one.
fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn chrono_seconds(text: &str) -> Option<i64> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp())
    }

    #[test]
    fn agrees_with_chrono_wherever_it_answers() {
        let accepted = [
            "2025-01-31T23:59:00+08:00",
            "2025-01-31T23:59:00Z",
            "2024-02-29T12:00:00-05:30",
            "2000-03-01T00:00:00.5Z",
            "2199-12-31T23:59:59.123456789+23:59",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59-00:01",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ];
        for text in accepted {
            assert_eq!(
                unix_seconds(text.as_bytes()),
                chrono_seconds(text),
                "{text}"
            );
            assert!(unix_seconds(text.as_bytes()).is_some(), "{text}");
        }
    }

    #[test]
    fn leaves_everything_else_to_chrono() {
        for text in [
            "2025-01-31t23:59:00Z",
            "2025-01-31 23:59:00Z",
            "2025-01-31T23:59:60Z",
            "2025-01-31T23:59:00-00:00",
            "2025-01-31T23:59:00z",
            "2025-01-31T23:59:00.1234567890Z",
            "2025-01-31T23:59:00.Z",
            "2025-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-00-01T00:00:00Z",
            "2025-01-00T00:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T23:60:00Z",
            "2025-01-31T23:59:00+24:00",
            "2025-01-31T23:59:00+08:60",
            "2025-01-31T23:59:00+0800",
            "2025-01-31T23:59:00",
            "2025-01-31T23:59:00Z ",
            "+2025-01-31T23:59:00Z",
            "2025-1-31T23:59:00Z",
            "",
        ] {
            assert_eq!(unix_seconds(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn a_remembered_date_gives_what_a_fresh_read_does() {
        // One cache across rows of the same day, the next day, a bad row and back.
        let rows = [
            "2025-01-31T23:59:00+08:00",
            "2025-01-31T00:00:01Z",
            "2025-01-31T23:60:00Z",
            "2025-02-01T00:00:00-05:00",
            "2025-02-30T00:00:00Z",
            "2025-02-01T12:00:00.25Z",
            "2025-01-31T08:00:00Z",
            "2025-01-31t08:00:00Z",
            "2025-01-31",
            "2025-01-31T08:00:00-00:00",
        ];
        let mut last = LastDay::default();
        for text in rows {
            assert_eq!(
                unix_seconds_after(text.as_bytes(), &mut last),
                chrono_seconds(text).filter(|_| unix_seconds(text.as_bytes()).is_some()),
                "{text}"
            );
        }
    }

    #[test]
    fn every_day_of_four_centuries_matches_chrono() {
        // Day by day across leap years, century years and the 2000 exception, at a time and
        // offset that change from day to day.
        let mut day = chrono::NaiveDate::from_ymd_opt(1999, 12, 25).unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2401, 1, 5).unwrap();
        let mut i = 0u32;
        while day < end {
            let offset = ["Z", "+08:00", "-03:30", "+14:00", "-11:59"][(i % 5) as usize];
            let text = format!(
                "{}T{:02}:{:02}:{:02}{offset}",
                day.format("%Y-%m-%d"),
                i % 24,
                (i * 7) % 60,
                (i * 13) % 60
            );
            assert_eq!(
                unix_seconds(text.as_bytes()),
                chrono_seconds(&text),
                "{text}"
            );
            day = day.succ_opt().unwrap();
            i += 1;
        }
    }
}
