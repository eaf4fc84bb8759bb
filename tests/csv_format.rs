//! The visit CSV as spreadsheets and exports really write it: columns in any order, extra
//! columns, quotes, commas and line breaks inside fields, a byte-order mark, CRLF; and
//! `read_csv(write_csv(log))` giving back the same log, whatever the member ids hold.

use o2okit::StoreId;
use o2okit::analytics::{
    CsvMode, HEADER, VisitLog, VisitLogBuilder, read_csv, read_csv_bytes, write_csv,
};
use proptest::prelude::*;

fn read(text: &str) -> VisitLog {
    read_csv(text.as_bytes(), chrono_tz::UTC, CsvMode::Strict)
        .unwrap_or_else(|e| panic!("{e}"))
        .log
}

/// Every visit as (member id, store id, Unix seconds, spend), in log order.
fn visits(log: &VisitLog) -> Vec<(Option<String>, String, i64, i64)> {
    (0..log.len())
        .map(|i| {
            let m = log.member()[i];
            let member = (m != o2okit::analytics::ANONYMOUS).then(|| log.member_id(m).to_owned());
            let store = log.store_id(log.store()[i]).to_owned();
            (member, store, log.at()[i], log.spend()[i])
        })
        .collect()
}

#[test]
fn columns_in_any_order_extra_columns_bom_crlf_and_quoted_fields() {
    let text = "\u{feff}spend_minor,note,visited_at,member_id,store_id\r\n\
                1200,\"first, and \"\"best\"\"\",2026-06-01T12:00:00+08:00,\"M-000,1\",7\r\n\
                800,\"two\nlines\",2026-06-02T12:00:00Z,,7\r\n";
    let log = read(text);
    assert_eq!(
        visits(&log),
        vec![
            (Some("M-000,1".into()), "7".into(), 1_780_286_400, 1_200),
            (None, "7".into(), 1_780_401_600, 800),
        ]
    );
}

#[test]
fn a_header_without_a_needed_column_is_refused_naming_it() {
    let err = read_csv(
        "member_id,store_id,when,spend_minor\nm,1,2026-06-01T00:00:00Z,1\n".as_bytes(),
        chrono_tz::UTC,
        CsvMode::Strict,
    )
    .unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.reason.contains("visited_at"), "{}", err.reason);
}

#[test]
fn member_ids_a_spreadsheet_would_run_as_formulas_are_written_as_text() {
    let mut b = VisitLogBuilder::new(chrono_tz::UTC);
    let at = "2026-06-01T00:00:00Z".parse().unwrap();
    for id in [
        "=HYPERLINK(\"x\")",
        "+1",
        "-1",
        "@SUM(A1)",
        "'quoted",
        "plain",
    ] {
        b.push(Some(id), StoreId(1), at, 100);
    }
    let log = b.build();
    let mut out = Vec::new();
    write_csv(&log, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for line in text.lines().skip(1) {
        let first = line.trim_start_matches('"').chars().next().unwrap();
        assert!(
            !matches!(first, '=' | '+' | '-' | '@'),
            "a cell starts a formula: {line}"
        );
    }
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("''quoted"), "{text}");
    assert_eq!(visits(&read(&text)), visits(&log));
}

proptest! {
    #[test]
    fn read_csv_of_write_csv_is_the_same_log(
        rows in prop::collection::vec(
            (
                prop::option::of("[a-zA-Z0-9 ,\"\\n\\r'=+@\\-\u{4e00}-\u{4e10}]{1,24}"),
                // Store ids are text too; spaces at either end are not part of one.
                "[a-zA-Z0-9,\"'=+@\\-\u{4e00}-\u{4e10}]([a-zA-Z0-9 ,\"\\n'=+@\\-\u{4e00}-\u{4e10}]{0,10}[a-zA-Z0-9,\"'=+@\\-\u{4e00}-\u{4e10}])?",
                946_684_800i64..7_258_118_399,
                0i64..i64::MAX,
            ),
            0..40,
        ),
    ) {
        let mut b = VisitLogBuilder::new(chrono_tz::UTC);
        for (member, store, at, spend) in &rows {
            let at = chrono::DateTime::from_timestamp(*at, 0).unwrap();
            b.push_at(member.as_deref(), store, at, *spend);
        }
        let log = b.build();
        let mut out = Vec::new();
        write_csv(&log, &mut out).unwrap();
        let again = read_csv(&out[..], chrono_tz::UTC, CsvMode::Strict)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out)))
            .log;
        prop_assert_eq!(visits(&again), visits(&log));
        // Records split across reads (a 7-byte buffer) read the same.
        let small = std::io::BufReader::with_capacity(7, &out[..]);
        let split = read_csv(small, chrono_tz::UTC, CsvMode::Strict).unwrap().log;
        prop_assert_eq!(visits(&split), visits(&log));
        // And the parallel reader, on three threads.
        let parallel = read_csv_bytes(&out, chrono_tz::UTC, CsvMode::Strict, 3).unwrap().log;
        prop_assert_eq!(visits(&parallel), visits(&log));
    }
}

#[test]
fn store_ids_are_text_kept_as_written() {
    let text = "member_id,store_id,visited_at,spend_minor\n\
                M-1,S016,2026-06-01T12:00:00Z,100\n\
                M-2,007,2026-06-01T12:00:00Z,100\n\
                M-3,7,2026-06-01T12:00:00Z,100\n\
                M-4, 7 ,2026-06-01T12:00:00Z,100\n\
                M-5,上海 南京路,2026-06-01T12:00:00Z,100\n\
                M-6,\"S,1\",2026-06-01T12:00:00Z,100\n\
                M-7,'=1+1,2026-06-01T12:00:00Z,100\n";
    let log = read(text);
    let stores: Vec<&str> = log.store().iter().map(|&s| log.store_id(s)).collect();
    // 007 and 7 are two stores; spaces around an id are not part of it; the formula guard
    // is removed.
    assert_eq!(
        stores,
        ["S016", "007", "7", "7", "上海 南京路", "S,1", "=1+1"]
    );
    assert_eq!(log.store_count(), 6);
    assert_eq!(log.store_index("7"), Some(2));
    assert_eq!(log.store_index("07"), None);
    let mut out = Vec::new();
    write_csv(&log, &mut out).unwrap();
    let written = String::from_utf8(out).unwrap();
    assert!(
        written.contains(",'=1+1,") && written.contains("\"S,1\""),
        "{written}"
    );
    assert_eq!(visits(&read(&written)), visits(&log));
    for bad in ["", "  ", "'"] {
        let text = format!("{}\nM,{bad},2026-06-01T12:00:00Z,1\n", HEADER);
        let err = read_csv(text.as_bytes(), chrono_tz::UTC, CsvMode::Strict).unwrap_err();
        assert_eq!((err.line, err.reason.as_str()), (2, "store_id is empty"));
    }
    let long = format!("{}\nM,{},2026-06-01T12:00:00Z,1\n", HEADER, "S".repeat(257));
    let err = read_csv(long.as_bytes(), chrono_tz::UTC, CsvMode::Strict).unwrap_err();
    assert!(err.reason.contains("longer than 256"), "{}", err.reason);
}
