//! Visits in Parquet (the `parquet` feature): written and read back the same, a folder of
//! files read as one log, and every bad file or row refused with a typed error naming it.

use o2okit::StoreId;
use o2okit::analytics::*;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

fn ts(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// Every visit as (member id, store id, Unix seconds, spend), sorted: the same visits
/// whatever order equal instants came in.
fn visits(log: &VisitLog) -> Vec<(Option<String>, String, i64, i64)> {
    let mut rows: Vec<_> = (0..log.len())
        .map(|i| {
            let m = log.member()[i];
            (
                (m != ANONYMOUS).then(|| log.member_id(m).to_owned()),
                log.store_id(log.store()[i]).to_owned(),
                log.at()[i],
                log.spend()[i],
            )
        })
        .collect();
    rows.sort();
    rows
}

fn generated() -> VisitLog {
    synthetic::generate(&synthetic::SyntheticParams {
        members: 3_000,
        stores: 9,
        start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        months: 8,
        zone: chrono_tz::Asia::Shanghai,
        seed: 3,
    })
}

#[test]
fn a_log_written_as_parquet_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
    b.push_at(Some("M-1"), "S016", ts("2025-01-31T16:00:00Z"), 1_200);
    b.push_at(None, "007", ts("2025-02-01T03:00:00Z"), 0);
    b.push_at(Some("会员 7"), "7", ts("2025-02-01T03:00:00Z"), 99);
    b.push_at(Some("=1+1"), "上海 南京路店", ts("2025-03-01T00:00:00Z"), 5);
    let small = b.build();
    let log = generated();
    for (name, log) in [("small", &small), ("generated", &log)] {
        let path = dir.path().join(format!("{name}.parquet"));
        write_visits_parquet(log, &path).unwrap();
        for threads in [1, 3] {
            let back = read_parquet(&path, chrono_tz::Asia::Shanghai, threads).unwrap();
            // Same visits in the same order (one file, one row group: file order).
            assert_eq!(back.len(), log.len());
            assert_eq!(visits(&back), visits(log));
            assert_eq!(back.at(), log.at());
            for granularity in [Granularity::Month, Granularity::Week] {
                assert_eq!(
                    analyze(&back, granularity).unwrap(),
                    analyze(log, granularity).unwrap()
                );
            }
            assert_eq!(store_report(&back), store_report(log));
        }
    }
}

#[test]
fn a_folder_of_parts_reads_as_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    for i in 0..4 {
        let part = log.partition(Partition::new(i, 4).unwrap());
        write_visits_parquet(&part, dir.path().join(format!("part-{i}.parquet"))).unwrap();
    }
    // Not Parquet, not read.
    std::fs::write(dir.path().join("README.txt"), "visits by member hash").unwrap();
    let back = read_parquet(dir.path(), chrono_tz::Asia::Shanghai, 0).unwrap();
    assert_eq!(visits(&back), visits(&log));
    assert_eq!(
        analyze(&back, Granularity::Month).unwrap(),
        analyze(&log, Granularity::Month).unwrap()
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_parquet(empty.path(), chrono_tz::UTC, 1),
        Err(ParquetError::Empty { .. })
    ));
}

/// A Parquet file of the given schema, one row group, columns filled in order.
fn write_raw(
    path: &std::path::Path,
    schema: &str,
    fill: impl Fn(usize, &mut parquet::file::writer::SerializedColumnWriter<'_>),
) {
    let file = std::fs::File::create(path).unwrap();
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let mut writer =
        SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build()))
            .unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        fill(i, &mut column);
        column.close().unwrap();
        i += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

fn texts(values: &[&str]) -> Vec<ByteArray> {
    values.iter().map(|v| ByteArray::from(*v)).collect()
}

#[test]
fn integer_store_ids_millisecond_times_and_int32_spend_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.parquet");
    write_raw(
        &path,
        "message v { REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED INT32 store_id;
                     REQUIRED INT64 visited_at (TIMESTAMP(MILLIS,true)); REQUIRED INT32 spend_minor;
                     OPTIONAL BYTE_ARRAY note (STRING); }",
        |i, c| match i {
            0 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["A", ""]), None, None)
                    .unwrap();
            }
            1 => {
                c.typed::<Int32Type>()
                    .write_batch(&[7, 42], None, None)
                    .unwrap();
            }
            2 => {
                c.typed::<Int64Type>()
                    .write_batch(&[1_767_225_600_999, 1_767_225_601_000], None, None)
                    .unwrap();
            }
            3 => {
                c.typed::<Int32Type>()
                    .write_batch(&[500, 0], None, None)
                    .unwrap();
            }
            _ => {
                c.typed::<ByteArrayType>()
                    .write_batch(&[], Some(&[0, 0]), None)
                    .unwrap();
            }
        },
    );
    let log = read_parquet(&path, chrono_tz::UTC, 1).unwrap();
    assert_eq!(
        visits(&log),
        [
            // An empty member id is a walk-in, as in CSV.
            (None, "42".into(), 1_767_225_601, 0),
            (Some("A".into()), "7".into(), 1_767_225_600, 500),
        ]
    );
    let mut b = VisitLogBuilder::new(chrono_tz::UTC);
    b.push(Some("A"), StoreId(7), ts("2026-01-01T00:00:00Z"), 500);
    assert_eq!(log.store_id(0), b.build().store_id(0));
}

#[test]
fn unsigned_store_ids_are_read_whole_and_nested_fields_do_not_stand_in_for_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.parquet");
    // `extra.member_id` comes first and has the leaf name of a visit column: it must not be taken.
    write_raw(
        &path,
        "message v { REQUIRED group extra { REQUIRED BYTE_ARRAY member_id (STRING); }
                     REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED INT32 store_id (INTEGER(32,false));
                     REQUIRED INT64 visited_at (TIMESTAMP(MICROS,true)); REQUIRED INT64 spend_minor; }",
        |i, c| match i {
            0 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["decoy"]), None, None)
                    .unwrap();
            }
            1 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["M-1"]), None, None)
                    .unwrap();
            }
            2 => {
                // 4,000,000,000 in an unsigned INT32's bits.
                c.typed::<Int32Type>()
                    .write_batch(&[4_000_000_000u32 as i32], None, None)
                    .unwrap();
            }
            3 => {
                c.typed::<Int64Type>()
                    .write_batch(&[1_767_225_600_000_000], None, None)
                    .unwrap();
            }
            _ => {
                c.typed::<Int64Type>()
                    .write_batch(&[250], None, None)
                    .unwrap();
            }
        },
    );
    let log = read_parquet(&path, chrono_tz::UTC, 1).unwrap();
    assert_eq!(
        visits(&log),
        [(Some("M-1".into()), "4000000000".into(), 1_767_225_600, 250)]
    );
    // The same for 64 bits: 2⁶³ + 5 is not a negative number.
    write_raw(
        &path,
        "message v { REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED INT64 store_id (INTEGER(64,false));
                     REQUIRED INT64 visited_at (TIMESTAMP(MICROS,true)); REQUIRED INT64 spend_minor; }",
        |i, c| match i {
            0 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["M-1"]), None, None)
                    .unwrap();
            }
            1 => {
                c.typed::<Int64Type>()
                    .write_batch(&[((1u64 << 63) + 5) as i64], None, None)
                    .unwrap();
            }
            2 => {
                c.typed::<Int64Type>()
                    .write_batch(&[1_767_225_600_000_000], None, None)
                    .unwrap();
            }
            _ => {
                c.typed::<Int64Type>()
                    .write_batch(&[250], None, None)
                    .unwrap();
            }
        },
    );
    let log = read_parquet(&path, chrono_tz::UTC, 1).unwrap();
    assert_eq!(log.store_id(0), "9223372036854775813");
}

#[test]
fn bad_files_and_rows_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_visits_parquet(&generated(), &good).unwrap();

    // Not Parquet at all, and a file cut short.
    let text = dir.path().join("text.parquet");
    std::fs::write(&text, "member_id,store_id\n").unwrap();
    assert!(matches!(
        read_parquet(&text, chrono_tz::UTC, 1),
        Err(ParquetError::Format { .. })
    ));
    let bytes = std::fs::read(&good).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 9, 12] {
        let short = dir.path().join("short.parquet");
        std::fs::write(&short, &bytes[..cut]).unwrap();
        let err = read_parquet(&short, chrono_tz::UTC, 2).unwrap_err();
        assert!(matches!(err, ParquetError::Format { .. }), "{err}");
    }
    // A damaged page in the middle: an error, never a panic.
    let mut damaged = bytes.clone();
    for b in &mut damaged[bytes.len() / 3..bytes.len() / 3 + 64] {
        *b ^= 0x5a;
    }
    let path = dir.path().join("damaged.parquet");
    std::fs::write(&path, &damaged).unwrap();
    assert!(read_parquet(&path, chrono_tz::UTC, 2).is_err());
    assert!(matches!(
        read_parquet(dir.path().join("missing.parquet"), chrono_tz::UTC, 1),
        Err(ParquetError::Io { .. })
    ));

    // A missing column, a local time without a zone.
    let path = dir.path().join("schema.parquet");
    write_raw(
        &path,
        "message v { REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED INT64 visited_at (TIMESTAMP(MICROS,true)); REQUIRED INT64 spend_minor; }",
        |i, c| match i {
            0 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["A"]), None, None)
                    .unwrap();
            }
            _ => {
                c.typed::<Int64Type>()
                    .write_batch(&[1], None, None)
                    .unwrap();
            }
        },
    );
    let err = read_parquet(&path, chrono_tz::UTC, 1).unwrap_err();
    assert!(err.to_string().contains("no store_id column"), "{err}");
    write_raw(
        &path,
        "message v { REQUIRED BYTE_ARRAY member_id (STRING); REQUIRED BYTE_ARRAY store_id (STRING);
                     REQUIRED INT64 visited_at (TIMESTAMP(MICROS,false)); REQUIRED INT64 spend_minor; }",
        |i, c| match i {
            0 | 1 => {
                c.typed::<ByteArrayType>().write_batch(&texts(&["A"]), None, None).unwrap();
            }
            _ => {
                c.typed::<Int64Type>().write_batch(&[1], None, None).unwrap();
            }
        },
    );
    let err = read_parquet(&path, chrono_tz::UTC, 1).unwrap_err();
    assert!(err.to_string().contains("without a zone"), "{err}");

    // Rows breaking a rule, each named by its row.
    let schema = "message v { OPTIONAL BYTE_ARRAY member_id (STRING); OPTIONAL BYTE_ARRAY store_id (STRING);
                  REQUIRED INT64 visited_at (TIMESTAMP(MICROS,true)); REQUIRED INT64 spend_minor; }";
    let good_time = 1_767_225_600_000_000i64;
    let long = "S".repeat(257);
    let cases: [(&str, Option<&str>, i64, i64, &str); 5] = [
        ("store_id null", None, good_time, 1, "store_id is null"),
        (
            "store_id empty",
            Some(""),
            good_time,
            1,
            "store_id is empty",
        ),
        (
            "store_id long",
            Some(long.as_str()),
            good_time,
            1,
            "longer than 256",
        ),
        ("1970", Some("S1"), 0, 1, "outside the years 2000 to 2199"),
        ("refund", Some("S1"), good_time, -5, "negative"),
    ];
    for (name, store, at, spend, reason) in cases {
        write_raw(&path, schema, |i, c| match i {
            0 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&["A", "B"]), Some(&[1, 1]), None)
                    .unwrap();
            }
            1 => {
                let (values, levels) = match store {
                    Some(s) => (texts(&["S0", s]), vec![1, 1]),
                    None => (texts(&["S0"]), vec![1, 0]),
                };
                c.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&levels), None)
                    .unwrap();
            }
            2 => {
                c.typed::<Int64Type>()
                    .write_batch(&[good_time, at], None, None)
                    .unwrap();
            }
            _ => {
                c.typed::<Int64Type>()
                    .write_batch(&[1, spend], None, None)
                    .unwrap();
            }
        });
        match read_parquet(&path, chrono_tz::UTC, 1) {
            Err(ParquetError::Row {
                row, reason: got, ..
            }) => {
                assert_eq!(row, 2, "{name}");
                assert!(got.contains(reason), "{name}: {got}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn report_tables_are_written_as_parquet_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let report = analyze(&log, Granularity::Month).unwrap();
    let stores = store_report(&log);
    let last = chrono::DateTime::from_timestamp(log.at()[log.len() - 1], 0).unwrap();
    let segments = rfm(&log, last);
    let mut tables = ReportTables::new(&report);
    (tables.stores, tables.segments) = (Some(&stores[..]), Some(&segments[..]));
    let files = write_report_parquet(tables, dir.path()).unwrap();
    assert_eq!(files.len(), 4);
    let csv = write_report_csv(tables, dir.path()).unwrap();
    assert_eq!(csv.len(), 4);
    // The periods file holds one row per period, the cohorts file one per non-zero cell.
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let rows = |name: &str| {
        let reader =
            SerializedFileReader::new(std::fs::File::open(dir.path().join(name)).unwrap()).unwrap();
        reader.metadata().file_metadata().num_rows() as usize
    };
    assert_eq!(rows("periods.parquet"), report.periods.len());
    let cells: usize = report
        .cohorts
        .iter()
        .map(|c| c.active.iter().filter(|&&n| n > 0).count())
        .sum();
    assert_eq!(rows("cohorts.parquet"), cells);
    assert_eq!(rows("stores.parquet"), stores.len());
    assert_eq!(rows("segments.parquet"), segments.len());
    // Each member's row as scored: id, segment, quintiles, visits, instants, spend.
    let reader = SerializedFileReader::new(
        std::fs::File::open(dir.path().join("segments.parquet")).unwrap(),
    )
    .unwrap();
    let read: Vec<String> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect();
    let first = &segments[0];
    assert!(
        read[0].contains(&format!("member_id: \"{}\"", first.summary.member)),
        "{}",
        read[0]
    );
    assert!(read[0].contains(&format!("segment: \"{}\"", first.segment.as_str())));
    assert!(read[0].contains(&format!("visits: {}", first.summary.visits)));
    assert!(read[0].contains(&format!("spend_minor: {}", first.summary.spend_minor)));
    let segments_csv = std::fs::read_to_string(dir.path().join("segments.csv")).unwrap();
    assert_eq!(segments_csv.lines().count(), segments.len() + 1);
    let periods_csv = std::fs::read_to_string(dir.path().join("periods.csv")).unwrap();
    assert_eq!(periods_csv.lines().count(), report.periods.len() + 1);
    assert!(periods_csv.starts_with("period,active,new,retained,returning,churned,visits,"));
}
