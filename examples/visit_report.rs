//! `cargo run --release --example visit_report -- visits.csv [--tz Asia/Shanghai] [--json]
//! [--svg cohorts.svg] [--period month|week|day] [--skip-bad] [--threads N]
//! [--from YYYY-MM-DD] [--to YYYY-MM-DD]`
//!
//! Reads a visit CSV (`member_id,store_id,visited_at,spend_minor`) and prints the monthly
//! table — or JSON with `--json` — and writes a cohort heatmap with `--svg`. A malformed row
//! stops the report with its line number, unless `--skip-bad`, which skips such rows and
//! counts them on standard error. The file is read on every core (`--threads N` to choose;
//! `--threads 1` on one); it holds the file in memory while reading it. `--from` and `--to` (store-local days, both included) choose the
//! periods shown: the visits after `--to` are left out, as if the report ran that night, and
//! the periods before `--from`'s are computed but not shown, so a member seen before `--from`
//! is not new in it.

use o2okit::LocalDateTime;
use o2okit::analytics::{self, CsvMode, Granularity, Periods};
use serde_json::json;
use std::process::ExitCode;

struct Args {
    file: String,
    zone: chrono_tz::Tz,
    json: bool,
    svg: Option<String>,
    granularity: Granularity,
    mode: CsvMode,
    threads: usize,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut parsed = Args {
        file: String::new(),
        zone: chrono_tz::UTC,
        json: false,
        svg: None,
        granularity: Granularity::Month,
        mode: CsvMode::Strict,
        threads: 0,
        from: None,
        to: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tz" => {
                let name = args.next().ok_or("--tz needs a zone name")?;
                parsed.zone = name
                    .parse()
                    .map_err(|_| format!("unknown time zone {name:?}"))?;
            }
            "--json" => parsed.json = true,
            "--svg" => parsed.svg = Some(args.next().ok_or("--svg needs a file name")?),
            "--skip-bad" => parsed.mode = CsvMode::SkipMalformed,
            "--from" | "--to" => {
                let date = args
                    .next()
                    .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
                    .ok_or(format!("{arg} takes a date, YYYY-MM-DD"))?;
                match arg.as_str() {
                    "--from" => parsed.from = Some(date),
                    _ => parsed.to = Some(date),
                }
            }
            "--threads" => {
                parsed.threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--threads takes a positive count")?;
            }
            "--period" => {
                parsed.granularity = match args.next().as_deref() {
                    Some("month") => Granularity::Month,
                    Some("week") => Granularity::Week,
                    Some("day") => Granularity::Day,
                    other => {
                        return Err(format!("--period takes month, week or day, not {other:?}"));
                    }
                }
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            path => file = Some(path.to_owned()),
        }
    }
    parsed.file = file.ok_or("usage: visit_report FILE.csv [--tz ZONE] [--json] [--svg OUT.svg] [--period month|week|day] [--skip-bad] [--threads N] [--from YYYY-MM-DD] [--to YYYY-MM-DD]")?;
    if let (Some(from), Some(to)) = (parsed.from, parsed.to)
        && from > to
    {
        return Err(format!("--from {from} is after --to {to}"));
    }
    Ok(parsed)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let bytes = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file))?;
    let import = analytics::read_csv_bytes(&bytes, args.zone, args.mode, args.threads)
        .map_err(|e| format!("{}: {e}", args.file))?;
    drop(bytes);
    for skipped in &import.skipped {
        eprintln!("skipped {}: {skipped}", args.file);
    }
    if !import.skipped.is_empty() {
        eprintln!("{} malformed rows skipped", import.skipped.len());
    }
    let log = match args.to {
        Some(to) => import
            .log
            .before(first_instant(to.succ_opt().unwrap_or(to), args.zone)?),
        None => import.log,
    };
    let mut report =
        analytics::analyze(&log, args.granularity).map_err(|e| format!("{}: {e}", args.file))?;
    if let Some(from) = args.from {
        let start = first_instant(from, args.zone)?;
        let first = Periods::covering(args.granularity, args.zone, start, start);
        let shown = |label: &str| label >= first.label(0);
        report.periods.retain(|r| shown(&r.period));
        report.cohorts.retain(|c| shown(&c.cohort));
    }
    let (plural, singular) = match args.granularity {
        Granularity::Month => ("months", "month"),
        Granularity::Week => ("weeks", "week"),
        Granularity::Day => ("days", "day"),
    };
    if args.json {
        let periods: Vec<_> = report
            .periods
            .iter()
            .map(|r| {
                json!({
                    singular: r.period, "active": r.active, "new": r.new, "retained": r.retained,
                    "returning": r.returning, "churned": r.churned, "visits": r.visits,
                    "spend_minor": r.spend_minor, "avg_ticket_minor": r.avg_ticket_minor,
                })
            })
            .collect();
        let cohorts: Vec<_> = report
            .cohorts
            .iter()
            .map(|c| json!({"cohort": c.cohort, "size": c.size, "active": c.active}))
            .collect();
        println!("{}", json!({ plural: periods, "cohorts": cohorts }));
    } else {
        // Members with a visit in the log read (the dictionary also knows those seen after
        // --to).
        let mut seen = vec![false; log.member_count()];
        for &m in log.member() {
            if let Some(s) = seen.get_mut(m as usize) {
                *s = true;
            }
        }
        println!(
            "{} visits, {} members, periods in {}\n",
            log.len(),
            seen.iter().filter(|&&s| s).count(),
            args.zone
        );
        println!(
            "{singular:<10} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9} {:>14} {:>10}",
            "active", "new", "retained", "returning", "churned", "visits", "spend", "avg ticket"
        );
        for r in &report.periods {
            let ticket = r
                .avg_ticket_minor
                .map_or("-".to_owned(), |t| format!("{:.2}", t as f64 / 100.0));
            println!(
                "{:<10} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9} {:>14.2} {:>10}",
                r.period,
                r.active,
                r.new,
                r.retained,
                r.returning,
                r.churned,
                r.visits,
                r.spend_minor as f64 / 100.0,
                ticket
            );
        }
    }
    if let Some(path) = &args.svg {
        let title = format!("Cohort retention — {}", args.file);
        std::fs::write(path, analytics::cohort_heatmap(&report.cohorts, &title))
            .map_err(|e| format!("{path}: {e}"))?;
        eprintln!("cohort heatmap written to {path}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("visit_report: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The first instant of a store-local day in `zone`, Unix seconds.
fn first_instant(day: chrono::NaiveDate, zone: chrono_tz::Tz) -> Result<i64, String> {
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .ok_or("a date without a midnight")?;
    LocalDateTime::from_naive(midnight)
        .map(|local| local.first_instant_in(zone))
        .map_err(|e| format!("{day}: {e}"))
}
