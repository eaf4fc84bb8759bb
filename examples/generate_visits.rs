//! Writes a synthetic visit CSV: `cargo run --release --example generate_visits -- OUT.csv
//! [--members N] [--stores N] [--months N] [--tz ZONE] [--seed N] [--parts K]
//! [--reference REPORT.json]`.
//!
//! `--parts K` writes K files split by member instead of one (`OUT.part0.csv`, …: each
//! member's visits in the file of their hash's part, the anonymous ones in part 0), as a
//! warehouse partitioned by member holds them. `--reference` also writes the whole log's
//! monthly report as a one-part partial report (`visit_report --merge REPORT.json`), computed
//! from the generated visits in memory, for checking reports made from the files.

use o2okit::analytics::synthetic::{SyntheticParams, generate};
use o2okit::analytics::{Granularity, Partition, partial_report, write_csv};
use std::io::BufWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut parts = None;
    let mut reference = None;
    let mut params = SyntheticParams {
        members: 2_000,
        stores: 10,
        start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).ok_or("date")?,
        months: 12,
        zone: chrono_tz::Asia::Shanghai,
        seed: 2026,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--members" => params.members = value()?.parse()?,
            "--stores" => params.stores = value()?.parse()?,
            "--months" => params.months = value()?.parse()?,
            "--seed" => params.seed = value()?.parse()?,
            "--tz" => params.zone = value()?.parse().map_err(|e| format!("{e}"))?,
            "--parts" => parts = Some(value()?.parse::<u32>()?).filter(|&k| k > 0),
            "--reference" => reference = Some(value()?),
            path => out = Some(path.to_owned()),
        }
    }
    let out = out.ok_or("usage: generate_visits OUT.csv [--members N] [--stores N] [--months N] [--tz ZONE] [--seed N] [--parts K] [--reference REPORT.json]")?;
    let log = generate(&params);
    if let Some(path) = reference {
        let whole = partial_report(&log, Granularity::Month)?;
        std::fs::write(&path, serde_json::to_string(&whole)?)?;
        eprintln!("the whole log's report written to {path}");
    }
    match parts {
        None => {
            write_csv(&log, BufWriter::new(std::fs::File::create(&out)?))?;
            eprintln!(
                "{} visits of {} members written to {out}",
                log.len(),
                log.member_count()
            );
        }
        Some(count) => {
            let stem = out.strip_suffix(".csv").unwrap_or(&out);
            for i in 0..count {
                let part = log.partition(Partition::new(i, count).ok_or("part")?);
                let path = format!("{stem}.part{i}.csv");
                write_csv(&part, BufWriter::new(std::fs::File::create(&path)?))?;
                eprintln!(
                    "{} visits of {} members written to {path}",
                    part.len(),
                    part.member_count()
                );
            }
        }
    }
    Ok(())
}
