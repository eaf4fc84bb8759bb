//! `cargo run --release --example campaign -- [--members N] [--true-lift 0.15] [--seed N]
//! [--json] [--out DIR]`
//!
//! Precise marketing end to end, on synthetic data with a known true lift:
//! 1. a year of visits of `--members` members (the ledger holds them);
//! 2. some members opted out at the till, and an earlier campaign reached others 20 days ago;
//! 3. campaign 7 picks lapsed regulars (3+ visits, none in 45 days), holds out 10%, skips the
//!    opted-out and anyone sent an offer in the last 30 days, and issues personal CNY 20
//!    vouchers valid 28 days within a CNY 150,000 discount budget, written as JSON Lines;
//! 4. the four weeks after are simulated — treatment members come `1 + true lift` times as
//!    often, half of those who come redeem their voucher at the till (verified and redeemed
//!    through the ledger);
//! 5. the lift report: treatment against holdout, with 95% intervals, per store, and the
//!    campaign's return. The interval should cover the true lift.
//!
//! `--out DIR` writes offers.jsonl, assignments.csv, visits.csv
//! (`member,store,at_micros,spend_minor,voucher,campaign,discount_minor`), lift.svg and
//! report.json there (scripts/check_lift.py recomputes the report from the CSVs).

use chrono::{DateTime, Duration, Utc};
use o2okit::analytics::VisitLog;
use o2okit::campaign::simulate::{Simulation, SimulationParams};
use o2okit::campaign::*;
use o2okit::*;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

const MERCHANT: MerchantId = MerchantId(88);
const CAMPAIGN: CampaignId = CampaignId(7);

struct Args {
    members: u32,
    true_lift: f64,
    seed: u64,
    json: bool,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        members: 50_000,
        true_lift: 0.15,
        seed: 7,
        json: false,
        out: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--members" => {
                parsed.members = value("--members")?
                    .parse()
                    .map_err(|e| format!("--members: {e}"))?
            }
            "--true-lift" => {
                parsed.true_lift = value("--true-lift")?
                    .parse()
                    .map_err(|e| format!("--true-lift: {e}"))?
            }
            "--seed" => {
                parsed.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--out" => parsed.out = Some(PathBuf::from(value("--out")?)),
            "--json" => parsed.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| {
        format!(
            "{e}\nusage: campaign [--members N] [--true-lift X] [--seed N] [--json] [--out DIR]"
        )
    })?;
    let zone = chrono_tz::Asia::Shanghai;
    let campaign_at: DateTime<Utc> = "2026-09-01T02:00:00Z".parse()?;
    let mut params = SimulationParams::new(MERCHANT, args.members, campaign_at, args.seed);
    params.true_lift = args.true_lift;
    let sim = Simulation::new(params);
    let say = |line: String| {
        if !args.json {
            println!("{line}");
        }
    };

    // 1. A year of visits, in the ledger (a MemoryLedger here; SqliteLedger and PgLedger
    //    answer the same calls).
    let ledger = MemoryLedger::new(MERCHANT);
    let members = sim.members();
    for visit in sim.history() {
        ledger.record_visit(&visit)?;
    }

    // 2. 2% opted out at a till; an earlier campaign (3) reached 5% of members 20 days ago.
    for m in members.iter().step_by(50) {
        ledger.set_marketing_opt_out(m.id, true, campaign_at - Duration::days(60))?;
    }
    let earlier = campaign_at - Duration::days(20);
    let earlier_offers: Vec<Voucher> = members
        .iter()
        .skip(3)
        .step_by(20)
        .enumerate()
        .map(|(i, m)| {
            Voucher::new(
                VoucherId(9_000_000 + i as u64),
                MERCHANT,
                Currency::CNY,
                Benefit::AmountOff { minor: 1_000 },
            )
            .for_member(m.id)
            .campaign(CampaignId(3))
        })
        .collect();
    ledger.record_issues(&earlier_offers, earlier)?;

    // 3. Plan campaign 7 from what the ledger knows.
    let log = VisitLog::from_events(zone, &ledger.visits()?);
    let profiles = member_profiles(&members, &log, campaign_at);
    let cap = FrequencyCap::new(1, 30);
    let offer = OfferTemplate::new(
        Voucher::new(
            VoucherId(0),
            MERCHANT,
            Currency::CNY,
            Benefit::AmountOff { minor: 2_000 },
        )
        .max_uses(1),
    )
    .valid_for_days(zone, 28);
    let campaign = Campaign::new(CAMPAIGN, Audience::everyone().lapsed_regulars(3, 45), offer)
        .with_holdout(1_000)
        .with_frequency_cap(cap)
        .with_budget(Budget::discount(15_000_000));
    let holdout_key = HoldoutKey::from_bytes(&[0x42; 32]); // the merchant's secret
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // What the ledger knows: opt-outs, and the offers that count against the cap.
    let state = MarketingState::load(&ledger, campaign.frequency_cap.as_ref(), campaign_at)?;
    let ctx = PlanContext::new(
        &profiles,
        &state,
        &holdout_key,
        campaign_at,
        VoucherId(1_000_000),
    )
    .with_threads(threads);
    let plan = plan(&campaign, &ctx)?;
    say(format!(
        "campaign {}: audience {} lapsed regulars of {} members; skipped {} opted out, {} at the \
         frequency cap, {} past the budget; {} vouchers (CNY {} at most), {} held out",
        CAMPAIGN.0,
        plan.audience,
        members.len(),
        plan.skipped.opted_out,
        plan.skipped.capped,
        plan.skipped.over_budget,
        plan.vouchers,
        plan.max_discount_minor.unwrap_or(0) / 100,
        plan.holdout().count()
    ));

    // Issue: the vouchers into the ledger first (so what is sent counts against caps), then
    // the signed offers for the messaging system.
    let keyring =
        Keyring::with_active_key(MERCHANT, KeyId(1), SigningKey::from_bytes(&[0x24; 32])?);
    let dir = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => std::env::temp_dir().join(format!("o2okit-campaign-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let vouchers = plan.vouchers()?;
    ledger.record_issues(&vouchers, campaign_at)?;
    let mut out = BufWriter::new(std::fs::File::create(dir.join("offers.jsonl"))?);
    let written = write_offers(&plan, &keyring, OfferFormat::JsonLines, threads, &mut out)?;
    drop(out);
    say(format!(
        "issued {} offers ({} KB of JSON Lines) in {}",
        written.offers,
        written.bytes / 1024,
        dir.join("offers.jsonl").display()
    ));

    // 4. The four weeks after: every redemption is verified and redeemed at a till.
    let by_id: HashMap<VoucherId, &Voucher> = vouchers.iter().map(|v| (v.id, v)).collect();
    let region = RegionCode::new("440305")?;
    let mut refused = 0;
    for simulated in sim.weeks_after(&plan.assignments) {
        let visit = simulated.visit;
        let Some(voucher) = simulated.redeems.and_then(|id| by_id.get(&id)) else {
            ledger.record_visit(&visit)?;
            continue;
        };
        let text = voucher.sign(&keyring)?.to_scanner_text();
        let store = Store::new(visit.store, MERCHANT, zone, region.clone());
        let basket = Basket::single(Currency::CNY, visit.spend_minor)?;
        let mut till = RedemptionContext::new(&store, visit.at, &basket);
        till.member = visit
            .member
            .map(|m| MemberContext::new(m, Tier::BASIC, false));
        match verify(&text, &keyring, &till) {
            Decision::Accepted(accepted) => {
                let sale = IdempotencyKey::new(format!("sale-{}", voucher.id.0))?;
                if let RedeemOutcome::Refused { .. } =
                    ledger.redeem(&RedeemRequest::new(&accepted, &sale))?
                {
                    refused += 1;
                    ledger.record_visit(&visit)?;
                }
            }
            Decision::Rejected { .. } => {
                refused += 1;
                ledger.record_visit(&visit)?;
            }
        }
    }

    // 5. The lift report.
    let window = LiftWindow {
        from: campaign_at,
        until: campaign_at + Duration::days(28),
    };
    let visits = ledger.visits()?;
    let report = lift_report(&plan.assignments, &visits, window)?;
    if let Some(out) = &args.out {
        write_outputs(out, &plan, &visits, &report)?;
        std::fs::write(
            out.join("lift.svg"),
            lift_chart(&plan.assignments, &visits, window, CAMPAIGN),
        )?;
    } else {
        std::fs::remove_dir_all(&dir)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "\nlift over the 28 days after the campaign (true lift {:+.1}%; {refused} redemptions refused):\n",
        args.true_lift * 100.0
    );
    print!("{}", report.to_table());
    if let Some(row) = report.overall(CAMPAIGN) {
        println!("\ncampaign {}: {}", CAMPAIGN.0, row.statement());
        if let Some(lift) = row.visit_lift {
            let covered = if lift.covers(args.true_lift) {
                "covers"
            } else {
                "misses"
            };
            println!(
                "the 95% interval {covered} the true lift of {:+.1}%",
                args.true_lift * 100.0
            );
        }
    }
    if let Some(out) = &args.out {
        println!(
            "wrote offers.jsonl, assignments.csv, visits.csv, report.json and lift.svg to {}",
            out.display()
        );
    }
    Ok(())
}

/// assignments.csv, visits.csv and report.json, for scripts/check_lift.py.
fn write_outputs(
    dir: &std::path::Path,
    plan: &CampaignPlan,
    visits: &[VisitEvent],
    report: &LiftReport,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = BufWriter::new(std::fs::File::create(dir.join("assignments.csv"))?);
    write_assignments_csv(&plan.assignments, &mut out)?;
    let mut out = BufWriter::new(std::fs::File::create(dir.join("visits.csv"))?);
    writeln!(
        out,
        "member,store,at_micros,spend_minor,voucher,campaign,discount_minor"
    )?;
    let text = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for v in visits {
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            text(v.member.map(|m| m.0)),
            v.store.0,
            v.at.timestamp_micros(),
            v.spend_minor,
            text(v.voucher.map(|v| v.0)),
            text(v.campaign.map(|c| u64::from(c.0))),
            v.discount_minor
        )?;
    }
    out.flush()?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    Ok(())
}
