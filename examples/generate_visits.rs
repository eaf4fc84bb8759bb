//! Writes a synthetic visit CSV: `cargo run --release --example generate_visits -- OUT.csv
//! [--members N] [--stores N] [--months N] [--tz ZONE] [--seed N]`.

use o2okit::analytics::synthetic::{SyntheticParams, generate};
use std::io::BufWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
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
            path => out = Some(path.to_owned()),
        }
    }
    let out = out.ok_or("usage: generate_visits OUT.csv [--members N] [--stores N] [--months N] [--tz ZONE] [--seed N]")?;
    let log = generate(&params);
    o2okit::analytics::write_csv(&log, BufWriter::new(std::fs::File::create(&out)?))?;
    eprintln!(
        "{} visits of {} members written to {out}",
        log.len(),
        log.member_count()
    );
    Ok(())
}
