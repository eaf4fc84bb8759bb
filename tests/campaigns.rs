//! Campaigns: audience to plan to vouchers, caps, opt-outs, budgets, the holdout, and the
//! lift report recovering a known true lift.

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use common::*;
use o2okit::analytics::{MemberSummary, VisitLog};
use o2okit::campaign::simulate::{Simulation, SimulationParams};
use o2okit::campaign::*;
use o2okit::*;
use std::collections::HashSet;

both_ledgers!(
    frequency_cap_holds_across_overlapping_campaigns,
    opted_out_members_are_never_targeted,
    a_vouchers_campaign_flows_through_redemption_into_the_report,
);

const HOLDOUT_KEY: [u8; 32] = [0x5a; 32];

fn key() -> HoldoutKey {
    HoldoutKey::from_bytes(&HOLDOUT_KEY)
}

/// Profiles of `n` members (ids 1..=n) with `visits` visits each, home stores 1..=3.
fn profiles(n: u64, visits: u64) -> Vec<MemberProfile> {
    (1..=n)
        .map(|id| MemberProfile {
            member: MemberId(id),
            home_store: StoreId(1 + (id % 3) as u32),
            tier: Tier::BASIC,
            enrolled: true,
            referred: id % 10 == 0,
            visits: (visits > 0).then(|| MemberSummary {
                member: id.to_string(),
                visits,
                first_visit: at("2026-01-01T00:00:00Z").timestamp(),
                last_visit: at("2026-03-01T00:00:00Z").timestamp(),
                spend_minor: 10_000,
            }),
            segment: None,
        })
        .collect()
}

fn offer() -> OfferTemplate {
    OfferTemplate::new(amount_off(0, 2_000).max_uses(1))
        .valid_for_days(chrono_tz::Asia::Shanghai, 14)
}

fn campaign(id: u32) -> Campaign {
    Campaign::new(CampaignId(id), Audience::everyone(), offer())
}

fn planned(campaign: &Campaign, profiles: &[MemberProfile], first: u64) -> CampaignPlan {
    let key = key();
    let state = MarketingState::none();
    plan(
        campaign,
        &PlanContext::new(
            profiles,
            &state,
            &key,
            at("2026-06-01T02:00:00Z"),
            VoucherId(first),
        ),
    )
    .unwrap()
}

fn frequency_cap_holds_across_overlapping_campaigns(ledger: &dyn Ledger) {
    let members = profiles(400, 3);
    let cap = FrequencyCap::new(1, 30);
    let key = key();
    let first_at = at("2026-06-01T02:00:00Z");
    let plan_at = |campaign: &Campaign, members: &[MemberProfile], when, state: &MarketingState| {
        let first = VoucherId(u64::from(campaign.id.0) * 10_000);
        plan(
            campaign,
            &PlanContext::new(members, state, &key, when, first),
        )
        .unwrap()
    };
    // Campaign 1 targets members 1..=300 and holds out 20%.
    let a = Campaign::new(CampaignId(1), Audience::everyone(), offer())
        .with_holdout(2_000)
        .with_frequency_cap(cap);
    let state = MarketingState::load(ledger, Some(&cap), first_at).unwrap();
    let plan_a = plan_at(&a, &members[..300], first_at, &state);
    ledger
        .record_issues(&plan_a.vouchers().unwrap(), first_at)
        .unwrap();
    let treated_a: HashSet<MemberId> = plan_a
        .assignments
        .iter()
        .filter(|x| x.arm == Arm::Treatment)
        .map(|x| x.member)
        .collect();
    let held_a: HashSet<MemberId> = plan_a.holdout().map(|x| x.member).collect();
    assert!(treated_a.len() > 200 && held_a.len() > 30);
    // Campaign 2, ten days later, targets everyone: whoever got campaign 1's voucher is at
    // the cap. Campaign 1's holdout got nothing, so the cap lets them through...
    let second_at = at("2026-06-11T02:00:00Z");
    let b = Campaign::new(CampaignId(2), Audience::everyone(), offer())
        .with_holdout(1_000)
        .with_frequency_cap(cap);
    let state = MarketingState::load(ledger, Some(&cap), second_at).unwrap();
    let plan_b = plan_at(&b, &members, second_at, &state);
    assert_eq!(plan_b.skipped.capped, treated_a.len() as u64);
    assert!(
        plan_b
            .assignments
            .iter()
            .all(|x| !treated_a.contains(&x.member))
    );
    assert_eq!(plan_b.assignments.len(), 400 - treated_a.len());
    // ...unless campaign 1 is still being measured: then its holdout is kept out too.
    let keeping = state.clone().keeping_holdouts(&plan_a.assignments);
    let plan_b2 = plan_at(&b, &members, second_at, &keeping);
    assert_eq!(plan_b2.skipped.held_out_elsewhere, held_a.len() as u64);
    assert!(
        plan_b2
            .assignments
            .iter()
            .all(|x| !held_a.contains(&x.member))
    );
    assert_eq!(
        plan_b2.assignments.len(),
        400 - treated_a.len() - held_a.len()
    );
    // Forty days after campaign 1 its offers are outside the window: nobody is capped.
    let later = at("2026-07-11T02:00:00Z");
    let state = MarketingState::load(ledger, Some(&cap), later).unwrap();
    assert_eq!(plan_at(&b, &members, later, &state).skipped.capped, 0);
    // A campaign planned for before campaign 1 (out of time order) is capped by it as well.
    let earlier = at("2026-05-20T02:00:00Z");
    let state = MarketingState::load(ledger, Some(&cap), earlier).unwrap();
    assert_eq!(
        plan_at(&b, &members, earlier, &state).skipped.capped,
        treated_a.len() as u64
    );
    // A cap of 2 lets campaign 1's members get one more.
    let b2 = b.clone().with_frequency_cap(FrequencyCap::new(2, 30));
    let state = MarketingState::load(ledger, b2.frequency_cap.as_ref(), second_at).unwrap();
    assert_eq!(plan_at(&b2, &members, second_at, &state).skipped.capped, 0);
}

#[test]
fn the_cap_counts_offers_less_than_its_window_away_either_side() {
    let cap = FrequencyCap::new(1, 30);
    let now = at("2026-06-30T00:00:00Z");
    let offer_at = |t: DateTime<Utc>| Offer {
        voucher: VoucherId(1),
        member: MemberId(1),
        campaign: None,
        issued_at: t,
    };
    let count = |t| OfferHistory::new(&[offer_at(t)]).count_within(MemberId(1), &cap, now);
    let second = chrono::Duration::seconds(1);
    let window = chrono::Duration::days(30);
    assert_eq!(count(now - window), 0);
    assert_eq!(count(now - window + second), 1);
    assert_eq!(count(now), 1);
    assert_eq!(count(now + window - second), 1);
    assert_eq!(count(now + window), 0);
    let other = OfferHistory::new(&[offer_at(now)]).count_within(MemberId(2), &cap, now);
    assert_eq!(other, 0);
    // A window past what chrono holds is the whole past, not a panic.
    let forever = FrequencyCap::new(1, u32::MAX);
    assert_eq!(forever.window_start(now), DateTime::<Utc>::MIN_UTC);
    let old = OfferHistory::new(&[offer_at(at("2001-01-01T00:00:00Z"))]);
    assert_eq!(old.count_within(MemberId(1), &forever, now), 1);
}

fn opted_out_members_are_never_targeted(ledger: &dyn Ledger) {
    let members = profiles(500, 2);
    let when = at("2026-06-01T02:00:00Z");
    for id in (1..=500).step_by(7) {
        ledger
            .set_marketing_opt_out(MemberId(id), true, when)
            .unwrap();
    }
    // Member 8 opted out, then back in: targeted again.
    ledger
        .set_marketing_opt_out(MemberId(8), false, at("2026-06-01T03:00:00Z"))
        .unwrap();
    let opted_out: HashSet<MemberId> = ledger.marketing_opt_outs().unwrap().into_iter().collect();
    assert_eq!(opted_out.len(), 71);
    let c = campaign(3).with_holdout(1_000);
    let key = key();
    let when = at("2026-06-02T02:00:00Z");
    let state = MarketingState::load(ledger, None, when).unwrap();
    let p = plan(
        &c,
        &PlanContext::new(&members, &state, &key, when, VoucherId(1)),
    )
    .unwrap();
    assert_eq!(p.skipped.opted_out, 71);
    assert_eq!(p.assignments.len(), 500 - 71);
    assert!(p.assignments.iter().all(|a| !opted_out.contains(&a.member)));
    assert!(p.assignments.iter().any(|a| a.member == MemberId(8)));
}

fn a_vouchers_campaign_flows_through_redemption_into_the_report(ledger: &dyn Ledger) {
    let members = profiles(1_000, 2);
    let c = campaign(9).with_holdout(3_000);
    let p = planned(&c, &members, 70_000);
    let vouchers = p.vouchers().unwrap();
    ledger.record_issues(&vouchers, p.at).unwrap();
    let ring = keyring();
    let store = shenzhen();
    let basket = cny(12_000);
    let when = at("2026-06-03T04:00:00Z");
    // Three treatment members redeem their own voucher; one holdout member just visits.
    for voucher in &vouchers[..3] {
        let text = voucher.sign(&ring).unwrap().to_scanner_text();
        let member = voucher.member.unwrap();
        let mut ctx = RedemptionContext::new(&store, when, &basket);
        ctx.member = Some(MemberContext::new(member, Tier::BASIC, false));
        let Decision::Accepted(accepted) = verify(&text, &ring, &ctx) else {
            panic!("the campaign's voucher is refused")
        };
        let key = idem(&format!("sale-{}", voucher.id.0));
        assert!(
            ledger
                .redeem(&RedeemRequest::new(&accepted, &key))
                .unwrap()
                .receipt()
                .is_some()
        );
    }
    let held = p.holdout().next().unwrap().member;
    ledger
        .record_visit(&VisitEvent {
            member: Some(held),
            store: store.id,
            at: when,
            spend_minor: 5_000,
            voucher: None,
            campaign: None,
            discount_minor: 0,
        })
        .unwrap();
    let window = LiftWindow {
        from: p.at,
        until: at("2026-06-29T02:00:00Z"),
    };
    let report = lift_report(&p.assignments, &ledger.visits().unwrap(), window).unwrap();
    let row = report.overall(CampaignId(9)).unwrap();
    assert_eq!(row.verdict, Verdict::Measured);
    assert_eq!(row.issued, vouchers.len() as u64);
    assert_eq!(row.redeemed, 3);
    assert_eq!(row.redemption_rate, 3.0 / vouchers.len() as f64);
    let (incremental, ret) = (
        row.incremental_spend_minor.unwrap(),
        row.return_minor.unwrap(),
    );
    assert_eq!(ret.estimate, incremental.estimate - 6_000.0);
    let held_n = row.holdout.members as f64;
    let expected_difference = 3.0 * 12_000.0 / row.treatment.members as f64 - 5_000.0 / held_n;
    assert!((row.spend_difference.unwrap().estimate - expected_difference).abs() < 1e-9);
    assert_eq!(row.discount_minor, 3 * 2_000);
    assert_eq!(row.treatment.visits, 3);
    assert_eq!(row.treatment.spend_minor, 3 * 12_000);
    assert_eq!(row.holdout.visits, 1);
    assert_eq!(row.holdout.visiting_members, 1);
    // Per store rows add up to the overall one.
    let per_store: u64 = report
        .rows
        .iter()
        .filter(|r| r.store.is_some())
        .map(|r| r.treatment.members + r.holdout.members)
        .sum();
    assert_eq!(per_store, 1_000);
}

#[test]
fn budget_stops_issuance_exactly() {
    let members = profiles(1_000, 1);
    // By count, with a holdout: exactly 123 vouchers, and the walk stops for both arms.
    let c = campaign(4)
        .with_holdout(2_000)
        .with_budget(Budget::vouchers(123));
    let p = planned(&c, &members, 1);
    assert_eq!(p.vouchers, 123);
    assert_eq!(p.vouchers().unwrap().len(), 123);
    let holdout = p.holdout().count() as u64;
    assert_eq!(
        p.assignments.len() as u64 + p.skipped.over_budget,
        1_000,
        "everyone is assigned or counted as over budget"
    );
    assert!(
        holdout > 15 && holdout < 50,
        "holdout {holdout} of ~154 walked"
    );
    // A larger budget walks further along the same order: the first plan is its prefix.
    let bigger = planned(
        &campaign(4)
            .with_holdout(2_000)
            .with_budget(Budget::vouchers(200)),
        &members,
        1,
    );
    assert_eq!(bigger.assignments[..p.assignments.len()], p.assignments[..]);
    // By discount: CNY 20 vouchers within CNY 1,000.00 is 50 vouchers, not 51.
    let c = campaign(4).with_budget(Budget::discount(100_000));
    let p = planned(&c, &members, 1);
    assert_eq!(p.vouchers, 50);
    assert_eq!(p.max_discount_minor, Some(100_000));
    let c = campaign(4).with_budget(Budget::discount(101_999));
    assert_eq!(planned(&c, &members, 1).vouchers, 50);
    // Both limits: the first reached stops it.
    let both = Budget {
        max_vouchers: Some(40),
        max_discount_minor: Some(100_000),
    };
    assert_eq!(
        planned(&campaign(4).with_budget(both), &members, 1).vouchers,
        40
    );
    // A discount budget on an offer without a bounded discount is refused.
    let percent = OfferTemplate::new(Voucher::new(
        VoucherId(0),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 1_000,
            cap_minor: None,
        },
    ));
    let c = Campaign::new(CampaignId(4), Audience::everyone(), percent)
        .with_budget(Budget::discount(1_000));
    let key = key();
    let state = MarketingState::none();
    let when = at("2026-06-01T00:00:00Z");
    let err = plan(
        &c,
        &PlanContext::new(&members, &state, &key, when, VoucherId(1)),
    )
    .unwrap_err();
    assert!(matches!(err, CampaignError::UnboundedOffer));
}

#[test]
fn holdout_is_stable_uniform_and_keyed() {
    let k = key();
    let n = 100_000u64;
    let draws: Vec<u64> = (0..n).map(|m| k.draw(CampaignId(1), MemberId(m))).collect();
    // The same key gives the same draws; another key or campaign, others.
    assert_eq!(
        draws[..100],
        (0..100)
            .map(|m| k.draw(CampaignId(1), MemberId(m)))
            .collect::<Vec<_>>()[..]
    );
    let other = HoldoutKey::from_bytes(&[0x5b; 32]);
    let moved = (0..1_000)
        .filter(|&m| {
            HoldoutKey::in_holdout(k.draw(CampaignId(1), MemberId(m)), 1_000)
                != HoldoutKey::in_holdout(other.draw(CampaignId(1), MemberId(m)), 1_000)
        })
        .count();
    assert!(
        moved > 100,
        "another key reshuffles the holdout ({moved} of 1,000 moved)"
    );
    let moved = (0..1_000)
        .filter(|&m| {
            HoldoutKey::in_holdout(k.draw(CampaignId(1), MemberId(m)), 1_000)
                != HoldoutKey::in_holdout(k.draw(CampaignId(2), MemberId(m)), 1_000)
        })
        .count();
    assert!(
        moved > 100,
        "another campaign reshuffles the holdout ({moved} moved)"
    );
    // Uniform: 100 equal bins, chi-square with 99 degrees of freedom below its 99.9% point.
    let mut bins = [0u64; 100];
    for &d in &draws {
        bins[((u128::from(d) * 100) >> 64) as usize] += 1;
    }
    let expected = n as f64 / 100.0;
    let chi2: f64 = bins
        .iter()
        .map(|&b| (b as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 148.2, "chi-square {chi2:.1} over 99 dof");
    // A 10% holdout holds 10% within four standard deviations (±380 of 100,000).
    let held = draws
        .iter()
        .filter(|&&d| HoldoutKey::in_holdout(d, 1_000))
        .count() as f64;
    assert!((held - 10_000.0).abs() < 380.0, "held {held}");
    assert!(draws.iter().all(|&d| !HoldoutKey::in_holdout(d, 0)));
    assert!(draws.iter().all(|&d| HoldoutKey::in_holdout(d, 10_000)));
    // The plan's holdout is the draw's, run after run.
    let members = profiles(2_000, 1);
    let c = campaign(1).with_holdout(1_000);
    let (p1, p2) = (planned(&c, &members, 1), planned(&c, &members, 1));
    assert_eq!(p1, p2);
    for a in &p1.assignments {
        let draw = k.draw(CampaignId(1), a.member);
        assert_eq!(a.arm == Arm::Holdout, HoldoutKey::in_holdout(draw, 1_000));
    }
    let c = campaign(1).with_holdout(10_001);
    let state = MarketingState::none();
    let when = at("2026-06-01T00:00:00Z");
    let err = plan(
        &c,
        &PlanContext::new(&members, &state, &k, when, VoucherId(1)),
    );
    assert!(matches!(err, Err(CampaignError::HoldoutShare(10_001))));
}

#[test]
fn holdout_members_never_receive_a_voucher() {
    let members = profiles(3_000, 1);
    let c = campaign(5).with_holdout(2_500);
    let p = planned(&c, &members, 500);
    let held: HashSet<MemberId> = p.holdout().map(|a| a.member).collect();
    assert!(held.len() > 600);
    assert!(p.holdout().all(|a| a.voucher.is_none()));
    let vouchers = p.vouchers().unwrap();
    assert_eq!(vouchers.len() + held.len(), 3_000);
    assert!(vouchers.iter().all(|v| !held.contains(&v.member.unwrap())));
    // Nor in what is sent out: every JSON line is a treatment member's own, verifying voucher.
    let ring = keyring();
    let mut out = Vec::new();
    let summary = write_offers(&p, &ring, OfferFormat::JsonLines, 3, &mut out).unwrap();
    assert_eq!(summary.offers, vouchers.len() as u64);
    assert_eq!(summary.bytes, out.len() as u64);
    let text = String::from_utf8(out).unwrap();
    let mut seen = HashSet::new();
    for (line, voucher) in text.lines().zip(&vouchers) {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let member = MemberId(json["member"].as_u64().unwrap());
        assert!(!held.contains(&member));
        let token = Token::from_scanner_text(json["text"].as_str().unwrap()).unwrap();
        let opened = Voucher::open(&token, &ring).unwrap();
        assert_eq!(opened.member, Some(member));
        assert_eq!(opened.id.0, json["voucher"].as_u64().unwrap());
        assert_eq!(opened.campaign, Some(CampaignId(5)));
        assert_eq!(&opened, voucher);
        assert_eq!(json["valid_until"], "2026-06-15T10:00");
        seen.insert(member);
    }
    assert_eq!(seen.len(), vouchers.len());
    // CSV carries the same offers under a header.
    let mut csv = Vec::new();
    write_offers(&p, &ring, OfferFormat::Csv, 2, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("campaign,member,voucher,valid_until,text")
    );
    assert_eq!(csv.lines().count(), vouchers.len() + 1);
}

#[test]
fn audience_filters_pick_the_members_they_name() {
    let zone = chrono_tz::Asia::Shanghai;
    let as_of = at("2026-06-01T00:00:00Z");
    let day = |d: i64| as_of - chrono::Duration::days(d);
    let visit = |member: u64, store: u32, days_ago: i64, spend: u64| VisitEvent {
        member: Some(MemberId(member)),
        store: StoreId(store),
        at: day(days_ago),
        spend_minor: spend,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    };
    let mut visits = Vec::new();
    // 1: a regular who stopped 90 days ago. 2: comes every 10 days, last 14 days ago (due).
    // 3: came yesterday. 4: enrolled, never bought. 5: visits but spends nothing.
    for d in [150, 140, 130, 120, 110, 100, 90] {
        visits.push(visit(1, 1, d, 5_000));
    }
    for d in [44, 34, 24, 14] {
        visits.push(visit(2, 2, d, 4_000));
    }
    visits.push(visit(3, 2, 1, 9_000));
    visits.push(visit(5, 3, 3, 0));
    let log = VisitLog::from_events(zone, &visits);
    let card = |n| CardNumber::from_serial(n).unwrap();
    let enrolled = [
        Member::new(MemberId(4), MERCHANT, card(4), StoreId(3), day(20)).referred_by(MemberId(2)),
        Member::new(MemberId(2), MERCHANT, card(2), StoreId(2), day(50)),
    ];
    let profiles = member_profiles(&enrolled, &log, as_of);
    assert_eq!(
        profiles.iter().map(|p| p.member.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let pick = |audience: Audience| -> Vec<u64> {
        profiles
            .iter()
            .filter(|p| audience.admits(p, as_of))
            .map(|p| p.member.0)
            .collect()
    };
    assert_eq!(pick(Audience::everyone().lapsed_regulars(3, 60)), [1]);
    assert_eq!(
        pick(Audience::everyone().with(AudienceFilter::DueAgain { late: 1.3 })),
        [2]
    );
    // Member 5 spent nothing but never enrolled: not "enrolled, never bought".
    assert_eq!(
        pick(Audience::everyone().with(AudienceFilter::NeverBought)),
        [4]
    );
    assert_eq!(
        pick(Audience::everyone().with(AudienceFilter::Referred)),
        [4]
    );
    assert_eq!(pick(Audience::everyone().home_stores([StoreId(2)])), [2, 3]);
    assert_eq!(
        pick(Audience::everyone().with(AudienceFilter::LastVisitBetween {
            from: day(20),
            until: day(2)
        })),
        [2, 5]
    );
    // Home store: enrolled store, else the first visit's store.
    assert_eq!(profiles[0].home_store, StoreId(1));
    assert_eq!(profiles[3].home_store, StoreId(3));
    // Filters combine: lapsed regulars of store 2 are nobody.
    assert!(
        pick(
            Audience::everyone()
                .lapsed_regulars(3, 60)
                .home_stores([StoreId(2)])
        )
        .is_empty()
    );
    let mut tiered = profiles.clone();
    tiered[2].tier = Tier(2);
    let gold = Audience::everyone().with(AudienceFilter::MinTier { tier: Tier(2) });
    assert_eq!(
        tiered
            .iter()
            .filter(|p| gold.admits(p, as_of))
            .map(|p| p.member.0)
            .collect::<Vec<_>>(),
        [3]
    );
    // RFM: member 3 (recent, one visit) is New.
    assert_eq!(profiles[2].segment, Some(o2okit::analytics::Segment::New));
    assert_eq!(profiles[3].segment, None);
}

#[test]
fn assignments_round_trip_through_csv_and_bad_lines_are_named() {
    let members = profiles(50, 1);
    let p = planned(&campaign(6).with_holdout(3_000), &members, 10);
    let mut csv = Vec::new();
    write_assignments_csv(&p.assignments, &mut csv).unwrap();
    assert_eq!(read_assignments_csv(&csv[..]).unwrap(), p.assignments);
    let bad = |text: &str| match read_assignments_csv(text.as_bytes()) {
        Err(CampaignError::Csv { line, .. }) => line,
        other => panic!("{other:?}"),
    };
    let header = format!("{ASSIGNMENTS_HEADER}\n");
    assert_eq!(bad("member\n"), 1);
    assert_eq!(bad(&format!("{header}1,2,3,holdout,44\n")), 2);
    assert_eq!(bad(&format!("{header}1,2,3,treatment,\n")), 2);
    assert_eq!(
        bad(&format!("{header}1,2,3,treatment,5\n1,2,3,maybe,\n")),
        3
    );
    assert_eq!(bad(&format!("{header}1,x,3,holdout,\n")), 2);
    assert_eq!(bad(&format!("{header}1,2,3\n")), 2);
    assert_eq!(bad(""), 1);
    assert_eq!(
        bad(&format!("{header}1,2,3,holdout,\n1,2,4,treatment,9\n")),
        3
    );
    assert_eq!(bad(&format!("{header}{}\n", "9".repeat(5_000))), 2);
    // The same member in two campaigns is fine.
    let two = format!("{header}1,2,3,holdout,\n2,2,3,treatment,9\n");
    assert_eq!(read_assignments_csv(two.as_bytes()).unwrap().len(), 2);
}

#[test]
fn a_small_holdout_says_so_instead_of_guessing() {
    let members = profiles(600, 1);
    let p = planned(&campaign(7).with_holdout(500), &members, 1);
    let window = LiftWindow {
        from: p.at,
        until: at("2026-07-01T00:00:00Z"),
    };
    let report = lift_report(&p.assignments, &[], window).unwrap();
    let row = report.overall(CampaignId(7)).unwrap();
    assert!(row.holdout.members < MIN_ARM_MEMBERS);
    assert!(matches!(row.verdict, Verdict::TooSmall { .. }));
    assert!(row.visit_lift.is_none() && row.return_minor.is_none());
    assert!(row.statement().starts_with("too small to say anything"));
}

/// One simulated campaign with a true lift: the report's relative visit lift.
/// The simulated visits of the four weeks after `p`, and that window.
fn weeks_after(sim: &Simulation, p: &CampaignPlan) -> (Vec<VisitEvent>, LiftWindow) {
    let visits = sim
        .weeks_after(&p.assignments)
        .into_iter()
        .map(|v| v.visit)
        .collect();
    let window = LiftWindow {
        from: sim.params().campaign_at,
        until: sim.params().campaign_at + chrono::Duration::days(28),
    };
    (visits, window)
}

fn simulated_lift(true_lift: f64, seed: u64) -> LiftRow {
    let mut params = SimulationParams::new(MERCHANT, 8_000, at("2026-06-01T02:00:00Z"), seed);
    params.true_lift = true_lift;
    let sim = Simulation::new(params);
    let members = sim.members();
    let profiles = member_profiles(
        &members,
        &VisitLog::from_events(chrono_tz::UTC, &[]),
        sim.params().campaign_at,
    );
    let c = campaign(8).with_holdout(2_500);
    let key = HoldoutKey::from_bytes(&[seed as u8; 32]);
    let state = MarketingState::none();
    let when = sim.params().campaign_at;
    let p = plan(
        &c,
        &PlanContext::new(&profiles, &state, &key, when, VoucherId(1)),
    )
    .unwrap();
    let (visits, window) = weeks_after(&sim, &p);
    let report = lift_report(&p.assignments, &visits, window).unwrap();
    report.overall(CampaignId(8)).unwrap().clone()
}

#[test]
fn the_interval_covers_the_true_lift_and_the_estimate_is_unbiased() {
    for true_lift in [0.0, 0.05, 0.20] {
        let rows: Vec<LiftRow> = (1..=20)
            .map(|seed| simulated_lift(true_lift, seed))
            .collect();
        let estimates: Vec<Estimate> = rows.iter().map(|r| r.visit_lift.unwrap()).collect();
        let covered = estimates.iter().filter(|e| e.covers(true_lift)).count();
        assert!(
            covered >= 18,
            "lift {true_lift}: {covered} of 20 intervals cover it"
        );
        let mean = estimates.iter().map(|e| e.estimate).sum::<f64>() / 20.0;
        // The standard error of one estimate is about 0.045 here; of the mean of 20, 0.01.
        assert!(
            (mean - true_lift).abs() < 0.03,
            "lift {true_lift}: mean estimate {mean:.4}"
        );
        if true_lift == 0.0 {
            // No effect: the spend, visiting-share and return intervals cover nothing caused.
            for (name, pick) in [
                (
                    "spend",
                    (|r: &LiftRow| r.spend_difference) as fn(&LiftRow) -> Option<Estimate>,
                ),
                ("visiting share", |r: &LiftRow| r.visiting_difference),
                ("visits", |r: &LiftRow| r.visits_difference),
            ] {
                let covered = rows.iter().filter(|r| pick(r).unwrap().covers(0.0)).count();
                assert!(covered >= 18, "{name}: {covered} of 20 intervals cover 0");
            }
        }
    }
}

#[test]
fn a_plan_is_the_same_on_any_number_of_threads() {
    let members = profiles(20_000, 1);
    let c = campaign(11)
        .with_holdout(1_500)
        .with_budget(Budget::vouchers(9_000));
    let (key, state) = (key(), MarketingState::none());
    let when = at("2026-06-01T02:00:00Z");
    let on = |threads| {
        let ctx =
            PlanContext::new(&members, &state, &key, when, VoucherId(1)).with_threads(threads);
        plan(&c, &ctx).unwrap()
    };
    let one = on(1);
    assert_eq!(one.vouchers, 9_000);
    for threads in [0, 2, 3, 8, 1_000_000] {
        assert_eq!(on(threads), one, "{threads} threads");
    }
    // The offers too; a million writer threads are capped, not spawned.
    let ring = keyring();
    let write = |threads| {
        let mut out = Vec::new();
        write_offers(&one, &ring, OfferFormat::Csv, threads, &mut out).unwrap();
        out
    };
    assert_eq!(write(1), write(1_000_000));
}

#[test]
fn overflowing_figures_are_an_error_not_a_wrong_report() {
    let members = profiles(300, 1);
    let p = planned(&campaign(12).with_holdout(5_000), &members, 1);
    let member = p.assignments[0].member;
    let visit = |spend| VisitEvent {
        member: Some(member),
        store: StoreId(1),
        at: at("2026-06-02T00:00:00Z"),
        spend_minor: spend,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    };
    let window = LiftWindow {
        from: p.at,
        until: at("2026-07-01T00:00:00Z"),
    };
    assert!(matches!(
        lift_report(&p.assignments, &[visit(u64::MAX), visit(1)], window),
        Err(CampaignError::Overflow(_))
    ));
    // A spend whose square, summed over the arm, passes 128 bits: an error too.
    assert!(matches!(
        lift_report(&p.assignments, &[visit(u64::MAX / 4)], window),
        Err(CampaignError::Overflow(_))
    ));
    // CNY 10 billion is a large spend, not an overflow.
    let fine = lift_report(&p.assignments, &[visit(1_000_000_000_000)], window).unwrap();
    let row = fine.overall(CampaignId(12)).unwrap();
    assert_eq!(
        row.treatment.spend_minor + row.holdout.spend_minor,
        1_000_000_000_000
    );
}

#[test]
fn the_chart_ends_at_the_reports_visits_per_member() {
    let mut params = SimulationParams::new(MERCHANT, 3_000, at("2026-06-01T02:00:00Z"), 5);
    params.true_lift = 0.2;
    let sim = Simulation::new(params);
    let log = VisitLog::from_events(chrono_tz::UTC, &[]);
    let profiles = member_profiles(&sim.members(), &log, sim.params().campaign_at);
    let p = planned(&campaign(13).with_holdout(3_000), &profiles, 1);
    let (visits, window) = weeks_after(&sim, &p);
    let row = lift_report(&p.assignments, &visits, window).unwrap();
    let row = row.overall(CampaignId(13)).unwrap();
    let svg = lift_chart(&p.assignments, &visits, window, CampaignId(13));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    // One point per day and the origin, on each curve.
    let points = svg
        .split("points=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].split(' ').count())
        .collect::<Vec<_>>();
    assert_eq!(points, [29, 29]);
    // Each curve's label is where it ends: the arm's visits per member over the window.
    assert!(svg.contains(&format!("treatment {:.3}", row.treatment.visits_per_member)));
    assert!(svg.contains(&format!("holdout {:.3}", row.holdout.visits_per_member)));
    assert!(svg.contains(&format!(
        "treatment ({} members) against holdout ({} members)",
        row.treatment.members, row.holdout.members
    )));
    // Another campaign's chart has no members and stays a valid, empty chart.
    let empty = lift_chart(&p.assignments, &visits, window, CampaignId(99));
    assert!(empty.contains("treatment 0.000") && empty.contains("holdout 0.000"));
}

#[test]
fn only_ids_spelled_as_the_ledger_spells_them_become_members_and_home_stores() {
    let mut b = o2okit::analytics::VisitLogBuilder::new(chrono_tz::UTC);
    let day = |d: u32| at(&format!("2026-03-{d:02}T12:00:00Z"));
    // Member 7 first visits store "007" (not ledger store 7), member 8 store "12".
    b.push_at(Some("7"), "007", day(1), 1_000);
    b.push_at(Some("7"), "7", day(2), 1_000);
    b.push_at(Some("8"), "12", day(3), 1_000);
    b.push_at(Some("8"), "S016", day(4), 1_000);
    // Not member 7 or 9: other systems' ids.
    b.push_at(Some("007"), "7", day(5), 1_000);
    b.push_at(Some("+9"), "7", day(5), 1_000);
    b.push_at(Some("M-7"), "7", day(5), 1_000);
    let log = b.build();
    let profiles = member_profiles(&[], &log, day(10));
    let found: Vec<(u64, u32, u64)> = profiles
        .iter()
        .map(|p| {
            (
                p.member.0,
                p.home_store.0,
                p.visits.as_ref().unwrap().visits,
            )
        })
        .collect();
    // Member 7's first store has no ledger number, so its home store is the unknown 0.
    assert_eq!(found, [(7, 0, 2), (8, 12, 2)]);
}
