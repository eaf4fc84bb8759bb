//! Reading visit CSV on every core: the input in memory, cut at line ends into one chunk per
//! thread, each line read by a fast path (plain fields, the fixed RFC 3339 layout, member ids
//! borrowed from the input: no allocation per row), and any line the fast path does not take
//! handed to the same record parser and rules as [`read_csv`](super::read_csv).
//!
//! The result is exactly `read_csv`'s on the same bytes: the same visits in the same order,
//! members numbered in order of first appearance, the same errors on the same lines. Where
//! lines cannot be cut apart without parsing (a `"` anywhere after the header: a quoted field
//! may hold a line break; or a carriage return that does not end a line) the whole input goes
//! through `read_csv`'s parser on one thread.

use super::csv::{
    CsvError, CsvImport, CsvMode, Layout, MAX_FIELDS, MAX_LINE_BYTES, MAX_MEMBER_ID_BYTES,
    MAX_STORE_ID_BYTES, Records, Visit, is_blank, parse_visit, read_csv, unguarded,
};
use super::dictionary::Dictionary;
use super::log::{ANONYMOUS, VisitLogBuilder};
use super::rfc3339::LastDay;
use chrono_tz::Tz;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most threads a read starts, whatever the caller asks.
const MAX_THREADS: usize = 64;

/// Visits read ahead of numbering their members (see `read_chunk`).
pub(super) const BATCH: usize = 32;

/// Below this many bytes per thread, one thread per core is more than the input needs (unless
/// the caller asks for a number of threads).
const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// Reads a visit CSV file on `threads` threads (0: one per core); see [`read_csv_bytes`].
///
/// Memory: the whole file is held while it is read, beside the log (24 bytes a visit). For a
/// file larger than memory allows, [`read_csv`] reads a stream in one record's memory.
///
/// # Errors
/// A [`CsvError`] on line 0 when the file cannot be read; otherwise as [`read_csv`].
pub fn read_csv_file(
    path: impl AsRef<Path>,
    zone: Tz,
    mode: CsvMode,
    threads: usize,
) -> Result<CsvImport, CsvError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| CsvError {
        line: 0,
        reason: format!("{}: {e}", path.display()),
    })?;
    read_csv_bytes(&bytes, zone, mode, threads)
}

/// Reads visit CSV held in memory on `threads` threads (0: one per core, fewer for a small
/// input; at most 64). Same columns, rules, result and errors as [`read_csv`], which reads a stream on
/// one thread.
///
/// # Errors
/// As [`read_csv`]: a missing or incomplete header, or (in [`CsvMode::Strict`]) the first
/// malformed row.
pub fn read_csv_bytes(
    input: &[u8],
    zone: Tz,
    mode: CsvMode,
    threads: usize,
) -> Result<CsvImport, CsvError> {
    read_csv_bytes_counting(input, zone, mode, threads, &AtomicUsize::new(0))
}

/// [`read_csv_bytes`], adding to `bytes_read` as the input is read (in steps of about a
/// mebibyte per thread), so that another thread can show progress. It ends at the body's
/// length, unless the read falls back to [`read_csv`], whose progress it does not count.
///
/// # Errors
/// As [`read_csv_bytes`].
pub fn read_csv_bytes_counting(
    input: &[u8],
    zone: Tz,
    mode: CsvMode,
    threads: usize,
    bytes_read: &AtomicUsize,
) -> Result<CsvImport, CsvError> {
    let mut records = Records::new(input);
    let header = match records.next() {
        Ok(Some(header)) if header.is_whole() => header,
        // An empty input or a bad header: read_csv says what is wrong.
        _ => return read_csv(input, zone, mode),
    };
    let Ok(layout) = Layout::of(&header) else {
        return read_csv(input, zone, mode);
    };
    let first_line = records.line();
    let body = records.into_rest();
    let threads = match threads {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(body.len() / MIN_PARALLEL_BYTES)
            .max(1),
        n => n.min(MAX_THREADS),
    };
    let chunks = split_lines(body, threads);
    let seed = super::dictionary::random_seed();
    let read: Option<Vec<Chunk>> = if chunks.len() == 1 {
        read_chunk(chunks[0], &layout, mode, seed, bytes_read).map(|chunk| vec![chunk])
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = chunks
                .iter()
                .map(|&chunk| scope.spawn(|| read_chunk(chunk, &layout, mode, seed, bytes_read)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    match read {
        Some(chunks) => merge(chunks, first_line, zone, mode),
        None => read_csv(input, zone, mode),
    }
}

/// `body` cut into at most `n` pieces, each of whole lines.
fn split_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut chunks = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let target = ((body.len() as u128 * i as u128 / n as u128) as usize).max(start);
        let Some(end) = body[target..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let end = target + end + 1;
        chunks.push(&body[start..end]);
        start = end;
    }
    chunks.push(&body[start..]);
    chunks
}

/// What one thread read: its visits with members and stores numbered within the chunk, and
/// its errors with lines counted from the chunk's start.
pub(super) struct Chunk {
    members: Dictionary,
    stores: Dictionary,
    member: Vec<u32>,
    store: Vec<u32>,
    at: Vec<i64>,
    spend: Vec<i64>,
    errors: Vec<CsvError>,
    lines: usize,
}

/// Reads a chunk's lines, or `None` when its lines cannot be told apart without parsing: a
/// quote (a quoted field may hold a line break) or a carriage return that does not end a line
/// (csv-core ends a record there).
fn read_chunk(
    chunk: &[u8],
    layout: &Layout,
    mode: CsvMode,
    seed: u64,
    bytes_read: &AtomicUsize,
) -> Option<Chunk> {
    const STEP: usize = 1 << 20;
    if memchr::memchr(b'"', chunk).is_some()
        || memchr::memchr_iter(b'\r', chunk).any(|i| chunk.get(i + 1) != Some(&b'\n'))
    {
        return None;
    }
    let mut read = Chunk::new(seed, chunk.len() / 40 + 1);
    // Visits read but not yet numbered, with their member's hash: their dictionary slots are
    // loaded as they are read, and they are numbered a batch later (see Dictionary::touch).
    let mut pending: Vec<(Visit<'_>, u64)> = Vec::with_capacity(BATCH);
    // The record parser for the lines the fast path leaves, made on the first.
    let mut records = None;
    // Where each field of the current line starts; more than MAX_FIELDS fields is `crowded`.
    let mut starts = [0usize; MAX_FIELDS];
    let (mut fields, mut crowded) = (1, false);
    let mut start = 0;
    let mut counted = 0;
    let mut last_day = LastDay::default();
    // Commas and line ends in one vectorised scan.
    let mut hits = memchr::memchr2_iter(b',', b'\n', chunk);
    loop {
        let end = match hits.next() {
            Some(comma) if chunk[comma] == b',' => {
                if fields < MAX_FIELDS {
                    starts[fields] = comma + 1;
                    fields += 1;
                } else {
                    crowded = true;
                }
                continue;
            }
            Some(line_end) => line_end,
            None if start < chunk.len() => chunk.len(),
            None => break,
        };
        if end - counted >= STEP {
            bytes_read.fetch_add(end - counted, Ordering::Relaxed);
            counted = end;
        }
        let number = read.lines;
        read.lines += usize::from(end < chunk.len());
        let line = &chunk[start..(end + 1).min(chunk.len())];
        let text_end = if end > start && chunk[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let fast = (!crowded)
            .then(|| fast_visit(chunk, &starts[..fields], text_end, layout, &mut last_day))
            .flatten();
        (start, fields, crowded) = (end + 1, 1, false);
        starts[0] = start;
        if let Some(visit) = fast {
            let hash = visit.member.map_or(0, |m| read.members.hash(m));
            read.members.touch(hash);
            pending.push((visit, hash));
            if pending.len() == BATCH {
                read.number(&mut pending);
            }
            continue;
        }
        read.number(&mut pending);
        // A fresh record parser strips a byte-order mark, as at the start of a file; read_csv's
        // parser, past the header, keeps it as data. Such a line is left to read_csv.
        if line.starts_with(b"\xEF\xBB\xBF") {
            return None;
        }
        // Everything else as read_csv reads it: the line is one whole record.
        let records = records.get_or_insert_with(|| Records::new(&[][..]));
        records.restart(line);
        let Ok(Some(record)) = records.next() else {
            continue;
        };
        if is_blank(&record) {
            continue;
        }
        match parse_visit(&record, layout) {
            Ok(visit) => {
                let member = visit.member.map_or(ANONYMOUS, |m| read.members.id(m));
                read.push(member, &visit);
            }
            Err(reason) => {
                read.errors.push(CsvError {
                    line: number,
                    reason,
                });
                if mode == CsvMode::Strict {
                    break;
                }
            }
        }
    }
    read.number(&mut pending);
    bytes_read.fetch_add(chunk.len() - counted, Ordering::Relaxed);
    Some(read)
}

impl Chunk {
    /// An empty chunk with room for `rows` visits; `seed` is every chunk's of one read.
    pub(super) fn new(seed: u64, rows: usize) -> Self {
        Chunk {
            members: Dictionary::new(seed),
            stores: Dictionary::new(seed),
            member: Vec::with_capacity(rows),
            store: Vec::with_capacity(rows),
            at: Vec::with_capacity(rows),
            spend: Vec::with_capacity(rows),
            errors: Vec::new(),
            lines: 0,
        }
    }

    /// The hash of member `id` for [`Chunk::number`], its dictionary slot asked for ahead
    /// of the lookup.
    #[cfg(feature = "parquet")]
    pub(super) fn touch_member(&self, id: &str) -> u64 {
        let hash = self.members.hash(id);
        self.members.touch(hash);
        hash
    }

    /// Numbers the pending visits' members and adds the visits, in order.
    pub(super) fn number(&mut self, pending: &mut Vec<(Visit<'_>, u64)>) {
        for (visit, hash) in pending.drain(..) {
            let member = visit
                .member
                .map_or(ANONYMOUS, |m| self.members.id_hashed(m, hash));
            self.push(member, &visit);
        }
    }

    /// Adds a visit whose member has the chunk's number `member` (or [`ANONYMOUS`]).
    pub(super) fn push(&mut self, member: u32, visit: &Visit<'_>) {
        self.member.push(member);
        // Stores are few: their slots stay in cache.
        let store = self.stores.id(visit.store);
        self.store.push(store);
        self.at.push(visit.at_unix);
        self.spend.push(visit.spend_minor);
    }
}

/// The visit of a plain line whose fields start at `starts` in `chunk` and whose text ends at
/// `end`, or `None` for anything the record parser must look at: a long line, too few
/// fields, a field that is not plain digits or the fixed timestamp layout, a long member id,
/// an implausible time. Every line it takes, `parse_visit` reads the same way.
fn fast_visit<'a>(
    chunk: &'a [u8],
    starts: &[usize],
    end: usize,
    layout: &Layout,
    last_day: &mut LastDay,
) -> Option<Visit<'a>> {
    if end - starts[0] > MAX_LINE_BYTES || starts.len() < layout.fields() {
        return None;
    }
    let field = |i: usize| match starts.get(i + 1) {
        Some(&next) => &chunk[starts[i]..next - 1],
        None => &chunk[starts[i]..end],
    };
    let [m, s, a, p] = layout.columns();
    let member = unguarded(std::str::from_utf8(field(m)).ok()?);
    if member.len() > MAX_MEMBER_ID_BYTES {
        return None;
    }
    // parse_visit trims a store id of any Unicode white space: one with anything but plain
    // ASCII at either end is left to it.
    let store = field(s);
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_graphic() && b != b'\'');
    if !plain(store.first()) || !plain(store.last()) || store.len() > MAX_STORE_ID_BYTES {
        return None;
    }
    let store = std::str::from_utf8(store).ok()?;
    let at_unix = super::rfc3339::unix_seconds_after(field(a), last_day)?;
    if !crate::is_plausible(at_unix) {
        return None;
    }
    let spend_minor = digits(field(p), 18)?;
    Some(Visit {
        member: (!member.is_empty()).then_some(member),
        store,
        at_unix,
        spend_minor,
    })
}

/// The value of one to `max` ASCII digits (no sign, no spaces), or `None`.
fn digits(field: &[u8], max: usize) -> Option<i64> {
    if field.is_empty() || field.len() > max {
        return None;
    }
    field.iter().try_fold(0i64, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

/// Numbers the chunks' members in order of first appearance across the whole input, appends
/// their visits in input order and puts their errors on the input's lines.
pub(super) fn merge(
    chunks: Vec<Chunk>,
    first_line: usize,
    zone: Tz,
    mode: CsvMode,
) -> Result<CsvImport, CsvError> {
    let visits: usize = chunks.iter().map(|c| c.member.len()).sum();
    let mut columns = Columns {
        members: None,
        stores: None,
        member: Vec::new(),
        store: Vec::new(),
        at: Vec::new(),
        spend: Vec::new(),
    };
    let mut skipped = Vec::new();
    let mut line = first_line;
    for chunk in chunks {
        for mut error in chunk.errors {
            error.line += line;
            if mode == CsvMode::Strict {
                return Err(error);
            }
            skipped.push(error);
        }
        line += chunk.lines;
        let (Some(members), Some(stores)) = (&mut columns.members, &mut columns.stores) else {
            // The first chunk's columns and numbers are the log's, the others appended to
            // them (growing a large vector moves its pages, not its bytes).
            let grow = |n: usize| visits - n;
            columns = Columns {
                members: Some(chunk.members),
                stores: Some(chunk.stores),
                member: chunk.member,
                store: chunk.store,
                at: chunk.at,
                spend: chunk.spend,
            };
            columns.member.reserve(grow(columns.member.len()));
            columns.store.reserve(grow(columns.store.len()));
            columns.at.reserve(grow(columns.at.len()));
            columns.spend.reserve(grow(columns.spend.len()));
            continue;
        };
        let ids = stores.absorb(&chunk.stores);
        (columns.store).extend(chunk.store.iter().map(|&local| ids[local as usize]));
        columns.at.extend_from_slice(&chunk.at);
        columns.spend.extend_from_slice(&chunk.spend);
        let ids = members.absorb(&chunk.members);
        columns
            .member
            .extend(chunk.member.iter().map(|&local| match local {
                ANONYMOUS => ANONYMOUS,
                local => ids[local as usize],
            }));
    }
    let empty = || Dictionary::new(super::dictionary::random_seed());
    let log = VisitLogBuilder::from_columns(
        zone,
        columns.members.unwrap_or_else(empty),
        columns.stores.unwrap_or_else(empty),
        columns.at,
        columns.member,
        columns.store,
        columns.spend,
    )
    .build();
    Ok(CsvImport { log, skipped })
}

/// The log's columns as the chunks are merged.
struct Columns {
    members: Option<Dictionary>,
    stores: Option<Dictionary>,
    member: Vec<u32>,
    store: Vec<u32>,
    at: Vec<i64>,
    spend: Vec<i64>,
}
