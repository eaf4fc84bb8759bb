//! The report's definitions as SQL, for running where a chain's data already lives (a
//! warehouse's DuckDB or Spark): the same period table and cohort cells that
//! [`super::analyze`] computes, figure for figure (`scripts/check_visit_report.py` compares
//! them on DuckDB and Spark).
//!
//! The queries read a table or view named `visits` with the columns `member_id` (text, `NULL`
//! or empty for an anonymous walk-in), `visited_at` (the visit's instant: `TIMESTAMPTZ` on DuckDB, a
//! `TIMESTAMP` on Spark with `spark.sql.session.timeZone` set to `UTC`) and `spend_minor`
//! (`BIGINT`). Periods are cut on the merchant's wall clock in the zone given. The SQL is
//! plain: common table expressions, joins, `GROUP BY`, `CASE`; each dialect differs only in
//! a few functions (time zone, days between dates, a series of integers).

use super::period::Granularity;
use chrono_tz::Tz;

/// Where the generated SQL runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlDialect {
    /// DuckDB (1.x and later).
    DuckDb,
    /// Apache Spark SQL (3.4 and later), with the session time zone set to UTC.
    Spark,
}

/// The two queries of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSql {
    /// One row per period from the first visit's to the last visit's, in order: `period`
    /// (the label [`super::PeriodRow::period`] gives), `active`, `new`, `retained`,
    /// `returning`, `churned`, `visits`, `spend_minor`, `visits_with_spend`,
    /// `avg_ticket_minor` (`NULL` without a visit with a spend).
    pub periods: String,
    /// The non-zero cohort cells: `cohort` (the label of the members' first period), `k`
    /// (periods after it) and `members` (of the cohort active in period cohort + k); the
    /// cohort's size is its cell at `k = 0`.
    pub cohorts: String,
}

impl SqlDialect {
    /// The visit's date on the merchant's wall clock.
    fn local_date(self, zone: &str) -> String {
        match self {
            SqlDialect::DuckDb => format!("CAST(visited_at AT TIME ZONE '{zone}' AS DATE)"),
            SqlDialect::Spark => format!("CAST(from_utc_timestamp(visited_at, '{zone}') AS DATE)"),
        }
    }

    /// Days from 1970-01-01 to `date`.
    fn epoch_days(self, date: &str) -> String {
        match self {
            SqlDialect::DuckDb => format!("datediff('day', DATE '1970-01-01', {date})"),
            SqlDialect::Spark => format!("datediff({date}, DATE '1970-01-01')"),
        }
    }

    /// The date `days` after 1970-01-01.
    fn epoch_plus(self, days: &str) -> String {
        match self {
            SqlDialect::DuckDb => format!("(DATE '1970-01-01' + CAST({days} AS INTEGER))"),
            SqlDialect::Spark => format!("date_add(DATE '1970-01-01', CAST({days} AS INT))"),
        }
    }

    /// Integer division of two non-negative integers.
    fn div(self, a: &str, b: &str) -> String {
        match self {
            SqlDialect::DuckDb => format!("({a}) // ({b})"),
            SqlDialect::Spark => format!("({a}) div ({b})"),
        }
    }

    /// The integers `lo..=hi` of the one-row table `bounds`, as rows.
    fn series(self) -> &'static str {
        match self {
            SqlDialect::DuckDb => "unnest(generate_series(lo, hi))",
            SqlDialect::Spark => "explode(sequence(lo, hi))",
        }
    }
}

/// The period number of local date `d`: months and days since 1970, ISO weeks since the
/// one starting on Monday 1969-12-29.
fn period_of(granularity: Granularity, dialect: SqlDialect, d: &str) -> String {
    match granularity {
        Granularity::Month => format!("(year({d}) * 12 + month({d}) - 1)"),
        Granularity::Day => dialect.epoch_days(d),
        Granularity::Week => dialect.div(&format!("{} + 3", dialect.epoch_days(d)), "7"),
    }
}

/// The label of period number `p`, as [`super::Periods`] writes it.
fn label_of(granularity: Granularity, dialect: SqlDialect, p: &str) -> String {
    match granularity {
        Granularity::Month => format!(
            "printf('%04d-%02d', {}, {p} % 12 + 1)",
            dialect.div(p, "12")
        ),
        Granularity::Day => format!("CAST({} AS STRING)", dialect.epoch_plus(p)),
        Granularity::Week => {
            // An ISO week belongs to the year of its Thursday, 7p days after 1970-01-01.
            let thursday = dialect.epoch_plus(&format!("{p} * 7"));
            format!("printf('%04d-W%02d', year({thursday}), weekofyear({thursday}))")
        }
    }
}

/// The queries of the report at `granularity` in `zone`, for `dialect`.
///
/// # Example
/// ```
/// use o2okit::analytics::{Granularity, SqlDialect, report_sql};
///
/// let sql = report_sql(Granularity::Month, chrono_tz::Asia::Shanghai, SqlDialect::DuckDb);
/// assert!(sql.periods.contains("AT TIME ZONE 'Asia/Shanghai'"));
/// ```
pub fn report_sql(granularity: Granularity, zone: Tz, dialect: SqlDialect) -> ReportSql {
    // Zone names are IANA names from chrono-tz: letters, digits, `/`, `_`, `+`, `-`.
    let zone = zone.name();
    let period = period_of(granularity, dialect, "d");
    let label = |p: &str| label_of(granularity, dialect, p);
    let common = format!(
        "WITH dated AS (
    SELECT NULLIF(member_id, '') AS member_id, spend_minor, {date} AS d FROM visits),
v AS (SELECT member_id, spend_minor, {period} AS p FROM dated),
act AS (SELECT DISTINCT member_id, p FROM v WHERE member_id IS NOT NULL),
firsts AS (SELECT member_id, min(p) AS f FROM act GROUP BY member_id)",
        date = dialect.local_date(zone),
    );
    let (unit, engine) = (
        match granularity {
            Granularity::Month => "monthly",
            Granularity::Week => "weekly (ISO weeks)",
            Granularity::Day => "daily",
        },
        match dialect {
            SqlDialect::DuckDb => "DuckDB",
            SqlDialect::Spark => "Spark SQL, session time zone UTC",
        },
    );
    let header = format!(
        "-- o2okit's visit report, {unit}, on the wall clock of {zone}, for {engine}.\n\
         -- Definitions: docs/metrics.md. Reads the table or view visits(member_id, visited_at, spend_minor).\n"
    );
    let periods = format!(
        "{header}{common},
bounds AS (SELECT min(p) AS lo, max(p) AS hi FROM v),
span AS (SELECT {series} AS p FROM bounds),
flow AS (
    SELECT p, count(*) AS visits, sum(spend_minor) AS spend,
           sum(CASE WHEN spend_minor > 0 THEN 1 ELSE 0 END) AS paid
    FROM v GROUP BY p),
classes AS (
    SELECT a.p, count(*) AS active,
           sum(CASE WHEN f.f = a.p THEN 1 ELSE 0 END) AS new,
           sum(CASE WHEN b.member_id IS NOT NULL THEN 1 ELSE 0 END) AS retained,
           sum(CASE WHEN f.f < a.p AND b.member_id IS NULL THEN 1 ELSE 0 END) AS returning
    FROM act a JOIN firsts f ON f.member_id = a.member_id
    LEFT JOIN act b ON b.member_id = a.member_id AND b.p = a.p - 1
    GROUP BY a.p),
churn AS (
    SELECT a.p + 1 AS p, count(*) AS churned
    FROM act a LEFT JOIN act n ON n.member_id = a.member_id AND n.p = a.p + 1
    WHERE n.member_id IS NULL
    GROUP BY a.p + 1),
figures AS (
    SELECT s.p,
           coalesce(c.active, 0) AS active, coalesce(c.new, 0) AS new,
           coalesce(c.retained, 0) AS retained, coalesce(c.returning, 0) AS returning,
           coalesce(ch.churned, 0) AS churned, coalesce(fl.visits, 0) AS visits,
           coalesce(fl.spend, 0) AS spend_minor, coalesce(fl.paid, 0) AS visits_with_spend
    FROM span s
    LEFT JOIN classes c ON c.p = s.p
    LEFT JOIN churn ch ON ch.p = s.p
    LEFT JOIN flow fl ON fl.p = s.p)
SELECT {label_p} AS period, x.active, x.new, x.retained, x.returning, x.churned, x.visits,
       x.spend_minor, x.visits_with_spend,
       -- Rounded down, negative totals too: the remainder is made non-negative first.
       CASE WHEN x.visits_with_spend > 0 THEN {avg} END AS avg_ticket_minor
FROM figures x
ORDER BY x.p
",
        series = dialect.series(),
        label_p = label("x.p"),
        avg = dialect.div(
            "x.spend_minor - ((x.spend_minor % x.visits_with_spend) + x.visits_with_spend) \
             % x.visits_with_spend",
            "x.visits_with_spend"
        ),
    );
    let cohorts = format!(
        "{header}{common},
cells AS (
    SELECT f.f AS c, a.p - f.f AS k, count(*) AS members
    FROM act a JOIN firsts f ON f.member_id = a.member_id
    GROUP BY f.f, a.p - f.f)
SELECT {label_c} AS cohort, k, members
FROM cells
ORDER BY c, k
",
        label_c = label("c"),
    );
    ReportSql { periods, cohorts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_uses_its_own_functions_and_no_other() {
        for granularity in [Granularity::Month, Granularity::Week, Granularity::Day] {
            let duck = report_sql(granularity, chrono_tz::UTC, SqlDialect::DuckDb);
            let spark = report_sql(granularity, chrono_tz::UTC, SqlDialect::Spark);
            for sql in [&duck.periods, &duck.cohorts] {
                assert!(sql.contains("AT TIME ZONE 'UTC'"));
                assert!(!sql.contains("from_utc_timestamp") && !sql.contains(" div "));
            }
            for sql in [&spark.periods, &spark.cohorts] {
                assert!(sql.contains("from_utc_timestamp(visited_at, 'UTC')"));
                assert!(!sql.contains("AT TIME ZONE") && !sql.contains("//"));
            }
            assert!(duck.periods.contains("generate_series") && spark.periods.contains("sequence"));
        }
    }
}
