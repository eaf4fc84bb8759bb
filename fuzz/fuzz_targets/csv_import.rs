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
        // Spend sums are i64; keep the arithmetic in range like a real log would be.
        if import.log.spend().iter().all(|s| s.unsigned_abs() < 1 << 40) && import.log.len() < 10_000 {
            let first = import.log.at().first().copied().unwrap_or(0);
            let last = import.log.at().last().copied().unwrap_or(0);
            // Day periods over centuries would be slow, not wrong: bound the span.
            let granularity = if last - first < 400 * 86_400 { Granularity::Day } else { Granularity::Month };
            if last - first < 200 * 366 * 86_400 {
                for row in analyze(&import.log, granularity).periods {
                    assert_eq!(row.active, row.new + row.retained + row.returning);
                }
            }
        }
    }
});
