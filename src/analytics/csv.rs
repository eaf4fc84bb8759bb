//! Visit logs from CSV: `member_id,store_id,visited_at,spend_minor`.
//!
//! `member_id` is any text, empty for an anonymous walk-in; `store_id` a `u32`; `visited_at`
//! RFC 3339 with an offset (`2025-01-31T23:59:00+08:00`); `spend_minor` an integer in minor
//! units. A field may be wrapped in double quotes. A malformed row is an error naming its line,
//! or, in [`CsvMode::SkipMalformed`], skipped and reported — never silently dropped.

use super::log::{VisitLog, VisitLogBuilder};
use crate::ids::StoreId;
use chrono::DateTime;
use chrono_tz::Tz;
use std::io::BufRead;

/// The header a visit CSV must start with.
pub const HEADER: &str = "member_id,store_id,visited_at,spend_minor";

/// A CSV problem, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CsvError {
    /// The line (1 = the header).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvMode {
    /// Stop at the first malformed row.
    Strict,
    /// Skip malformed rows and report each.
    SkipMalformed,
}

/// A loaded log and the rows skipped on the way.
#[derive(Debug)]
pub struct CsvImport {
    /// The visits read.
    pub log: VisitLog,
    /// Rows skipped (only in [`CsvMode::SkipMalformed`]).
    pub skipped: Vec<CsvError>,
}

fn unquote(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

fn parse_row(builder: &mut VisitLogBuilder, text: &str) -> Result<(), String> {
    let fields: Vec<&str> = text.split(',').map(unquote).collect();
    let [member, store, at, spend] = fields[..] else {
        return Err(format!("expected 4 fields, found {}", fields.len()));
    };
    let store: u32 = store
        .parse()
        .map_err(|_| format!("store_id {store:?} is not a whole number"))?;
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|e| format!("visited_at {at:?} is not RFC 3339 with an offset: {e}"))?;
    let spend: i64 = spend
        .parse()
        .map_err(|_| format!("spend_minor {spend:?} is not a whole number of minor units"))?;
    let member = (!member.is_empty()).then_some(member);
    builder.push(member, StoreId(store), at.to_utc(), spend);
    Ok(())
}

/// Reads a visit CSV; periods of the log are cut on the wall clock of `zone`.
///
/// # Errors
/// A [`CsvError`] for a missing or wrong header, an unreadable line, or (in
/// [`CsvMode::Strict`]) the first malformed row.
pub fn read_csv(input: impl BufRead, zone: Tz, mode: CsvMode) -> Result<CsvImport, CsvError> {
    let mut builder = VisitLogBuilder::new(zone);
    let mut skipped = Vec::new();
    let mut lines = input.lines().enumerate();
    let header = match lines.next() {
        Some((_, Ok(h))) => h,
        Some((_, Err(e))) => {
            return Err(CsvError {
                line: 1,
                reason: e.to_string(),
            });
        }
        None => {
            return Err(CsvError {
                line: 1,
                reason: "empty input: no header".into(),
            });
        }
    };
    let header = header.trim_start_matches('\u{feff}').trim();
    if header.replace(' ', "") != HEADER {
        return Err(CsvError {
            line: 1,
            reason: format!("header must be {HEADER:?}, found {header:?}"),
        });
    }
    for (index, line) in lines {
        let line_no = index + 1;
        let text = line.map_err(|e| CsvError {
            line: line_no,
            reason: e.to_string(),
        })?;
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        if let Err(reason) = parse_row(&mut builder, text) {
            let error = CsvError {
                line: line_no,
                reason,
            };
            match mode {
                CsvMode::Strict => return Err(error),
                CsvMode::SkipMalformed => skipped.push(error),
            }
        }
    }
    Ok(CsvImport {
        log: builder.build(),
        skipped,
    })
}

/// Writes a log as visit CSV (times in UTC).
///
/// # Errors
/// The writer's I/O errors.
pub fn write_csv(log: &VisitLog, mut out: impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{HEADER}")?;
    for i in 0..log.len() {
        let member = log.member()[i];
        let member = if member == super::log::ANONYMOUS {
            ""
        } else {
            log.member_id(member)
        };
        let at = DateTime::from_timestamp(log.at()[i], 0).unwrap_or_default();
        writeln!(
            out,
            "{member},{},{},{}",
            log.store()[i],
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            log.spend()[i]
        )?;
    }
    Ok(())
}
