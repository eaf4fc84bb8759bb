//! Visit analytics: exact figures on a hand-computed log, the defining identity on generated
//! logs, CSV errors, and the member, referral and campaign reports.

mod common;

use chrono::{DateTime, Utc};
use o2okit::analytics::*;
use o2okit::ledger::VisitEvent;
use o2okit::*;
use proptest::prelude::*;
use std::io::Cursor;

fn small(zone: chrono_tz::Tz) -> VisitLog {
    let file = std::fs::File::open("tests/data/visits_small.csv").unwrap();
    read_csv(std::io::BufReader::new(file), zone, CsvMode::Strict)
        .unwrap()
        .log
}

fn row(r: &PeriodRow) -> (&str, [u64; 6], i64, Option<i64>) {
    (
        r.period.as_str(),
        [
            r.active,
            r.new,
            r.retained,
            r.returning,
            r.churned,
            r.visits,
        ],
        r.spend_minor,
        r.avg_ticket_minor,
    )
}

#[test]
fn hand_computed_months_in_shanghai() {
    // tests/data/visits_small.csv, computed by hand on the Shanghai wall clock (UTC+8): the
    // walk-in at 2025-01-31T16:00Z and A's visit at 2025-02-01T00:00+08:00 are February;
    // C's visit at 2025-04-30T16:30Z is May.
    let report = analyze(&small(chrono_tz::Asia::Shanghai), Granularity::Month).unwrap();
    let rows: Vec<_> = report.periods.iter().map(row).collect();
    assert_eq!(
        rows,
        [
            ("2025-01", [2, 2, 0, 0, 0, 2], 3_000, Some(1_500)),
            ("2025-02", [2, 1, 1, 0, 1, 3], 3_500, Some(1_750)),
            ("2025-03", [1, 0, 0, 1, 2, 1], 1_500, Some(1_500)),
            ("2025-04", [1, 0, 0, 1, 1, 1], 2_500, Some(2_500)),
            ("2025-05", [1, 0, 0, 1, 1, 1], 800, Some(800)),
        ]
    );
    let cohorts: Vec<(&str, u64, &[u64])> = report
        .cohorts
        .iter()
        .map(|c| (c.cohort.as_str(), c.size, c.active.as_slice()))
        .collect();
    assert_eq!(
        cohorts,
        [
            // Rows end at the cohort's last active month (January's members were not seen in
            // May; nobody first came in March to May).
            ("2025-01", 2, &[2, 1, 1, 1][..]),
            ("2025-02", 1, &[1, 0, 0, 1][..]),
            ("2025-03", 0, &[][..]),
            ("2025-04", 0, &[][..]),
            ("2025-05", 0, &[][..]),
        ]
    );
}

#[test]
fn the_same_log_in_utc_moves_the_midnight_visits() {
    let report = analyze(&small(chrono_tz::UTC), Granularity::Month).unwrap();
    let rows: Vec<_> = report.periods.iter().map(row).collect();
    // In UTC the walk-in and A's "February midnight" visit fall on January 31, and C's
    // "May" visit on April 30.
    assert_eq!(rows[0], ("2025-01", [2, 2, 0, 0, 0, 4], 3_500, Some(1_166)));
    assert_eq!(rows[1], ("2025-02", [1, 1, 0, 0, 2, 1], 3_000, Some(3_000)));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3], ("2025-04", [2, 0, 0, 2, 1, 2], 3_300, Some(1_650)));
}

#[test]
fn weeks_and_days() {
    let log = small(chrono_tz::Asia::Shanghai);
    let weeks = analyze(&log, Granularity::Week).unwrap();
    assert_eq!(weeks.periods[0].period, "2025-W02");
    let total: u64 = weeks.periods.iter().map(|r| r.visits).sum();
    assert_eq!(total, 8);
    let days = analyze(&log, Granularity::Day).unwrap();
    assert_eq!(days.periods.first().unwrap().period, "2025-01-10");
    assert_eq!(days.periods.last().unwrap().period, "2025-05-01");
    assert_eq!(days.periods.len(), 112);
}

#[test]
fn per_store_reports_split_the_flow() {
    let log = small(chrono_tz::Asia::Shanghai);
    let stores = log.stores();
    assert_eq!(stores, ["1", "2"]);
    let visits: u64 = stores
        .iter()
        .map(|s| {
            analyze(&log.for_store(s), Granularity::Month)
                .unwrap()
                .periods
                .iter()
                .map(|r| r.visits)
                .sum::<u64>()
        })
        .sum();
    assert_eq!(visits, 8);
    let store_2 = analyze(&log.for_store("2"), Granularity::Month).unwrap();
    assert!(log.for_store("02").is_empty());
    // Store 2 saw the walk-in and A in February, B in March.
    assert_eq!(
        row(&store_2.periods[0]),
        ("2025-02", [1, 1, 0, 0, 0, 2], 500, Some(500))
    );
    assert_eq!(
        row(&store_2.periods[1]),
        ("2025-03", [1, 1, 0, 0, 1, 1], 1_500, Some(1_500))
    );
}

#[test]
fn malformed_rows_name_their_line_or_are_skipped_and_counted() {
    let csv = "member_id,store_id,visited_at,spend_minor\n\
               A,1,2025-01-01T10:00:00+08:00,100\n\
               B, ,2025-01-01T10:00:00+08:00,100\n\
               C,1,2025-01-01 10:00,100\n\
               D,1,2025-01-01T10:00:00+08:00,1.50\n\
               E,1,2025-01-01T10:00:00+08:00\n\
               F,1,2025-01-02T10:00:00+08:00,300\n";
    let zone = chrono_tz::Asia::Shanghai;
    let err = read_csv(Cursor::new(csv), zone, CsvMode::Strict).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.reason.contains("store_id"), "{err}");
    let import = read_csv(Cursor::new(csv), zone, CsvMode::SkipMalformed).unwrap();
    assert_eq!(import.log.len(), 2);
    let lines: Vec<usize> = import.skipped.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(import.skipped[1].reason.contains("visited_at"));
    assert!(import.skipped[2].reason.contains("spend_minor"));
    assert!(import.skipped[3].reason.contains("4 fields"));
    let bad_header = read_csv(
        Cursor::new("member,store,at,spend\n"),
        zone,
        CsvMode::Strict,
    )
    .unwrap_err();
    assert_eq!(bad_header.line, 1);
    assert_eq!(
        read_csv(Cursor::new(""), zone, CsvMode::Strict)
            .unwrap_err()
            .line,
        1
    );
}

#[test]
fn csv_round_trips_through_write_csv() {
    let log = small(chrono_tz::Asia::Shanghai);
    let mut out = Vec::new();
    write_csv(&log, &mut out).unwrap();
    let again = read_csv(Cursor::new(out), chrono_tz::Asia::Shanghai, CsvMode::Strict)
        .unwrap()
        .log;
    assert_eq!(
        analyze(&again, Granularity::Month).unwrap(),
        analyze(&log, Granularity::Month).unwrap()
    );
}

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn ledger_visits_feed_the_log() {
    let visit = |member: Option<u64>, at: &str, spend| VisitEvent {
        member: member.map(MemberId),
        store: StoreId(1),
        at: ts(at),
        spend_minor: spend,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    };
    let log = VisitLog::from_events(
        chrono_tz::Asia::Shanghai,
        &[
            visit(Some(7), "2025-03-02T02:00:00Z", 900),
            visit(None, "2025-03-01T02:00:00Z", 100),
            visit(Some(7), "2025-04-02T02:00:00Z", 1_100),
        ],
    );
    assert_eq!(log.member_count(), 1);
    assert_eq!(log.member_id(0), "7");
    assert!(log.at().is_sorted());
    let report = analyze(&log, Granularity::Month).unwrap();
    assert_eq!(
        row(&report.periods[1]),
        ("2025-04", [1, 0, 1, 0, 0, 1], 1_100, Some(1_100))
    );
}

#[test]
fn segments_lapsed_and_due() {
    let zone = chrono_tz::UTC;
    let mut b = VisitLogBuilder::new(zone);
    // "every14": every 14 days, last seen 20 days before as_of → due again.
    for i in 0..6 {
        b.push(
            Some("every14"),
            StoreId(1),
            ts("2025-01-01T12:00:00Z") + chrono::Duration::days(14 * i),
            1_000,
        );
    }
    // "gone": came 5 times in January, then nothing → a lapsed regular.
    for i in 0..5 {
        b.push(
            Some("gone"),
            StoreId(1),
            ts("2025-01-02T12:00:00Z") + chrono::Duration::days(i),
            5_000,
        );
    }
    b.push(Some("fresh"), StoreId(1), ts("2025-03-30T12:00:00Z"), 800);
    let log = b.build();
    let as_of = ts("2025-04-01T12:00:00Z"); // every14 last came 2025-03-12
    let due = due_again(&log, as_of, 1.3);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].summary.member, "every14");
    assert!((due[0].rhythm_days - 14.0).abs() < 1e-9);
    assert!((due[0].days_since_last - 20.0).abs() < 1e-9);
    let lapsed = lapsed_regulars(&log, 3, 30, as_of);
    let names: Vec<&str> = lapsed.iter().map(|s| s.member.as_str()).collect();
    assert_eq!(names, ["gone"]);
    let scores = rfm(&log, as_of);
    let score = |name: &str| {
        let s = scores.iter().find(|s| s.summary.member == name).unwrap();
        (s.r, s.f, s.segment)
    };
    // Quintiles among three members: the lowest value scores 1, the middle 2 (1 + 1·5/3),
    // the highest 4 (1 + 2·5/3).
    assert_eq!(score("fresh"), (4, 1, Segment::New));
    assert_eq!(score("every14"), (2, 4, Segment::AtRisk));
    assert_eq!(score("gone"), (1, 2, Segment::Lapsed));
}

#[test]
fn segments_export_one_row_per_member_as_scored() {
    let mut b = VisitLogBuilder::new(chrono_tz::UTC);
    b.push(Some("M-1"), StoreId(1), ts("2025-01-01T12:00:00Z"), 1_000);
    b.push(Some("M-1"), StoreId(1), ts("2025-02-01T12:00:30Z"), 3_000);
    // An id a spreadsheet would run as a formula is written guarded, as write_csv does.
    b.push(
        Some("=HYPERLINK(1)"),
        StoreId(2),
        ts("2025-03-01T08:00:00Z"),
        0,
    );
    b.push(None, StoreId(2), ts("2025-03-02T08:00:00Z"), 500);
    let log = b.build();
    let report = analyze(&log, Granularity::Month).unwrap();
    let scores = rfm(&log, ts("2025-03-03T00:00:00Z"));
    let dir = tempfile::tempdir().unwrap();
    let mut tables = ReportTables::new(&report);
    tables.segments = Some(&scores);
    let files = write_report_csv(tables, dir.path()).unwrap();
    assert_eq!(files.len(), 3);
    let text = std::fs::read_to_string(dir.path().join("segments.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "member_id,segment,r,f,m,recency_days,visits,first_visit,last_visit,spend_minor"
    );
    let expected: Vec<String> = scores
        .iter()
        .map(|s| {
            let member = if s.summary.member.starts_with('=') {
                format!("'{}", s.summary.member)
            } else {
                s.summary.member.clone()
            };
            format!(
                "{member},{},{},{},{},{:.3},{},{},{},{}",
                match s.segment {
                    Segment::New => "new",
                    Segment::Lapsed => "lapsed",
                    Segment::AtRisk => "at_risk",
                    Segment::Champions => "champions",
                    Segment::Loyal => "loyal",
                    _ => "regular",
                },
                s.r,
                s.f,
                s.m,
                s.recency_days,
                s.summary.visits,
                chrono::DateTime::from_timestamp(s.summary.first_visit, 0)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                chrono::DateTime::from_timestamp(s.summary.last_visit, 0)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                s.summary.spend_minor,
            )
        })
        .collect();
    assert_eq!(lines[1..], expected);
    // By hand: last visit 29 d 11 h 59 min 30 s before; of two members, the older last visit
    // scores R 1, two visits F 1 + 1·5/2 = 3, the larger spend M 3; R ≤ 2 and F ≥ 3: at risk.
    assert_eq!(
        lines[1],
        "M-1,at_risk,1,3,3,29.500,2,2025-01-01T12:00:00Z,2025-02-01T12:00:30Z,4000"
    );
    assert!(lines[2].starts_with("'=HYPERLINK(1),"), "{}", lines[2]);
}

#[test]
fn referrals_count_seeds_and_their_recruits() {
    let member = |id: u64, by: Option<u64>, at: &str| {
        let member = Member::new(
            MemberId(id),
            MerchantId(1),
            CardNumber::from_serial(id).unwrap(),
            StoreId(1),
            ts(at),
        );
        match by {
            Some(referrer) => member.referred_by(MemberId(referrer)),
            None => member,
        }
    };
    let members = [
        member(1, None, "2025-01-05T00:00:00Z"),
        member(2, Some(1), "2025-01-20T00:00:00Z"),
        member(3, Some(1), "2025-02-03T00:00:00Z"),
        member(4, Some(2), "2025-02-04T00:00:00Z"),
        member(5, None, "2025-02-05T00:00:00Z"),
    ];
    let report = referrals(&members, chrono_tz::Asia::Shanghai, Granularity::Month);
    assert_eq!(report.by_referrer, [(MemberId(1), 2), (MemberId(2), 1)]);
    assert_eq!((report.referred, report.seeds), (3, 2));
    assert!((report.per_seed - 1.5).abs() < 1e-12);
    assert_eq!(
        report.by_period,
        [("2025-01".to_owned(), 2, 1), ("2025-02".to_owned(), 3, 2)]
    );
}

#[test]
fn campaign_figures() {
    let issued = [
        (VoucherId(1), CampaignId(7)),
        (VoucherId(2), CampaignId(7)),
        (VoucherId(3), CampaignId(7)),
        (VoucherId(4), CampaignId(7)),
        (VoucherId(9), CampaignId(8)),
    ];
    let redemption = |voucher: u64, campaign: u32, spend, discount| VisitEvent {
        member: Some(MemberId(1)),
        store: StoreId(1),
        at: ts("2025-01-01T00:00:00Z"),
        spend_minor: spend,
        voucher: Some(VoucherId(voucher)),
        campaign: Some(CampaignId(campaign)),
        discount_minor: discount,
    };
    let visits = [
        redemption(1, 7, 10_000, 1_000),
        redemption(1, 7, 8_000, 1_000), // a multi-use voucher's second use
        redemption(3, 7, 5_000, 500),
    ];
    let rows = campaigns(&issued, &visits);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].campaign, rows[0].issued, rows[0].redeemed),
        (CampaignId(7), 4, 2)
    );
    assert!((rows[0].redemption_rate - 0.5).abs() < 1e-12);
    assert_eq!(
        (rows[0].spend_minor, rows[0].discount_minor),
        (23_000, 2_500)
    );
    assert_eq!((rows[1].issued, rows[1].redeemed), (1, 0));
}

fn arbitrary_log() -> impl Strategy<Value = Vec<(Option<u8>, u32, i64)>> {
    // Up to 300 visits of up to 20 members over ~3 years, some anonymous.
    proptest::collection::vec(
        (
            proptest::option::weighted(0.9, 0u8..20),
            0u32..100_000_000,
            -500i64..20_000,
        ),
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn active_is_new_plus_retained_plus_returning(
        visits in arbitrary_log(),
        zone in prop_oneof![Just(chrono_tz::Asia::Shanghai), Just(chrono_tz::America::New_York), Just(chrono_tz::UTC)],
        granularity in prop_oneof![Just(Granularity::Month), Just(Granularity::Week), Just(Granularity::Day)],
    ) {
        let mut b = VisitLogBuilder::new(zone);
        for (member, offset, spend) in &visits {
            let name = member.map(|m| format!("m{m}"));
            let at = ts("2024-01-01T00:00:00Z") + chrono::Duration::seconds(i64::from(*offset));
            b.push(name.as_deref(), StoreId(1), at, *spend);
        }
        let log = b.build();
        let report = analyze(&log, granularity).unwrap();
        let mut first_seen = 0;
        for (p, r) in report.periods.iter().enumerate() {
            prop_assert_eq!(r.active, r.new + r.retained + r.returning);
            if p == 0 {
                prop_assert_eq!(r.churned, 0);
            } else {
                let before = &report.periods[p - 1];
                // Everyone active before either stays (retained) or churns.
                prop_assert_eq!(before.active, r.retained + r.churned);
            }
            first_seen += r.new;
            prop_assert_eq!(report.cohorts[p].size, r.new);
            let cohort = &report.cohorts[p].active;
            prop_assert_eq!(cohort.first().copied().unwrap_or(0), r.new);
            // A row ends at the cohort's last active period: never a trailing zero.
            prop_assert_ne!(cohort.last().copied(), Some(0));
        }
        prop_assert_eq!(first_seen as usize, log.member_count());
        let visits_total: u64 = report.periods.iter().map(|r| r.visits).sum();
        prop_assert_eq!(visits_total as usize, visits.len());
        let spend_total: i64 = report.periods.iter().map(|r| r.spend_minor).sum();
        prop_assert_eq!(spend_total, visits.iter().map(|v| v.2).sum::<i64>());
        // Cohort cells add up to each period's active members.
        for p in 0..report.periods.len() {
            let from_cohorts: u64 = (0..=p)
                .map(|c| report.cohorts[c].active.get(p - c).copied().unwrap_or(0))
                .sum();
            prop_assert_eq!(from_cohorts, report.periods[p].active);
        }
    }
}

#[test]
fn a_log_cut_at_an_instant_reports_the_periods_before_it_unchanged() {
    let zone = chrono_tz::America::New_York;
    let log = synthetic::generate(&synthetic::SyntheticParams {
        members: 800,
        stores: 3,
        start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        months: 6,
        zone,
        seed: 11,
    });
    // The first instant of April in New York.
    let until = LocalDateTime::new(2025, 4, 1, 0, 0)
        .unwrap()
        .first_instant_in(zone);
    let cut = log.before(until);
    assert!(!cut.is_empty() && cut.len() < log.len());
    assert!(cut.at().iter().all(|&t| t < until));
    assert_eq!(cut.len(), log.at().iter().filter(|&&t| t < until).count());
    // Members keep their numbers.
    for i in 0..cut.len() {
        assert_eq!(cut.member()[i], log.member()[i]);
    }
    let whole = analyze(&log, Granularity::Month).unwrap();
    let part = analyze(&cut, Granularity::Month).unwrap();
    let labels: Vec<&str> = part.periods.iter().map(|r| r.period.as_str()).collect();
    assert_eq!(labels, ["2025-01", "2025-02", "2025-03"]);
    for (a, b) in part.periods.iter().zip(&whole.periods) {
        assert_eq!(row(a), row(b));
    }
}
