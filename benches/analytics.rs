//! Monthly metrics plus the cohort matrix on 10 million generated visits (1 million members,
//! 100 stores, 24 months), and in the same run DuckDB's equivalent SQL on the same data, held
//! in memory (through `scripts/duckdb_visits.py`; skipped with a note when Python's duckdb and
//! numpy are not installed). Also reports peak memory during the analysis against the raw
//! visit bytes.
//!
//! `cargo bench --bench analytics`

use criterion::Criterion;
use o2okit::analytics::synthetic::{SyntheticParams, generate};
use o2okit::analytics::{Granularity, VisitLog, VisitReport, analyze};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;

const ZONE: &str = "Asia/Shanghai";

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak resident memory while `f` runs, in bytes (Linux: resets the high-water mark first).
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let value = f();
    let peak = status_kib("VmHWM:").filter(|_| reset).map(|kib| kib * 1024);
    (value, peak)
}

fn write_column<T: Copy>(path: &Path, values: &[T], to_bytes: impl Fn(T) -> Vec<u8>) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for &v in values {
        out.write_all(&to_bytes(v)).unwrap();
    }
}

fn as_json(report: &VisitReport) -> serde_json::Value {
    serde_json::json!({
        "months": report.periods.iter().map(|r| serde_json::json!({
            "month": r.period, "active": r.active, "new": r.new, "retained": r.retained,
            "returning": r.returning, "churned": r.churned, "visits": r.visits,
            "spend_minor": r.spend_minor, "avg_ticket_minor": r.avg_ticket_minor,
        })).collect::<Vec<_>>(),
        "cohorts": report.cohorts.iter().map(|c| serde_json::json!({
            "cohort": c.cohort, "size": c.size, "active": c.active,
        })).collect::<Vec<_>>(),
    })
}

fn duckdb(log: &VisitLog, ours: &VisitReport) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    write_column(&dir.path().join("at.i64"), log.at(), |v| {
        v.to_le_bytes().to_vec()
    });
    write_column(&dir.path().join("member.u32"), log.member(), |v| {
        v.to_le_bytes().to_vec()
    });
    write_column(&dir.path().join("spend.i64"), log.spend(), |v| {
        v.to_le_bytes().to_vec()
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/duckdb_visits.py");
    let output = Command::new("python3")
        .arg(script)
        .args([
            "bench",
            &dir.path().display().to_string(),
            "--tz",
            ZONE,
            "--runs",
            "3",
        ])
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "DuckDB comparison skipped: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("python failed")
            );
            println!("  (install it with: python3 -m pip install duckdb numpy)");
            return;
        }
        Err(e) => {
            println!("DuckDB comparison skipped: python3 not runnable ({e})");
            return;
        }
    };
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let best = result["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_f64())
        .fold(f64::INFINITY, f64::min);
    let same = result["report"] == as_json(ours);
    println!(
        "DuckDB {} (same data in memory, same monthly table and cohorts): best of 3 = {:.1} ms; \
         results identical to o2okit's: {}",
        result["duckdb_version"].as_str().unwrap_or("?"),
        best * 1e3,
        if same { "yes" } else { "NO" }
    );
    assert!(same, "o2okit and DuckDB disagree");
    let start = std::time::Instant::now();
    let runs = 10;
    for _ in 0..runs {
        black_box(analyze(log, Granularity::Month).unwrap());
    }
    let ours_s = start.elapsed().as_secs_f64() / f64::from(runs);
    println!(
        "o2okit: {:.1} ms (mean of {runs}) -> {:.1}x faster than DuckDB",
        ours_s * 1e3,
        best / ours_s
    );
}

fn main() {
    let params = SyntheticParams {
        members: 1_000_000,
        stores: 100,
        start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        months: 24,
        zone: ZONE.parse().unwrap(),
        seed: 2026,
    };
    let log = generate(&params);
    let raw_bytes = log.len() as u64 * 24;
    println!(
        "log: {} visits, {} members, 100 stores, 24 months; raw visit bytes {:.0} MiB \
         (time 8 + member 4 + store 4 + spend 8 bytes a visit)",
        log.len(),
        log.member_count(),
        raw_bytes as f64 / 1048576.0
    );
    let (report, peak) = peak_during(|| analyze(&log, Granularity::Month).unwrap());
    match peak {
        Some(peak) => println!(
            "peak resident memory during the analysis: {:.0} MiB = {:.2}x the raw visit bytes \
             (log included)",
            peak as f64 / 1048576.0,
            peak as f64 / raw_bytes as f64
        ),
        None => println!("peak memory: not measurable on this system"),
    }
    duckdb(&log, &report);

    let mut c = Criterion::default().configure_from_args().sample_size(20);
    c.bench_function(
        "analytics/monthly metrics + cohort matrix, 10M visits",
        |b| b.iter(|| analyze(black_box(&log), Granularity::Month).unwrap()),
    );
    c.final_summary();
}
