//! Visit logs from CSV: `member_id,store_id,visited_at,spend_minor`.
//!
//! `member_id` is any text, empty for an anonymous walk-in; `store_id` a `u32`; `visited_at`
//! RFC 3339 with an offset (`2025-01-31T23:59:00+08:00`); `spend_minor` an integer in minor
//! units, zero or more (a refund is not a visit). A field may be wrapped in double quotes. A
//! malformed row is an error naming its line, or, in [`CsvMode::SkipMalformed`], skipped and
//! reported — never silently dropped.
//!
//! # Bounds
//! A line longer than [`MAX_LINE_BYTES`] is a malformed row, read past without being held in
//! memory; a member id longer than [`MAX_MEMBER_ID_BYTES`] too. A line that is not UTF-8 is a
//! malformed row like any other. Memory is the log's (about 24 bytes a visit) plus one line.

use super::log::{VisitLog, VisitLogBuilder};
use crate::ids::StoreId;
use chrono::DateTime;
use chrono_tz::Tz;
use std::io::BufRead;

/// The header a visit CSV must start with.
pub const HEADER: &str = "member_id,store_id,visited_at,spend_minor";

/// The longest line read, in bytes (without its line break).
pub const MAX_LINE_BYTES: usize = 4096;

/// The longest member id, in bytes.
pub const MAX_MEMBER_ID_BYTES: usize = 256;

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
    let fields: Vec<&str> = text.splitn(5, ',').map(unquote).collect();
    let [member, store, at, spend] = fields[..] else {
        return Err(if fields.len() == 5 {
            "more than 4 fields".to_owned()
        } else {
            format!("expected 4 fields, found {}", fields.len())
        });
    };
    let shown = |field: &str| crate::error::excerpt(field);
    if member.len() > MAX_MEMBER_ID_BYTES {
        return Err(format!(
            "member_id of {} bytes is longer than {MAX_MEMBER_ID_BYTES}",
            member.len()
        ));
    }
    let store: u32 = store
        .parse()
        .map_err(|_| format!("store_id {:?} is not a whole number", shown(store)))?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|e| {
        format!(
            "visited_at {:?} is not RFC 3339 with an offset: {e}",
            shown(at)
        )
    })?;
    if !crate::is_plausible(at.timestamp()) {
        return Err(format!(
            "visited_at {at} is outside the years 2000 to 2199 (a till clock set wrong?)"
        ));
    }
    let spend: i64 = spend.parse().map_err(|_| {
        format!(
            "spend_minor {:?} is not a whole number of minor units",
            shown(spend)
        )
    })?;
    if spend < 0 {
        return Err(format!(
            "spend_minor {spend} is negative: a refund is not a visit (record it as a void)"
        ));
    }
    let member = (!member.is_empty()).then_some(member);
    builder.push(member, StoreId(store), at.to_utc(), spend);
    Ok(())
}

/// One line of input, without its line break.
enum Line {
    /// A line within the bound, in the buffer.
    Text,
    /// A line longer than [`MAX_LINE_BYTES`], read past.
    TooLong(usize),
}

/// Reads the next line into `buffer`, holding at most [`MAX_LINE_BYTES`] of it.
fn next_line(input: &mut impl BufRead, buffer: &mut Vec<u8>) -> std::io::Result<Option<Line>> {
    buffer.clear();
    let mut length = 0usize;
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(end) => (&chunk[..end], Some(end + 1)),
            None => (chunk, None),
        };
        length += part.len();
        if length <= MAX_LINE_BYTES {
            buffer.extend_from_slice(part);
        }
        let used = done.unwrap_or(chunk.len());
        input.consume(used);
        if done.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if length > MAX_LINE_BYTES {
        buffer.clear();
        return Ok(Some(Line::TooLong(length)));
    }
    if buffer.last() == Some(&b'\r') {
        buffer.pop();
    }
    Ok(Some(Line::Text))
}

/// Reads a visit CSV; periods of the log are cut on the wall clock of `zone`.
///
/// # Errors
/// A [`CsvError`] for a missing or wrong header, an unreadable input, or (in
/// [`CsvMode::Strict`]) the first malformed row.
pub fn read_csv(mut input: impl BufRead, zone: Tz, mode: CsvMode) -> Result<CsvImport, CsvError> {
    let mut builder = VisitLogBuilder::new(zone);
    let mut skipped = Vec::new();
    let mut buffer = Vec::new();
    let io = |line: usize| {
        move |e: std::io::Error| CsvError {
            line,
            reason: e.to_string(),
        }
    };
    let header = match next_line(&mut input, &mut buffer).map_err(io(1))? {
        Some(Line::Text) => String::from_utf8_lossy(&buffer).into_owned(),
        Some(Line::TooLong(n)) => {
            return Err(CsvError {
                line: 1,
                reason: format!("header of {n} bytes is not {HEADER:?}"),
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
            reason: format!(
                "header must be {HEADER:?}, found {:?}",
                crate::error::excerpt(header)
            ),
        });
    }
    let mut line_no = 1;
    while let Some(line) = next_line(&mut input, &mut buffer).map_err(io(line_no + 1))? {
        line_no += 1;
        let outcome = match line {
            Line::TooLong(n) => Err(format!("line of {n} bytes is longer than {MAX_LINE_BYTES}")),
            Line::Text => match std::str::from_utf8(&buffer) {
                Err(e) => Err(format!("not UTF-8: {e}")),
                Ok(text) if text.trim().is_empty() => Ok(()),
                Ok(text) => parse_row(&mut builder, text),
            },
        };
        if let Err(reason) = outcome {
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
