//! Visits in Parquet, as a warehouse holds them (the `parquet` feature): read from a file or a
//! folder of files on every core, and written; and the report's tables written as Parquet for
//! BI tools.
//!
//! Columns, by name, others ignored:
//! - `member_id`: text (`BYTE_ARRAY`, UTF-8), null or empty for an anonymous walk-in;
//! - `store_id`: text, or an integer (written back in decimal), never null or empty;
//! - `visited_at`: an instant, `INT64` `TIMESTAMP` adjusted to UTC in milli-, micro- or
//!   nanoseconds (DuckDB's `TIMESTAMPTZ`, Spark's and pandas' timestamps), or `INT96` (Spark's
//!   and Hive's older files); a timestamp not adjusted to UTC has no instant and is refused;
//! - `spend_minor`: an integer (`INT32` or `INT64`), zero or more.
//!
//! The rules are the CSV's ([`super::read_csv`]): ids up to 256 bytes, instants in 2000 to
//! 2199, no negative spend; any row breaking one fails the read, naming its file and row.
//! Ids are data here, not spreadsheet text: they are kept byte for byte (no trimming, no
//! formula guard).

use super::csv::{CsvMode, MAX_MEMBER_ID_BYTES, MAX_STORE_ID_BYTES, Visit};
use super::export::ReportTables;
use super::ingest::{BATCH, Chunk, merge};
use super::log::{ANONYMOUS, VisitLog};
use super::stores::StoreRow;
use chrono_tz::Tz;
use parquet::basic::{LogicalType, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why visits could not be read from Parquet, or tables not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetError {
    /// A file or folder could not be opened, listed or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not a readable Parquet file (damaged, truncated, or not Parquet at all).
    #[error("{path}: not a readable Parquet file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the Parquet reader said.
        reason: String,
    },
    /// A needed column is missing or of a type o2okit does not read as that column.
    #[error("{path}: {reason}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// Which column, and what is wrong with it.
        reason: String,
    },
    /// A row breaking a rule.
    #[error("{path}: row {row}: {reason}")]
    Row {
        /// The file.
        path: PathBuf,
        /// The row, from 1, in the file.
        row: u64,
        /// What is wrong.
        reason: String,
    },
    /// A folder without Parquet files.
    #[error("{path}: no .parquet files")]
    Empty {
        /// The folder.
        path: PathBuf,
    },
}

/// How `visited_at` is stored.
#[derive(Debug, Clone, Copy)]
enum TimeColumn {
    /// `INT64` in units of 1 / `per_second` seconds since 1970, UTC.
    Int64 { per_second: i64 },
    /// `INT96` (Julian day and nanoseconds of the day).
    Int96,
}

/// Where each needed column is in a file, and how it is stored.
#[derive(Debug, Clone, Copy)]
struct Layout {
    member: usize,
    store: usize,
    /// `store_id` is an unsigned integer (its `INT32` or `INT64` bits read as unsigned).
    unsigned_store: bool,
    at: usize,
    time: TimeColumn,
    spend: usize,
}

impl Layout {
    fn of(
        reader: &SerializedFileReader<std::fs::File>,
        path: &Path,
    ) -> Result<Layout, ParquetError> {
        let schema = reader.metadata().file_metadata().schema_descr();
        let refuse = |reason: String| ParquetError::Schema {
            path: path.to_owned(),
            reason,
        };
        let find = |name: &str| {
            (0..schema.num_columns())
                .find(|&i| {
                    let column = schema.column(i);
                    // A top-level column: not a field of a struct, not repeated.
                    column.path().parts() == [name] && column.max_rep_level() == 0
                })
                .ok_or_else(|| refuse(format!("no {name} column (it needs member_id, store_id, visited_at and spend_minor)")))
        };
        let (member, store, at, spend) = (
            find("member_id")?,
            find("store_id")?,
            find("visited_at")?,
            find("spend_minor")?,
        );
        let kind = |i: usize| schema.column(i).physical_type();
        if kind(member) != PhysicalType::BYTE_ARRAY {
            return Err(refuse(format!("member_id is {:?}, not text", kind(member))));
        }
        if !matches!(
            kind(store),
            PhysicalType::BYTE_ARRAY | PhysicalType::INT32 | PhysicalType::INT64
        ) {
            return Err(refuse(format!(
                "store_id is {:?}, not text or an integer",
                kind(store)
            )));
        }
        let whole = |i: usize| !matches!(schema.column(i).logical_type_ref(), Some(LogicalType::Decimal { scale, .. }) if *scale != 0);
        if !matches!(kind(spend), PhysicalType::INT32 | PhysicalType::INT64) || !whole(spend) {
            return Err(refuse(
                "spend_minor is not a whole number of minor units".into(),
            ));
        }
        let time = match (kind(at), schema.column(at).logical_type_ref()) {
            (PhysicalType::INT96, _) => TimeColumn::Int96,
            (
                PhysicalType::INT64,
                Some(LogicalType::Timestamp {
                    is_adjusted_to_u_t_c,
                    unit,
                }),
            ) => {
                if !is_adjusted_to_u_t_c {
                    return Err(refuse(
                        "visited_at is a local date and time without a zone: write it as an \
                         instant (TIMESTAMP adjusted to UTC, DuckDB's TIMESTAMPTZ)"
                            .into(),
                    ));
                }
                let per_second = match unit {
                    parquet::basic::TimeUnit::MILLIS => 1_000,
                    parquet::basic::TimeUnit::MICROS => 1_000_000,
                    parquet::basic::TimeUnit::NANOS => 1_000_000_000,
                };
                TimeColumn::Int64 { per_second }
            }
            (PhysicalType::INT64, None) => match schema.column(at).converted_type() {
                parquet::basic::ConvertedType::TIMESTAMP_MILLIS => {
                    TimeColumn::Int64 { per_second: 1_000 }
                }
                parquet::basic::ConvertedType::TIMESTAMP_MICROS => TimeColumn::Int64 {
                    per_second: 1_000_000,
                },
                _ => {
                    return Err(refuse(
                        "visited_at is an INT64 that is not a timestamp".into(),
                    ));
                }
            },
            (other, _) => {
                return Err(refuse(format!("visited_at is {other:?}, not a timestamp")));
            }
        };
        let unsigned_store = matches!(
            schema.column(store).logical_type_ref(),
            Some(LogicalType::Integer {
                is_signed: false,
                ..
            })
        ) || matches!(
            schema.column(store).converted_type(),
            parquet::basic::ConvertedType::UINT_32 | parquet::basic::ConvertedType::UINT_64
        );
        Ok(Layout {
            member,
            store,
            unsigned_store,
            at,
            time,
            spend,
        })
    }
}

/// The `.parquet` files of `path`: the file itself, or a folder's, by name.
fn files(path: &Path) -> Result<Vec<PathBuf>, ParquetError> {
    let io = |source| ParquetError::Io {
        path: path.to_owned(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let file = entry.map_err(io)?.path();
        if file.extension().is_some_and(|e| e == "parquet") && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ParquetError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(files)
}

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>, ParquetError> {
    let file = std::fs::File::open(path).map_err(|source| ParquetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let format = |reason: String| ParquetError::Format {
        path: path.to_owned(),
        reason,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SerializedFileReader::new(file)
    }))
    .map_err(|_| format("the Parquet reader failed on its footer".into()))?
    .map_err(|e| format(e.to_string()))
}

/// Reads visits from a Parquet file, or from every `.parquet` file of a folder (in name
/// order), on `threads` threads (0: one per core; the row groups are shared out); periods are
/// cut on the wall clock of `zone`. Members and stores are numbered in order of first
/// appearance, as [`super::read_csv`] numbers them.
///
/// # Errors
/// [`ParquetError`]: a file that cannot be opened or is not Parquet, a needed column missing
/// or of another type, or the first row (in file order) breaking a rule.
pub fn read_parquet(
    path: impl AsRef<Path>,
    zone: Tz,
    threads: usize,
) -> Result<VisitLog, ParquetError> {
    let files = files(path.as_ref())?;
    // Every row group of every file, in order, with the file's layout and first row number.
    let mut groups: Vec<(usize, usize, Layout, u64)> = Vec::new();
    for (f, file) in files.iter().enumerate() {
        let reader = open(file)?;
        let layout = Layout::of(&reader, file)?;
        let mut first_row = 0u64;
        for g in 0..reader.num_row_groups() {
            groups.push((f, g, layout, first_row));
            first_row += reader.metadata().row_group(g).num_rows().max(0) as u64;
        }
    }
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, groups.len().max(1));
    let seed = super::dictionary::random_seed();
    // Contiguous runs of row groups per thread, so the chunks come back in file order.
    let per_thread = groups.len().div_ceil(threads).max(1);
    // One chunk per thread: a member is numbered once per thread, not once per row group.
    let chunks: Vec<Result<Chunk, ParquetError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = groups
            .chunks(per_thread)
            .map(|run| {
                let files = &files;
                scope.spawn(move || {
                    let mut readers: Vec<Option<SerializedFileReader<std::fs::File>>> =
                        (0..files.len()).map(|_| None).collect();
                    let mut chunk = Chunk::new(seed, 0);
                    for &(f, g, layout, first_row) in run {
                        let reader = match &mut readers[f] {
                            Some(reader) => reader,
                            slot => slot.insert(open(&files[f])?),
                        };
                        // The Parquet crate is trusted with damaged files only this far: a
                        // panic in it is this file's error, not the caller's crash.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            read_group(reader, g, layout, &mut chunk)
                        }))
                        .unwrap_or_else(|_| Err((None, "the Parquet reader failed on it".into())))
                        .map_err(|(row, reason)| match row {
                            Some(row) => ParquetError::Row {
                                path: files[f].clone(),
                                row: first_row + row + 1,
                                reason,
                            },
                            None => ParquetError::Format {
                                path: files[f].clone(),
                                reason,
                            },
                        })?;
                    }
                    Ok(chunk)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let all = chunks
        .into_iter()
        .collect::<Result<Vec<Chunk>, ParquetError>>()?;
    let import = merge(all, 1, zone, CsvMode::Strict).map_err(|e| ParquetError::Format {
        path: path.as_ref().to_owned(),
        reason: e.to_string(),
    })?;
    Ok(import.log)
}

/// One column of a row group, all of it.
enum Values {
    Text(Vec<ByteArray>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Int96(Vec<parquet::data_type::Int96>),
}

/// Reads column `i` of row group `g`: its values and, when it may hold nulls, which rows do
/// (definition level below the maximum).
fn column(
    group: &dyn parquet::file::reader::RowGroupReader,
    i: usize,
    rows: usize,
) -> Result<(Values, Option<Vec<i16>>), String> {
    let nullable = group.metadata().column(i).column_descr().max_def_level() > 0;
    let text = |e: parquet::errors::ParquetError| e.to_string();
    let (values, levels, records) = match group.get_column_reader(i).map_err(text)? {
        ColumnReader::ByteArrayColumnReader(r) => {
            let (v, l, n) = read_all(r, rows, nullable).map_err(text)?;
            (Values::Text(v), l, n)
        }
        ColumnReader::Int32ColumnReader(r) => {
            let (v, l, n) = read_all(r, rows, nullable).map_err(text)?;
            (Values::Int32(v), l, n)
        }
        ColumnReader::Int64ColumnReader(r) => {
            let (v, l, n) = read_all(r, rows, nullable).map_err(text)?;
            (Values::Int64(v), l, n)
        }
        ColumnReader::Int96ColumnReader(r) => {
            let (v, l, n) = read_all(r, rows, nullable).map_err(text)?;
            (Values::Int96(v), l, n)
        }
        _ => return Err(format!("column {i} has an unexpected type")),
    };
    if records != rows {
        let held = if records > rows {
            "more".to_owned()
        } else {
            records.to_string()
        };
        return Err(format!(
            "column {} holds {held} rows where its row group has {rows}",
            group.metadata().column(i).column_descr().name()
        ));
    }
    Ok((values, nullable.then_some(levels)))
}

/// A column's values, its definition levels and how many records it holds.
type ReadColumn<V> = (Vec<V>, Vec<i16>, usize);

/// A column's values and definition levels for the row group's `rows` rows, and how many
/// records the column holds (`rows` when the group is what it says: one more is looked for).
fn read_all<T: parquet::data_type::DataType>(
    mut reader: parquet::column::reader::ColumnReaderImpl<T>,
    rows: usize,
    nullable: bool,
) -> Result<ReadColumn<T::T>, parquet::errors::ParquetError> {
    // The row count comes from the file: room is made as values arrive, not on its word.
    let room = rows.min(MAX_ROOM);
    let mut values = Vec::with_capacity(room);
    let mut levels = Vec::with_capacity(if nullable { room } else { 0 });
    let (records, _, _) =
        reader.read_records(rows, nullable.then_some(&mut levels), None, &mut values)?;
    let (mut more_values, mut more_levels) = (Vec::new(), Vec::new());
    let (more, _, _) = reader.read_records(
        1,
        nullable.then_some(&mut more_levels),
        None,
        &mut more_values,
    )?;
    Ok((values, levels, records + more))
}

/// Walks a column's rows: `Some(index into the values)` for a value, `None` for a null.
struct Rows<'a> {
    levels: Option<&'a [i16]>,
    max: i16,
    next_value: usize,
}

impl Rows<'_> {
    fn value(&mut self, row: usize) -> Option<usize> {
        match self.levels {
            Some(levels) if levels.get(row).is_none_or(|&l| l < self.max) => None,
            _ => {
                self.next_value += 1;
                Some(self.next_value - 1)
            }
        }
    }
}

/// The most rows of room made ahead from a row group's own count (a file can claim any):
/// more than a Spark or DuckDB row group holds, so their groups are read without regrowing.
const MAX_ROOM: usize = 1 << 20;

/// Reads row group `g` onto `chunk`; an error is (row within the group, reason), or (None, reason) for a
/// group the Parquet reader cannot decode.
fn read_group(
    reader: &SerializedFileReader<std::fs::File>,
    g: usize,
    layout: Layout,
    chunk: &mut Chunk,
) -> Result<(), (Option<u64>, String)> {
    let group = reader.get_row_group(g).map_err(|e| (None, e.to_string()))?;
    let rows = usize::try_from(group.metadata().num_rows().max(0)).unwrap_or(0);
    let read = |i: usize| column(group.as_ref(), i, rows).map_err(|e| (None, e));
    let (members, member_levels) = read(layout.member)?;
    let (stores, store_levels) = read(layout.store)?;
    // Integer store ids, written in decimal once per row group.
    let decimal: Vec<String> = match &stores {
        // An integer marked unsigned holds values up to 2³² − 1 (2⁶⁴ − 1) in its bits.
        Values::Int32(values) if layout.unsigned_store => {
            values.iter().map(|&v| (v as u32).to_string()).collect()
        }
        Values::Int64(values) if layout.unsigned_store => {
            values.iter().map(|&v| (v as u64).to_string()).collect()
        }
        Values::Int32(values) => values.iter().map(|v| v.to_string()).collect(),
        Values::Int64(values) => values.iter().map(|v| v.to_string()).collect(),
        _ => Vec::new(),
    };
    let (times, time_levels) = read(layout.at)?;
    let (spends, spend_levels) = read(layout.spend)?;
    let max = |i: usize| group.metadata().column(i).column_descr().max_def_level();
    fn walker(levels: &Option<Vec<i16>>, max: i16) -> Rows<'_> {
        Rows {
            levels: levels.as_deref(),
            max,
            next_value: 0,
        }
    }
    let (mut m_rows, mut s_rows, mut t_rows, mut p_rows) = (
        walker(&member_levels, max(layout.member)),
        walker(&store_levels, max(layout.store)),
        walker(&time_levels, max(layout.at)),
        walker(&spend_levels, max(layout.spend)),
    );
    // Visits whose members are numbered a batch later, their slots fetched meanwhile.
    let mut pending: Vec<(Visit<'_>, u64)> = Vec::with_capacity(BATCH);
    for row in 0..rows {
        let fail = |reason: String| (Some(row as u64), reason);
        let member = match (m_rows.value(row), &members) {
            (None, _) => None,
            (Some(v), Values::Text(values)) => {
                let id = values
                    .get(v)
                    .ok_or_else(|| fail("member_id is missing".into()))?;
                let id = std::str::from_utf8(id.data())
                    .map_err(|e| fail(format!("member_id is not UTF-8: {e}")))?;
                if id.len() > MAX_MEMBER_ID_BYTES {
                    return Err(fail(format!(
                        "member_id of {} bytes is longer than {MAX_MEMBER_ID_BYTES}",
                        id.len()
                    )));
                }
                (!id.is_empty()).then_some(id)
            }
            _ => None,
        };
        let store: &str = match (s_rows.value(row), &stores) {
            (None, _) => return Err(fail("store_id is null".into())),
            (Some(v), Values::Text(values)) => {
                let id = values
                    .get(v)
                    .ok_or_else(|| fail("store_id is missing".into()))?;
                std::str::from_utf8(id.data())
                    .map_err(|e| fail(format!("store_id is not UTF-8: {e}")))?
            }
            (Some(v), Values::Int32(_) | Values::Int64(_)) => decimal
                .get(v)
                .ok_or_else(|| fail("store_id is missing".into()))?,
            _ => return Err(fail("store_id has an unexpected type".into())),
        };
        if store.is_empty() {
            return Err(fail("store_id is empty".into()));
        }
        if store.len() > MAX_STORE_ID_BYTES {
            return Err(fail(format!(
                "store_id of {} bytes is longer than {MAX_STORE_ID_BYTES}",
                store.len()
            )));
        }
        let at_unix = match (t_rows.value(row), &times, layout.time) {
            (None, _, _) => return Err(fail("visited_at is null".into())),
            (Some(v), Values::Int64(values), TimeColumn::Int64 { per_second }) => values
                .get(v)
                .ok_or_else(|| fail("visited_at is missing".into()))?
                .div_euclid(per_second),
            (Some(v), Values::Int96(values), TimeColumn::Int96) => values
                .get(v)
                .ok_or_else(|| fail("visited_at is missing".into()))?
                .to_seconds(),
            _ => return Err(fail("visited_at has an unexpected type".into())),
        };
        if !crate::is_plausible(at_unix) {
            return Err(fail(format!(
                "visited_at (Unix second {at_unix}) is outside the years 2000 to 2199 (a till \
                 clock set wrong?)"
            )));
        }
        let spend_minor = match (p_rows.value(row), &spends) {
            (None, _) => return Err(fail("spend_minor is null".into())),
            (Some(v), Values::Int32(values)) => values
                .get(v)
                .map(|&s| i64::from(s))
                .ok_or_else(|| fail("spend_minor is missing".into()))?,
            (Some(v), Values::Int64(values)) => *values
                .get(v)
                .ok_or_else(|| fail("spend_minor is missing".into()))?,
            _ => return Err(fail("spend_minor has an unexpected type".into())),
        };
        if spend_minor < 0 {
            return Err(fail(format!(
                "spend_minor {spend_minor} is negative: a refund is not a visit"
            )));
        }
        let hash = member.map_or(0, |m| chunk.touch_member(m));
        let visit = Visit {
            member,
            store,
            at_unix,
            spend_minor,
        };
        pending.push((visit, hash));
        if pending.len() == BATCH {
            chunk.number(&mut pending);
        }
    }
    chunk.number(&mut pending);
    Ok(())
}

fn write_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> ParquetError + '_ {
    move |e| ParquetError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Writes one Parquet file of `schema` whose columns, in order, are filled by `columns`
/// (each gets a typed column writer and writes its batch).
fn write_file(
    path: &Path,
    schema: &str,
    mut columns: impl FnMut(
        usize,
        &mut parquet::file::writer::SerializedColumnWriter<'_>,
    ) -> parquet::errors::Result<()>,
) -> Result<(), ParquetError> {
    let file = std::fs::File::create(path).map_err(|source| ParquetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let schema = Arc::new(parse_message_type(schema).map_err(write_error(path))?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(write_error(path))?;
    let mut group = writer.next_row_group().map_err(write_error(path))?;
    let mut i = 0;
    while let Some(mut column) = group.next_column().map_err(write_error(path))? {
        columns(i, &mut column).map_err(write_error(path))?;
        column.close().map_err(write_error(path))?;
        i += 1;
    }
    group.close().map_err(write_error(path))?;
    writer.close().map_err(write_error(path))?;
    Ok(())
}

fn texts<'a>(values: impl Iterator<Item = &'a str>) -> Vec<ByteArray> {
    values
        .map(|s| ByteArray::from(s.as_bytes().to_vec()))
        .collect()
}

/// Writes a log's visits as Parquet (`member_id` text or null, `store_id` text, `visited_at`
/// a UTC timestamp in microseconds, `spend_minor` INT64), readable by [`read_parquet`],
/// DuckDB and Spark.
///
/// # Errors
/// [`ParquetError::Io`] or [`ParquetError::Format`] when the file cannot be written.
pub fn write_visits_parquet(log: &VisitLog, path: impl AsRef<Path>) -> Result<(), ParquetError> {
    let path = path.as_ref();
    let schema = "message visits {
        OPTIONAL BYTE_ARRAY member_id (STRING);
        REQUIRED BYTE_ARRAY store_id (STRING);
        REQUIRED INT64 visited_at (TIMESTAMP(MICROS,true));
        REQUIRED INT64 spend_minor;
    }";
    write_file(path, schema, |i, column| match i {
        0 => {
            let members: Vec<ByteArray> = texts(
                log.member()
                    .iter()
                    .filter(|&&m| m != ANONYMOUS)
                    .map(|&m| log.member_id(m)),
            );
            let levels: Vec<i16> = log
                .member()
                .iter()
                .map(|&m| i16::from(m != ANONYMOUS))
                .collect();
            column
                .typed::<ByteArrayType>()
                .write_batch(&members, Some(&levels), None)
                .map(drop)
        }
        1 => column
            .typed::<ByteArrayType>()
            .write_batch(
                &texts(log.store().iter().map(|&s| log.store_id(s))),
                None,
                None,
            )
            .map(drop),
        2 => {
            let micros: Vec<i64> = log.at().iter().map(|&t| t * 1_000_000).collect();
            column
                .typed::<Int64Type>()
                .write_batch(&micros, None, None)
                .map(drop)
        }
        _ => column
            .typed::<Int64Type>()
            .write_batch(log.spend(), None, None)
            .map(drop),
    })
}

/// Writes a report's tables as Parquet files in `dir`: `periods.parquet` (one row per
/// period, [`super::PeriodRow`]'s fields), `cohorts.parquet` (`cohort`, `k`, `members`: the
/// non-zero cells) and, when given, `stores.parquet` ([`StoreRow`]'s fields) and
/// `segments.parquet` (the columns of [`super::write_report_csv`]'s `segments.csv`, the
/// visits' instants as UTC timestamps). Returns the files written.
///
/// # Errors
/// [`ParquetError::Io`] or [`ParquetError::Format`] when a file cannot be written.
pub fn write_report_parquet(
    tables: ReportTables<'_>,
    dir: impl AsRef<Path>,
) -> Result<Vec<PathBuf>, ParquetError> {
    let (report, stores) = (tables.report, tables.stores);
    let dir = dir.as_ref();
    let mut written = Vec::new();
    let periods = dir.join("periods.parquet");
    let rows = &report.periods;
    let counts = |f: fn(&super::PeriodRow) -> u64| -> Vec<i64> {
        rows.iter()
            .map(|r| i64::try_from(f(r)).unwrap_or(i64::MAX))
            .collect()
    };
    write_file(
        &periods,
        "message periods {
            REQUIRED BYTE_ARRAY period (STRING);
            REQUIRED INT64 active; REQUIRED INT64 new; REQUIRED INT64 retained;
            REQUIRED INT64 returning; REQUIRED INT64 churned; REQUIRED INT64 visits;
            REQUIRED INT64 spend_minor; REQUIRED INT64 visits_with_spend;
            OPTIONAL INT64 avg_ticket_minor;
        }",
        |i, column| {
            let int =
                |values: Vec<i64>,
                 column: &mut parquet::file::writer::SerializedColumnWriter<'_>| {
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, None, None)
                        .map(drop)
                };
            match i {
                0 => column
                    .typed::<ByteArrayType>()
                    .write_batch(&texts(rows.iter().map(|r| r.period.as_str())), None, None)
                    .map(drop),
                1 => int(counts(|r| r.active), column),
                2 => int(counts(|r| r.new), column),
                3 => int(counts(|r| r.retained), column),
                4 => int(counts(|r| r.returning), column),
                5 => int(counts(|r| r.churned), column),
                6 => int(counts(|r| r.visits), column),
                7 => int(rows.iter().map(|r| r.spend_minor).collect(), column),
                8 => int(counts(|r| r.visits_with_spend), column),
                _ => {
                    let values: Vec<i64> = rows.iter().filter_map(|r| r.avg_ticket_minor).collect();
                    let levels: Vec<i16> = rows
                        .iter()
                        .map(|r| i16::from(r.avg_ticket_minor.is_some()))
                        .collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)
                        .map(drop)
                }
            }
        },
    )?;
    written.push(periods);

    let cohorts = dir.join("cohorts.parquet");
    let cells: Vec<(&str, i64, i64)> = super::export::nonzero_cells(report)
        .map(|(cohort, k, n)| (cohort, k as i64, i64::try_from(n).unwrap_or(i64::MAX)))
        .collect();
    write_file(
        &cohorts,
        "message cohorts {
            REQUIRED BYTE_ARRAY cohort (STRING); REQUIRED INT64 k; REQUIRED INT64 members;
        }",
        |i, column| match i {
            0 => column
                .typed::<ByteArrayType>()
                .write_batch(&texts(cells.iter().map(|c| c.0)), None, None)
                .map(drop),
            1 => column
                .typed::<Int64Type>()
                .write_batch(&cells.iter().map(|c| c.1).collect::<Vec<_>>(), None, None)
                .map(drop),
            _ => column
                .typed::<Int64Type>()
                .write_batch(&cells.iter().map(|c| c.2).collect::<Vec<_>>(), None, None)
                .map(drop),
        },
    )?;
    written.push(cohorts);

    if let Some(stores) = stores {
        let path = dir.join("stores.parquet");
        write_file(
            &path,
            "message stores {
                REQUIRED BYTE_ARRAY store (STRING); REQUIRED INT64 visits; REQUIRED INT64 members;
                OPTIONAL INT64 spend_minor; OPTIONAL INT64 avg_ticket_minor;
            }",
            |i, column| {
                let optional = |f: fn(&StoreRow) -> Option<i64>,
                                column: &mut parquet::file::writer::SerializedColumnWriter<'_>| {
                    let values: Vec<i64> = stores.iter().filter_map(f).collect();
                    let levels: Vec<i16> = stores.iter().map(|s| i16::from(f(s).is_some())).collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)
                        .map(drop)
                };
                let count = |f: fn(&StoreRow) -> u64| -> Vec<i64> {
                    stores
                        .iter()
                        .map(|s| i64::try_from(f(s)).unwrap_or(i64::MAX))
                        .collect()
                };
                match i {
                    0 => column
                        .typed::<ByteArrayType>()
                        .write_batch(&texts(stores.iter().map(|s| s.store.as_str())), None, None)
                        .map(drop),
                    1 => column
                        .typed::<Int64Type>()
                        .write_batch(&count(|s| s.visits), None, None)
                        .map(drop),
                    2 => column
                        .typed::<Int64Type>()
                        .write_batch(&count(|s| s.members), None, None)
                        .map(drop),
                    3 => optional(|s| s.spend_minor, column),
                    _ => optional(|s| s.avg_ticket_minor, column),
                }
            },
        )?;
        written.push(path);
    }
    if let Some(segments) = tables.segments {
        let path = dir.join("segments.parquet");
        write_file(
            &path,
            "message segments {
                REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED BYTE_ARRAY segment (STRING);
                REQUIRED INT32 r; REQUIRED INT32 f; REQUIRED INT32 m;
                REQUIRED DOUBLE recency_days; REQUIRED INT64 visits;
                REQUIRED INT64 first_visit (TIMESTAMP(MICROS,true));
                REQUIRED INT64 last_visit (TIMESTAMP(MICROS,true));
                REQUIRED INT64 spend_minor;
            }",
            |i, column| {
                let micros = |t: i64| t.saturating_mul(1_000_000);
                match i {
                    0 => column
                        .typed::<ByteArrayType>()
                        .write_batch(
                            &texts(segments.iter().map(|s| s.summary.member.as_str())),
                            None,
                            None,
                        )
                        .map(drop),
                    1 => column
                        .typed::<ByteArrayType>()
                        .write_batch(
                            &texts(segments.iter().map(|s| s.segment.as_str())),
                            None,
                            None,
                        )
                        .map(drop),
                    2..=4 => {
                        let score: Vec<i32> = segments
                            .iter()
                            .map(|s| i32::from([s.r, s.f, s.m][i - 2]))
                            .collect();
                        column
                            .typed::<Int32Type>()
                            .write_batch(&score, None, None)
                            .map(drop)
                    }
                    5 => column
                        .typed::<DoubleType>()
                        .write_batch(
                            &segments.iter().map(|s| s.recency_days).collect::<Vec<_>>(),
                            None,
                            None,
                        )
                        .map(drop),
                    _ => {
                        let values: Vec<i64> = segments
                            .iter()
                            .map(|s| match i {
                                6 => i64::try_from(s.summary.visits).unwrap_or(i64::MAX),
                                7 => micros(s.summary.first_visit),
                                8 => micros(s.summary.last_visit),
                                _ => s.summary.spend_minor,
                            })
                            .collect();
                        column
                            .typed::<Int64Type>()
                            .write_batch(&values, None, None)
                            .map(drop)
                    }
                }
            },
        )?;
        written.push(path);
    }
    Ok(written)
}
