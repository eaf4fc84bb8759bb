//! A campaign's assignments CSV and the lift report over it: reading never panics, what is
//! read writes back to the same bytes' meaning, and the report's rows add up to the input
//! (or it says Overflow).
#![no_main]

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use o2okit::VisitEvent;
use o2okit::campaign::{
    ASSIGNMENTS_HEADER, LiftWindow, lift_report, read_assignments_csv, write_assignments_csv,
};

fuzz_target!(|data: &[u8]| {
    let _ = read_assignments_csv(data);
    let mut input = format!("{ASSIGNMENTS_HEADER}\n").into_bytes();
    input.extend_from_slice(data);
    let Ok(assignments) = read_assignments_csv(&input[..]) else {
        return;
    };
    let mut written = Vec::new();
    write_assignments_csv(&assignments, &mut written).unwrap();
    assert_eq!(read_assignments_csv(&written[..]).unwrap(), assignments);
    let from = DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap();
    let visits: Vec<VisitEvent> = assignments
        .iter()
        .enumerate()
        .map(|(i, a)| VisitEvent {
            member: Some(a.member),
            store: a.home_store,
            at: from + Duration::seconds(i as i64 * 3_600 - 7_200),
            spend_minor: u64::from(data.get(i).copied().unwrap_or(0)) << (i % 64),
            voucher: a.voucher,
            campaign: Some(a.campaign),
            discount_minor: i as u64,
        })
        .collect();
    let window = LiftWindow {
        from,
        until: from + Duration::days(28),
    };
    if let Ok(report) = lift_report(&assignments, &visits, window) {
        for row in report.rows.iter().filter(|r| r.store.is_none()) {
            let n = assignments
                .iter()
                .filter(|a| a.campaign == row.campaign)
                .count() as u64;
            assert_eq!(row.treatment.members + row.holdout.members, n);
            assert!(row.redeemed <= row.issued);
        }
    }
});
