//! Visit CSV import and the report on whatever it accepts: never panics, the parallel reader
//! reads exactly what the stream reader reads (same visits, members, errors and lines), and
//! the defining identity active = new + retained + returning holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::analytics::{CsvError, CsvImport, CsvMode, Granularity, analyze, read_csv, read_csv_bytes};

/// Everything a read gives, comparable.
fn outcome(read: Result<CsvImport, CsvError>) -> Result<(Vec<(u32, u32, i64, i64)>, Vec<String>, Vec<String>, Vec<CsvError>), CsvError> {
    read.map(|import| {
        let log = &import.log;
        let rows = (0..log.len()).map(|i| (log.member()[i], log.store()[i], log.at()[i], log.spend()[i])).collect();
        let members = (0..log.member_count() as u32).map(|m| log.member_id(m).to_owned()).collect();
        let stores = (0..log.store_count() as u32).map(|s| log.store_id(s).to_owned()).collect();
        (rows, members, stores, import.skipped)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = b"member_id,store_id,visited_at,spend_minor\n".to_vec();
    input.extend_from_slice(data);
    let strict = outcome(read_csv(&data[..], chrono_tz::UTC, CsvMode::Strict));
    let skipping = outcome(read_csv(&input[..], chrono_tz::UTC, CsvMode::SkipMalformed));
    for threads in [1, 3] {
        assert_eq!(outcome(read_csv_bytes(data, chrono_tz::UTC, CsvMode::Strict, threads)), strict);
        assert_eq!(outcome(read_csv_bytes(&input, chrono_tz::UTC, CsvMode::SkipMalformed, threads)), skipping);
    }
    if let Ok(import) = read_csv(&input[..], chrono_tz::America::New_York, CsvMode::SkipMalformed) {
        if import.log.len() < 10_000 {
            let first = import.log.at().first().copied().unwrap_or(0);
            let last = import.log.at().last().copied().unwrap_or(0);
            let granularity = if last - first < 400 * 86_400 { Granularity::Day } else { Granularity::Month };
            // The report bounds itself (years 2000 to 2199, checked sums, cohort cells): an
            // error is fine, a panic or an abort is not.
            if let Ok(report) = analyze(&import.log, granularity) {
                for row in report.periods {
                    assert_eq!(row.active, row.new + row.retained + row.returning);
                }
            }
        }
    }
});
