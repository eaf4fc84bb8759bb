//! Visit logs in CSV, read and written through `csv-core` (the csv crate's parser, which works
//! in caller buffers, so a record's size is bounded).
//!
//! Columns, by header name in any order (other columns are ignored): `member_id` (any text,
//! empty for an anonymous walk-in), `store_id` (any text but empty, `S016` or `7`; spaces
//! around it are not part of it, and `007` is not `7`), `visited_at` (RFC 3339 with an
//! offset, `2025-01-31T23:59:00+08:00`), `spend_minor` (an integer in minor units, zero or more:
//! a refund is not a visit). Fields may be quoted, with commas, quotes (doubled) and line
//! breaks inside; a byte-order mark and CRLF line ends are fine. A malformed row is an error
//! naming its line, or, in [`CsvMode::SkipMalformed`], skipped and reported — never silently
//! dropped.
//!
//! Spreadsheet formula injection: [`write_csv`] writes a member or store id that starts with
//! `=`, `+`, `-`, `@`, a tab, a carriage return or `'` with one `'` in front, so a spreadsheet
//! shows it as text; [`read_csv`] removes one leading `'`, so `read_csv(write_csv(log))` is the
//! same log.
//!
//! # Bounds
//! A record longer than [`MAX_LINE_BYTES`] (fields, without quotes and separators) or with more
//! than [`MAX_FIELDS`] fields is a malformed row, read past without being held in memory; a
//! member id longer than [`MAX_MEMBER_ID_BYTES`] or a store id longer than
//! [`MAX_STORE_ID_BYTES`] too. A field that is not UTF-8 is a malformed
//! row like any other. Memory is the log's (about 24 bytes a visit) plus one record.

use super::log::{ANONYMOUS, VisitLog, VisitLogBuilder};
use chrono::DateTime;
use chrono_tz::Tz;
use csv_core::{ReadRecordResult, WriteResult};
use std::io::{BufRead, Write};

/// The header [`write_csv`] writes; [`read_csv`] takes these columns in any order.
pub const HEADER: &str = "member_id,store_id,visited_at,spend_minor";

/// The most bytes of field content one record may hold.
pub const MAX_LINE_BYTES: usize = 4096;

/// The most fields one record may hold.
pub const MAX_FIELDS: usize = 64;

/// The longest member id, in bytes.
pub const MAX_MEMBER_ID_BYTES: usize = 256;

/// The longest store id, in bytes.
pub const MAX_STORE_ID_BYTES: usize = 256;

const COLUMNS: [&str; 4] = ["member_id", "store_id", "visited_at", "spend_minor"];

/// A CSV problem, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CsvError {
    /// The line the record starts on (1 = the header).
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

/// One record as read: its fields' bytes and where each ends, or why it was not kept.
pub(super) struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    line: usize,
    problem: Option<String>,
}

impl Record {
    /// Whether it was read whole (not cut short by a bound).
    pub(super) fn is_whole(&self) -> bool {
        self.problem.is_none()
    }

    fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }
}

/// Reads records one at a time into fixed buffers.
pub(super) struct Records<R> {
    input: R,
    parser: csv_core::Reader,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: BufRead> Records<R> {
    pub(super) fn new(input: R) -> Self {
        Records {
            input,
            parser: csv_core::Reader::new(),
            bytes: vec![0; MAX_LINE_BYTES],
            ends: vec![0; MAX_FIELDS],
        }
    }

    /// Reads `input` from its start, reusing the buffers.
    pub(super) fn restart(&mut self, input: R) {
        self.input = input;
        self.parser.reset();
    }

    /// The line the parser is on.
    pub(super) fn line(&self) -> usize {
        usize::try_from(self.parser.line()).unwrap_or(usize::MAX)
    }

    /// The input after the records read so far.
    pub(super) fn into_rest(self) -> R {
        self.input
    }

    /// The next record, or `None` at the end of the input.
    pub(super) fn next(&mut self) -> std::io::Result<Option<Record>> {
        self.skip_empty_lines()?;
        let line = self.line();
        let (mut out, mut nends) = (0, 0);
        let mut problem = None;
        loop {
            let input = self.input.fill_buf()?;
            let (result, nin, nout, nend) =
                self.parser
                    .read_record(input, &mut self.bytes[out..], &mut self.ends[nends..]);
            self.input.consume(nin);
            // csv-core gives the ends as offsets into the whole record, across calls.
            out += nout;
            nends += nend;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    problem.get_or_insert_with(|| {
                        format!("record longer than {MAX_LINE_BYTES} bytes")
                    });
                    (out, nends) = (0, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    problem.get_or_insert_with(|| format!("more than {MAX_FIELDS} fields"));
                    (out, nends) = (0, 0);
                }
                ReadRecordResult::Record => {
                    return Ok(Some(Record {
                        bytes: self.bytes[..out].to_vec(),
                        ends: self.ends[..nends].to_vec(),
                        line,
                        problem,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Consumes the line ends before a record. (csv-core skips empty lines too, but only
    /// once reading, after the record's line was taken: a record after blank lines was
    /// reported on the first of them.)
    fn skip_empty_lines(&mut self) -> std::io::Result<()> {
        loop {
            let input = self.input.fill_buf()?;
            let ends = input
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            if ends == 0 {
                return Ok(());
            }
            let lines = input[..ends].iter().filter(|&&b| b == b'\n').count();
            self.input.consume(ends);
            self.parser
                .set_line(self.parser.line().saturating_add(lines as u64));
        }
    }
}

/// Where each needed column is in a record, and how many fields the header has.
pub(super) struct Layout([usize; 4], usize);

impl Layout {
    pub(super) fn of(header: &Record) -> Result<Layout, String> {
        let names: Vec<String> = (0..header.ends.len())
            .map(|i| {
                let name = String::from_utf8_lossy(header.field(i).unwrap_or_default());
                name.trim_start_matches('\u{feff}').trim().to_owned()
            })
            .collect();
        let mut at = [0; 4];
        for (slot, column) in at.iter_mut().zip(COLUMNS) {
            *slot = names.iter().position(|n| n == column).ok_or_else(|| {
                format!(
                    "the header has no {column} column (it needs {HEADER:?}, in any order), \
                     found {:?}",
                    crate::error::excerpt(&names.join(","))
                )
            })?;
        }
        Ok(Layout(at, names.len()))
    }

    /// The fields of `member_id`, `store_id`, `visited_at` and `spend_minor`.
    pub(super) fn columns(&self) -> [usize; 4] {
        self.0
    }

    /// How many fields the header has (a record needs at least as many).
    pub(super) fn fields(&self) -> usize {
        self.1
    }
}

fn text<'a>(record: &'a Record, index: usize, name: &str) -> Result<&'a str, String> {
    let bytes = record
        .field(index)
        .ok_or_else(|| format!("no {name} field"))?;
    std::str::from_utf8(bytes).map_err(|e| format!("{name} is not UTF-8: {e}"))
}

/// An id as written: one leading `'` is the formula guard [`write_csv`] adds.
pub(super) fn unguarded(field: &str) -> &str {
    field.strip_prefix('\'').unwrap_or(field)
}

/// One visit as read from a record.
pub(super) struct Visit<'r> {
    pub(super) member: Option<&'r str>,
    pub(super) store: &'r str,
    pub(super) at_unix: i64,
    pub(super) spend_minor: i64,
}

/// Whether a record is a blank line (skipped, not an error).
pub(super) fn is_blank(record: &Record) -> bool {
    record.problem.is_none()
        && record.ends.len() <= 1
        && record.bytes.iter().all(u8::is_ascii_whitespace)
}

/// The visit in a record, or why the record is malformed.
pub(super) fn parse_visit<'r>(record: &'r Record, layout: &Layout) -> Result<Visit<'r>, String> {
    if let Some(problem) = &record.problem {
        return Err(problem.clone());
    }
    if record.ends.len() < layout.1 {
        return Err(format!(
            "expected {} fields, found {}",
            layout.1,
            record.ends.len()
        ));
    }
    let [m, s, a, p] = layout.0;
    let member = unguarded(text(record, m, "member_id")?);
    let (store, at, spend) = (
        text(record, s, "store_id")?.trim(),
        text(record, a, "visited_at")?.trim(),
        text(record, p, "spend_minor")?.trim(),
    );
    let shown = crate::error::excerpt;
    if member.len() > MAX_MEMBER_ID_BYTES {
        return Err(format!(
            "member_id of {} bytes is longer than {MAX_MEMBER_ID_BYTES}",
            member.len()
        ));
    }
    let store = unguarded(store);
    if store.is_empty() {
        return Err("store_id is empty".into());
    }
    if store.len() > MAX_STORE_ID_BYTES {
        return Err(format!(
            "store_id of {} bytes is longer than {MAX_STORE_ID_BYTES}",
            store.len()
        ));
    }
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
    Ok(Visit {
        member: (!member.is_empty()).then_some(member),
        store,
        at_unix: at.timestamp(),
        spend_minor: spend,
    })
}

/// Reads a visit CSV; periods of the log are cut on the wall clock of `zone`.
///
/// # Errors
/// A [`CsvError`] for a missing or incomplete header, an unreadable input, or (in
/// [`CsvMode::Strict`]) the first malformed row.
pub fn read_csv(input: impl BufRead, zone: Tz, mode: CsvMode) -> Result<CsvImport, CsvError> {
    let io = |line: usize| {
        move |e: std::io::Error| CsvError {
            line,
            reason: e.to_string(),
        }
    };
    let mut records = Records::new(input);
    let header = records.next().map_err(io(1))?.ok_or_else(|| CsvError {
        line: 1,
        reason: "empty input: no header".into(),
    })?;
    let layout = header
        .problem
        .clone()
        .map_or_else(|| Layout::of(&header), Err)
        .map_err(|reason| CsvError { line: 1, reason })?;
    let mut builder = VisitLogBuilder::new(zone);
    let mut skipped = Vec::new();
    loop {
        let line = records.line();
        let Some(record) = records.next().map_err(io(line))? else {
            break;
        };
        if is_blank(&record) {
            continue;
        }
        match parse_visit(&record, &layout) {
            Ok(visit) => {
                let member = visit.member.map_or(ANONYMOUS, |id| builder.intern(id));
                let store = builder.intern_store(visit.store);
                builder.push_indexed(member, store, visit.at_unix, visit.spend_minor);
            }
            Err(reason) => {
                let error = CsvError {
                    line: record.line,
                    reason,
                };
                match mode {
                    CsvMode::Strict => return Err(error),
                    CsvMode::SkipMalformed => skipped.push(error),
                }
            }
        }
    }
    Ok(CsvImport {
        log: builder.build(),
        skipped,
    })
}

/// Writes fields as one CSV record, quoting where needed.
pub(super) struct FieldWriter {
    writer: csv_core::Writer,
    buffer: [u8; 1024],
}

impl FieldWriter {
    /// A writer with the standard CSV dialect (commas, quotes where needed, `\n`).
    pub(super) fn new() -> Self {
        FieldWriter {
            writer: csv_core::Writer::new(),
            buffer: [0; 1024],
        }
    }

    /// Writes one record.
    pub(super) fn record(&mut self, out: &mut impl Write, fields: &[&[u8]]) -> std::io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            let mut rest = *field;
            loop {
                let (result, nin, nout) = self.writer.field(rest, &mut self.buffer);
                out.write_all(&self.buffer[..nout])?;
                rest = &rest[nin..];
                if result == WriteResult::InputEmpty {
                    break;
                }
            }
            // Closes the field's quotes, if it opened any, then separates or ends the record.
            let (_, n) = if i + 1 == fields.len() {
                self.writer.terminator(&mut self.buffer)
            } else {
                self.writer.delimiter(&mut self.buffer)
            };
            out.write_all(&self.buffer[..n])?;
        }
        Ok(())
    }
}

/// Whether a spreadsheet would read a cell starting with this byte as a formula (or the cell
/// starts with the guard itself).
fn needs_guard(member: &str) -> bool {
    matches!(
        member.bytes().next(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

/// Unix second `t` as the CSV files write instants: RFC 3339 in UTC (`2025-01-31T23:59:00Z`).
pub(super) fn utc_text(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `id`, with a `'` in front if a spreadsheet would read it as a formula (in `buffer`).
pub(super) fn guarded<'a>(id: &'a str, buffer: &'a mut String) -> &'a str {
    if needs_guard(id) {
        buffer.clear();
        buffer.push('\'');
        buffer.push_str(id);
        buffer.as_str()
    } else {
        id
    }
}

/// Writes a log as visit CSV: the header, then one record a visit (times in UTC). Member and
/// store ids are quoted where they need it and guarded against formula injection (see the
/// module docs).
///
/// # Errors
/// The writer's I/O errors.
pub fn write_csv(log: &VisitLog, mut out: impl Write) -> std::io::Result<()> {
    let mut fields = FieldWriter::new();
    let header: Vec<&[u8]> = COLUMNS.iter().map(|c| c.as_bytes()).collect();
    fields.record(&mut out, &header)?;
    let (mut member_text, mut store_text) = (String::new(), String::new());
    for i in 0..log.len() {
        let index = log.member()[i];
        let member = if index == ANONYMOUS {
            ""
        } else {
            log.member_id(index)
        };
        let member = guarded(member, &mut member_text);
        let store = guarded(log.store_id(log.store()[i]), &mut store_text);
        let at = utc_text(log.at()[i]);
        let spend = log.spend()[i].to_string();
        fields.record(
            &mut out,
            &[
                member.as_bytes(),
                store.as_bytes(),
                at.as_bytes(),
                spend.as_bytes(),
            ],
        )?;
    }
    Ok(())
}
