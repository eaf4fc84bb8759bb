//! Campaigns at chain scale: bulk issuance of 1,000,000 personal vouchers (plan with a 10%
//! holdout, personalize, sign with HMAC-SHA256, write as JSON Lines; goal ≤ 1.5 s on this
//! 2-core machine) and the lift report over 10,000,000 visits of 1,000,000 assigned members.
//!
//! Issuance writes into a reused in-memory buffer (what a writer to a file or socket would be
//! handed); it runs on every core (`available_parallelism`). Printed beside criterion's figure:
//! one timed pass, split into plan and sign+write.
//!
//! `cargo bench --bench campaign`

use chrono::{DateTime, Duration, Utc};
use criterion::Criterion;
use o2okit::campaign::*;
use o2okit::*;
use std::hint::black_box;
use std::time::Instant;

const MEMBERS: u64 = 1_000_000;
const VISITS: u64 = 10_000_000;

fn at() -> DateTime<Utc> {
    "2026-09-01T02:00:00Z".parse().unwrap()
}

fn profiles() -> Vec<MemberProfile> {
    (0..MEMBERS)
        .map(|i| {
            let mut p = MemberProfile {
                member: MemberId(1_000_000 + i),
                home_store: StoreId(1 + (i % 500) as u32),
                tier: Tier::BASIC,
                enrolled: true,
                referred: false,
                visits: None,
                segment: None,
            };
            p.referred = i % 7 == 0;
            p
        })
        .collect()
}

fn campaign() -> Campaign {
    let offer = OfferTemplate::new(
        Voucher::new(
            VoucherId(0),
            MerchantId(88),
            Currency::CNY,
            Benefit::AmountOff { minor: 2_000 },
        )
        .max_uses(1)
        .min_spend(8_000),
    )
    .valid_for_days(chrono_tz::Asia::Shanghai, 28);
    Campaign::new(CampaignId(7), Audience::everyone(), offer).with_holdout(1_000)
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(20))
        .configure_from_args();
    let profiles = profiles();
    let campaign = campaign();
    let key = HoldoutKey::from_bytes(&[0x42; 32]);
    let state = MarketingState::none();
    let keyring = Keyring::with_active_key(
        MerchantId(88),
        KeyId(1),
        SigningKey::from_bytes(&[0x24; 32]).unwrap(),
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out: Vec<u8> = Vec::with_capacity(200 << 20);
    let issue = |out: &mut Vec<u8>| {
        out.clear();
        let ctx =
            PlanContext::new(&profiles, &state, &key, at(), VoucherId(1)).with_threads(threads);
        let p = plan(&campaign, &ctx).unwrap();
        write_offers(&p, &keyring, OfferFormat::JsonLines, threads, out).unwrap()
    };

    // One pass, timed by phase.
    let start = Instant::now();
    let ctx = PlanContext::new(&profiles, &state, &key, at(), VoucherId(1)).with_threads(threads);
    let p = plan(&campaign, &ctx).unwrap();
    let planned = start.elapsed();
    let summary = write_offers(&p, &keyring, OfferFormat::JsonLines, threads, &mut out).unwrap();
    let total = start.elapsed();
    println!(
        "bulk issuance, {MEMBERS} members on {threads} threads: {} vouchers, {} MB of JSON Lines; \
         plan {:.0} ms, sign + write {:.0} ms, total {:.0} ms",
        summary.offers,
        summary.bytes >> 20,
        planned.as_secs_f64() * 1e3,
        (total - planned).as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    c.bench_function(
        "campaign/issue 1M members (plan + sign + JSON Lines)",
        |b| b.iter(|| black_box(issue(&mut out))),
    );

    // The lift report: 10 visits per assigned member on average, over 28 days, a few
    // redemptions, some visits of members outside the campaign.
    let assignments = p.assignments;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = at();
    let visits: Vec<VisitEvent> = (0..VISITS)
        .map(|_| {
            let r = next();
            let member = MemberId(1_000_000 + r % (MEMBERS + MEMBERS / 10));
            VisitEvent {
                member: Some(member),
                store: StoreId(1 + (r >> 40) as u32 % 500),
                at: start + Duration::seconds((r >> 20) as i64 % (28 * 86_400)),
                spend_minor: 2_000 + (r >> 8) % 20_000,
                voucher: None,
                campaign: None,
                discount_minor: 0,
            }
        })
        .collect();
    let window = LiftWindow {
        from: at(),
        until: at() + Duration::days(28),
    };
    let start = Instant::now();
    let report = lift_report(&assignments, &visits, window).unwrap();
    println!(
        "lift report: {} assignments, {VISITS} visits, {} rows in {:.0} ms",
        assignments.len(),
        report.rows.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    c.bench_function("campaign/lift report 10M visits, 1M members", |b| {
        b.iter(|| black_box(lift_report(&assignments, &visits, window).unwrap()))
    });
    c.final_summary();
}
