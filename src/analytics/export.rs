//! A report's tables as CSV files for BI tools and spreadsheets (see also the `parquet`
//! feature's `write_report_parquet`, which writes the same tables as Parquet).

use super::csv::{FieldWriter, guarded, utc_text};
use super::metrics::VisitReport;
use super::segments::RfmScore;
use super::stores::StoreRow;
use std::io::Write;
use std::path::{Path, PathBuf};

fn text(value: Option<i64>) -> String {
    value.map_or(String::new(), |v| v.to_string())
}

fn write_table(path: &Path, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut fields = FieldWriter::new();
    let header: Vec<&[u8]> = header.iter().map(|h| h.as_bytes()).collect();
    fields.record(&mut out, &header)?;
    for row in rows {
        let row: Vec<&[u8]> = row.iter().map(|f| f.as_bytes()).collect();
        fields.record(&mut out, &row)?;
    }
    out.flush()
}

/// The tables a report exports: always the periods and cohort cells; per store and per
/// member when given.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ReportTables<'a> {
    /// The period table and cohorts.
    pub report: &'a VisitReport,
    /// Each store's figures ([`super::store_report`]).
    pub stores: Option<&'a [StoreRow]>,
    /// Each member's RFM scores and segment ([`super::rfm`]).
    pub segments: Option<&'a [RfmScore]>,
}

impl<'a> ReportTables<'a> {
    /// The report's own tables; set `stores` and `segments` to export those too.
    pub fn new(report: &'a VisitReport) -> Self {
        ReportTables {
            report,
            stores: None,
            segments: None,
        }
    }
}

/// The cohort matrix's non-zero cells: (cohort, periods since it, members), row by row.
pub(super) fn nonzero_cells(report: &VisitReport) -> impl Iterator<Item = (&str, usize, u64)> {
    report.cohorts.iter().flat_map(|c| {
        c.active
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(k, &n)| (c.cohort.as_str(), k, n))
    })
}

/// Writes a report's tables as CSV files in `dir`: `periods.csv` (one row per period,
/// [`super::PeriodRow`]'s fields, an empty average ticket where there is none),
/// `cohorts.csv` (`cohort,k,members`: the non-zero cells), when given `stores.csv`
/// ([`StoreRow`]'s fields) and `segments.csv` (one row per member: `member_id`, `segment`,
/// the `r`, `f`, `m` quintiles, `recency_days`, `visits`, `first_visit` and `last_visit` in
/// UTC, `spend_minor`). Ids a spreadsheet would run as formulas get a leading `'`, as
/// [`super::write_csv`] writes them. Returns the files written.
///
/// # Errors
/// The file system's errors.
pub fn write_report_csv(
    tables: ReportTables<'_>,
    dir: impl AsRef<Path>,
) -> std::io::Result<Vec<PathBuf>> {
    let report = tables.report;
    let dir = dir.as_ref();
    let periods = dir.join("periods.csv");
    let rows: Vec<Vec<String>> = report
        .periods
        .iter()
        .map(|r| {
            vec![
                r.period.clone(),
                r.active.to_string(),
                r.new.to_string(),
                r.retained.to_string(),
                r.returning.to_string(),
                r.churned.to_string(),
                r.visits.to_string(),
                r.spend_minor.to_string(),
                r.visits_with_spend.to_string(),
                text(r.avg_ticket_minor),
            ]
        })
        .collect();
    write_table(
        &periods,
        &[
            "period",
            "active",
            "new",
            "retained",
            "returning",
            "churned",
            "visits",
            "spend_minor",
            "visits_with_spend",
            "avg_ticket_minor",
        ],
        &rows,
    )?;
    let cohorts = dir.join("cohorts.csv");
    let cells: Vec<Vec<String>> = nonzero_cells(report)
        .map(|(cohort, k, n)| vec![cohort.to_owned(), k.to_string(), n.to_string()])
        .collect();
    write_table(&cohorts, &["cohort", "k", "members"], &cells)?;
    let mut written = vec![periods, cohorts];
    if let Some(stores) = tables.stores {
        let path = dir.join("stores.csv");
        let mut buffer = String::new();
        let rows: Vec<Vec<String>> = stores
            .iter()
            .map(|s| {
                vec![
                    guarded(&s.store, &mut buffer).to_owned(),
                    s.visits.to_string(),
                    s.members.to_string(),
                    text(s.spend_minor),
                    text(s.avg_ticket_minor),
                ]
            })
            .collect();
        write_table(
            &path,
            &[
                "store",
                "visits",
                "members",
                "spend_minor",
                "avg_ticket_minor",
            ],
            &rows,
        )?;
        written.push(path);
    }
    if let Some(segments) = tables.segments {
        let path = dir.join("segments.csv");
        let mut buffer = String::new();
        let rows: Vec<Vec<String>> = segments
            .iter()
            .map(|s| {
                let summary = &s.summary;
                vec![
                    guarded(&summary.member, &mut buffer).to_owned(),
                    s.segment.as_str().to_owned(),
                    s.r.to_string(),
                    s.f.to_string(),
                    s.m.to_string(),
                    format!("{:.3}", s.recency_days),
                    summary.visits.to_string(),
                    utc_text(summary.first_visit),
                    utc_text(summary.last_visit),
                    summary.spend_minor.to_string(),
                ]
            })
            .collect();
        write_table(&path, &SEGMENT_COLUMNS, &rows)?;
        written.push(path);
    }
    Ok(written)
}

/// The columns of the segments table, in both formats.
pub(super) const SEGMENT_COLUMNS: [&str; 10] = [
    "member_id",
    "segment",
    "r",
    "f",
    "m",
    "recency_days",
    "visits",
    "first_visit",
    "last_visit",
    "spend_minor",
];
