//! Reports of a log's parts, merged, equal the whole log's report exactly: for any split of
//! the members (and of the anonymous visits), in any order, after a trip through JSON.

use chrono::{DateTime, Utc};
use o2okit::StoreId;
use o2okit::analytics::*;
use proptest::prelude::*;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A visit: member (None: anonymous), seconds after the log's origin, spend.
type Visit = (Option<u8>, u32, i64);

fn build(zone: chrono_tz::Tz, visits: &[Visit]) -> VisitLog {
    let mut b = VisitLogBuilder::new(zone);
    for (member, offset, spend) in visits {
        let name = member.map(|m| format!("m{m}"));
        let at = ts("2024-01-01T00:00:00Z") + chrono::Duration::seconds(i64::from(*offset));
        b.push(name.as_deref(), StoreId(1), at, *spend);
    }
    b.build()
}

/// Merges the parts' reports after serializing each to JSON and back, as files would.
fn merge_through_json(
    parts: &[VisitLog],
    granularity: Granularity,
) -> Result<VisitReport, MergeError> {
    let partials: Vec<PartialReport> = parts
        .iter()
        .map(|part| {
            let partial = partial_report(part, granularity).unwrap();
            serde_json::from_str(&serde_json::to_string(&partial).unwrap()).unwrap()
        })
        .collect();
    merge(&partials)
}

fn zones() -> impl Strategy<Value = chrono_tz::Tz> {
    prop_oneof![
        Just(chrono_tz::Asia::Shanghai),
        Just(chrono_tz::America::New_York),
        Just(chrono_tz::UTC)
    ]
}

fn granularities() -> impl Strategy<Value = Granularity> {
    prop_oneof![
        Just(Granularity::Month),
        Just(Granularity::Week),
        Just(Granularity::Day)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any assignment of members to parts (not only `Partition`'s hash), anonymous visits
    /// spread over the parts one by one, parts merged in a shuffled order.
    #[test]
    fn any_split_of_the_members_merges_to_the_whole(
        visits in proptest::collection::vec(
            (proptest::option::weighted(0.9, 0u8..24), 0u32..70_000_000, -500i64..20_000),
            1..250,
        ),
        part_of_member in proptest::collection::vec(0usize..5, 24),
        part_of_anonymous in proptest::collection::vec(0usize..5, 250),
        parts in 1usize..6,
        rotate in 0usize..6,
        zone in zones(),
        granularity in granularities(),
    ) {
        let whole = analyze(&build(zone, &visits), granularity).unwrap();
        let mut split: Vec<Vec<Visit>> = vec![Vec::new(); parts];
        for (i, visit) in visits.iter().enumerate() {
            let part = match visit.0 {
                Some(m) => part_of_member[m as usize],
                None => part_of_anonymous[i],
            } % parts;
            split[part].push(*visit);
        }
        split.rotate_left(rotate % parts);
        let logs: Vec<VisitLog> = split.iter().map(|v| build(zone, v)).collect();
        prop_assert_eq!(merge_through_json(&logs, granularity).unwrap(), whole);
    }

    /// `Partition` cuts a log into parts that hold every visit once, and they merge to the
    /// whole.
    #[test]
    fn hash_partitions_cover_the_log_and_merge_to_the_whole(
        visits in proptest::collection::vec(
            (proptest::option::weighted(0.85, 0u8..40), 0u32..40_000_000, 0i64..9_000),
            1..250,
        ),
        count in 1u32..7,
        zone in zones(),
        granularity in granularities(),
    ) {
        let log = build(zone, &visits);
        let parts: Vec<VisitLog> = (0..count)
            .map(|i| log.partition(Partition::new(i, count).unwrap()))
            .collect();
        prop_assert_eq!(parts.iter().map(VisitLog::len).sum::<usize>(), log.len());
        prop_assert_eq!(parts.iter().map(VisitLog::member_count).sum::<usize>(), log.member_count());
        for (i, part) in parts.iter().enumerate() {
            for m in 0..part.member_count() as u32 {
                let id = part.member_id(m);
                prop_assert_eq!(member_hash(id) % u64::from(count), i as u64);
            }
        }
        prop_assert_eq!(
            merge_through_json(&parts, granularity).unwrap(),
            analyze(&log, granularity).unwrap()
        );
    }
}

#[test]
fn a_generated_log_in_eight_parts_merges_to_the_whole_at_every_granularity() {
    let log = synthetic::generate(&synthetic::SyntheticParams {
        members: 4_000,
        stores: 5,
        start: chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap(),
        months: 14,
        zone: chrono_tz::America::New_York,
        seed: 5,
    });
    let parts: Vec<VisitLog> = (0..8)
        .map(|i| log.partition(Partition::new(i, 8).unwrap()))
        .collect();
    assert!(parts.iter().all(|p| p.len() > 1_000));
    for granularity in [Granularity::Month, Granularity::Week, Granularity::Day] {
        let whole = analyze(&log, granularity).unwrap();
        assert_eq!(merge_through_json(&parts, granularity).unwrap(), whole);
    }
}

#[test]
fn a_part_ending_early_churns_its_last_members_in_the_next_period() {
    let zone = chrono_tz::UTC;
    let mut early = VisitLogBuilder::new(zone);
    early.push(Some("a"), StoreId(1), ts("2025-01-10T10:00:00Z"), 100);
    let mut late = VisitLogBuilder::new(zone);
    late.push(Some("b"), StoreId(1), ts("2025-01-11T10:00:00Z"), 100);
    late.push(Some("b"), StoreId(1), ts("2025-03-11T10:00:00Z"), 300);
    let merged = merge_through_json(&[early.build(), late.build()], Granularity::Month).unwrap();
    let churned: Vec<u64> = merged.periods.iter().map(|r| r.churned).collect();
    // a and b leave after January; b is back in March.
    assert_eq!(churned, [0, 2, 0]);
    assert_eq!(merged.periods[2].returning, 1);
    assert_eq!(merged.periods[0].avg_ticket_minor, Some(100));
}

#[test]
fn parts_that_do_not_fit_together_are_refused() {
    let zone = chrono_tz::Asia::Shanghai;
    let mut b = VisitLogBuilder::new(zone);
    b.push(Some("a"), StoreId(1), ts("2025-01-10T10:00:00Z"), 100);
    b.push(Some("a"), StoreId(1), ts("2025-02-10T10:00:00Z"), 100);
    let log = b.build();
    let part = partial_report(&log, Granularity::Month).unwrap();
    assert_eq!(merge(&[]), Err(MergeError::Empty));

    let weekly = partial_report(&log, Granularity::Week).unwrap();
    assert!(matches!(
        merge(&[part.clone(), weekly]),
        Err(MergeError::Mismatch(_))
    ));
    let mut elsewhere = part.clone();
    elsewhere.zone = "Europe/Paris".into();
    assert!(matches!(
        merge(&[part.clone(), elsewhere]),
        Err(MergeError::Mismatch(_))
    ));
    let mut newer = part.clone();
    newer.format = PARTIAL_FORMAT + 1;
    assert_eq!(
        merge(&[newer]),
        Err(MergeError::Format {
            found: PARTIAL_FORMAT + 1
        })
    );
    // A period outside the part's own span, a cohort running past the log's end.
    let mut outside = part.clone();
    outside.report.periods[1].period = "2031-07".into();
    assert!(matches!(
        merge(&[outside]),
        Err(MergeError::Inconsistent(_))
    ));
    // A period inside the merged span but outside the part's own (its span ends in February).
    let mut c = VisitLogBuilder::new(zone);
    c.push(Some("c"), StoreId(1), ts("2025-06-10T10:00:00Z"), 100);
    let later = partial_report(&c.build(), Granularity::Month).unwrap();
    let mut beyond = part.clone();
    beyond.report.periods[1].period = "2025-05".into();
    assert!(matches!(
        merge(&[beyond, later.clone()]),
        Err(MergeError::Inconsistent(_))
    ));
    // A cohort row running past its part's span, though not past the merged log's.
    let mut outrun = part.clone();
    outrun.report.cohorts[0].active = vec![1, 1, 0, 1];
    assert!(matches!(
        merge(&[outrun, later.clone()]),
        Err(MergeError::Inconsistent(_))
    ));
    assert!(merge(&[part.clone(), later]).is_ok());
    let mut long = part.clone();
    long.report.cohorts[1].active = vec![1, 1];
    assert!(matches!(merge(&[long]), Err(MergeError::Inconsistent(_))));
    let mut bad_zone = part.clone();
    bad_zone.zone = "Mars/Olympus".into();
    assert!(matches!(
        merge(&[bad_zone]),
        Err(MergeError::Inconsistent(_))
    ));
    // Counts that overflow when added.
    let mut huge = part.clone();
    huge.report.periods[0].visits = u64::MAX;
    assert!(matches!(
        merge(&[huge, part.clone()]),
        Err(MergeError::Overflow(_))
    ));
    // Daily cohorts over two centuries: more cells than analyze would ever hold.
    let mut wide = partial_report(&log, Granularity::Day).unwrap();
    wide.span = Some((
        ts("2000-01-01T00:00:00Z").timestamp(),
        ts("2199-12-30T00:00:00Z").timestamp(),
    ));
    let days = 73_048;
    let labels: Vec<String> = (0..300)
        .map(|d| {
            (chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Days::new(d))
                .to_string()
        })
        .collect();
    wide.report.periods.clear();
    wide.report.cohorts = labels
        .iter()
        .enumerate()
        .map(|(c, label)| CohortRow {
            cohort: label.clone(),
            size: 1,
            active: vec![0; days - c - 10],
        })
        .collect();
    assert!(matches!(
        merge(&[wide]),
        Err(MergeError::TooManyCohortCells {
            max: MAX_COHORT_CELLS,
            ..
        })
    ));
    // Unknown fields in a file are refused, not ignored.
    let mut json: serde_json::Value = serde_json::to_value(&part).unwrap();
    json["extra"] = serde_json::json!(1);
    assert!(serde_json::from_value::<PartialReport>(json).is_err());
    // And the part alone merges to its own report.
    assert_eq!(
        merge(&[part]).unwrap(),
        analyze(&log, Granularity::Month).unwrap()
    );
}

#[test]
fn the_member_hash_is_fixed() {
    // Pinned: parts cut on one machine or release must be cut the same on every other.
    // (Computed independently, in Python, from the documented construction.)
    assert_eq!(member_hash(""), 0xf52a_15e9_a9b5_e89b);
    assert_eq!(member_hash("M-000123"), 0x7e8c_d6cb_b329_703c);
    assert_ne!(member_hash("M-000123"), member_hash("M-000124"));
    assert!(Partition::new(3, 3).is_none());
    let part = Partition::new(0, 4).unwrap();
    assert!(part.holds(None));
    assert!(!Partition::new(1, 4).unwrap().holds(None));
    // The split is even: 40,000 ids over 7 parts, each within 5% of its share.
    let mut counts = [0u32; 7];
    for i in 0..40_000 {
        counts[(member_hash(&format!("M-{i:06}")) % 7) as usize] += 1;
    }
    let share = 40_000 / 7;
    assert!(
        counts.iter().all(|&c| c.abs_diff(share) < share / 20),
        "{counts:?}"
    );
}

#[test]
fn a_log_of_many_members_analyzed_through_buckets_equals_its_parts_analyzed_directly() {
    // 140,000 members take 1.1 MiB of monthly (or weekly) bitsets: the whole log is
    // analyzed through buckets of members, each half directly; merged, the halves must give
    // the whole.
    let mut b = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
    let origin = ts("2025-01-01T00:00:00Z");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut visits = Vec::new();
    for member in 0..140_000u64 {
        for _ in 0..2 {
            let at = origin + chrono::Duration::seconds((next() % (365 * 86_400)) as i64);
            visits.push((at, member, (next() % 10_000) as i64));
        }
    }
    visits.sort();
    for (at, member, spend) in visits {
        b.push(Some(&format!("m{member}")), StoreId(1), at, spend);
    }
    let log = b.build();
    let parts: Vec<VisitLog> = (0..2)
        .map(|i| log.partition(Partition::new(i, 2).unwrap()))
        .collect();
    assert!(parts.iter().all(|p| p.member_count() < 131_072));
    for granularity in [Granularity::Month, Granularity::Week] {
        let whole = analyze(&log, granularity).unwrap();
        assert_eq!(merge_through_json(&parts, granularity).unwrap(), whole);
        assert_eq!(
            whole.periods.iter().map(|r| r.new).sum::<u64>(),
            140_000,
            "every member is new once"
        );
    }
}
