//! Visit CSV import and the report on whatever it accepts: never panics, and the defining
//! identity active = new + retained + returning holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::analytics::{CsvMode, Granularity, analyze, read_csv};

fuzz_target!(|data: &[u8]| {
    let mut input = b"member_id,store_id,visited_at,spend_minor\n".to_vec();
    input.extend_from_slice(data);
    let _ = read_csv(&data[..], chrono_tz::UTC, CsvMode::Strict);
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
