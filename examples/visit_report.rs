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
//!
//! A log too large for one run is reported in parts and merged:
//! `visit_report visits.csv --partition 0/8 --partial part0.json` keeps only the members
//! whose id hashes to part 0 of 8 (and, in part 0, the anonymous visits) and writes that
//! part's report; `visit_report --merge part*.json [--json] [--from DAY]` adds the parts up
//! to the whole log's report. Parts may also come from files already split by member (one
//! file per part, each read without `--partition`). `--to` applies when the parts are made.
//!
//! `--parquet FILE_OR_DIR` reads visits from Parquet instead (a file or a folder of
//! `.parquet` files; needs the `parquet` feature). `--export DIR` writes the tables as CSV
//! (`periods.csv`, `cohorts.csv`, `stores.csv` with `--by-store`, and `segments.csv`: each
//! member's RFM scores and segment as of the last visit read) and, with the `parquet`
//! feature, as Parquet beside them.
//!
//! A visit store keeps the visits in o2okit's own columns, so a report over years reads no
//! CSV again: `visit_report day.csv --append-to visits-store/ [--tz ZONE]` appends a day's
//! file (making the store, in that zone, on the first day), `visit_report --store
//! visits-store/ [--json …]` reports over everything appended.
//!
//! Reading a file that takes more than two seconds shows a progress line on standard error.
//!
//! `--by-store` adds each store's visits, members, spend and average ticket, under the store
//! ids the file used (any text: `S016`, `007` and `7` are three stores).
//!
//! `visit_report --sql duckdb|spark [--tz ZONE] [--period P] [--json]` prints the same report
//! as SQL for a warehouse (a `visits` table or view; see `o2okit::analytics::report_sql`).

use o2okit::LocalDateTime;
use o2okit::analytics::{self, CsvMode, Granularity, PartialReport, Partition, Periods};
use serde_json::json;
use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    files: Vec<String>,
    partition: Option<Partition>,
    partial: Option<String>,
    merge: bool,
    by_store: bool,
    parquet: bool,
    store: bool,
    append_to: Option<String>,
    export: Option<String>,
    sql: Option<analytics::SqlDialect>,
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
    let mut parsed = Args {
        files: Vec::new(),
        partition: None,
        partial: None,
        merge: false,
        by_store: false,
        parquet: false,
        store: false,
        append_to: None,
        export: None,
        sql: None,
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
            "--by-store" => parsed.by_store = true,
            "--parquet" => parsed.parquet = true,
            "--store" => parsed.store = true,
            "--append-to" => {
                parsed.append_to = Some(args.next().ok_or("--append-to needs a folder")?);
            }
            "--export" => parsed.export = Some(args.next().ok_or("--export needs a folder")?),
            "--merge" => parsed.merge = true,
            "--sql" => {
                parsed.sql = Some(match args.next().as_deref() {
                    Some("duckdb") => analytics::SqlDialect::DuckDb,
                    Some("spark") => analytics::SqlDialect::Spark,
                    other => return Err(format!("--sql takes duckdb or spark, not {other:?}")),
                })
            }
            "--partial" => parsed.partial = Some(args.next().ok_or("--partial needs a file name")?),
            "--partition" => {
                let part = args.next().unwrap_or_default();
                parsed.partition = part
                    .split_once('/')
                    .and_then(|(i, k)| Partition::new(i.parse().ok()?, k.parse().ok()?))
                    .map(Some)
                    .ok_or(format!("--partition takes I/K with I < K, not {part:?}"))?;
            }
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
            path => parsed.files.push(path.to_owned()),
        }
    }
    let usage = "usage: visit_report FILE.csv [--tz ZONE] [--json] [--svg OUT.svg] [--period month|week|day] [--skip-bad] [--threads N] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--partition I/K] [--partial OUT.json] [--by-store] [--export DIR]\n       visit_report --parquet FILE_OR_DIR [the same options]\n       visit_report --store DIR [the same options]\n       visit_report FILE.csv|--parquet FILE_OR_DIR [--tz ZONE] --append-to DIR\n       visit_report --merge PART.json... [--json] [--svg OUT.svg] [--from YYYY-MM-DD]\n       visit_report --sql duckdb|spark [--tz ZONE] [--period month|week|day] [--json]";
    if parsed.sql.is_some() {
        return Ok(parsed);
    }
    if parsed.files.is_empty() || (!parsed.merge && parsed.files.len() > 1) {
        return Err(usage.into());
    }
    if parsed.merge
        && (parsed.partition.is_some() || parsed.partial.is_some() || parsed.to.is_some())
    {
        return Err("--merge adds parts already made: --partition, --partial and --to apply when they are made".into());
    }
    if let (Some(from), Some(to)) = (parsed.from, parsed.to)
        && from > to
    {
        return Err(format!("--from {from} is after --to {to}"));
    }
    Ok(parsed)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    if let Some(dialect) = args.sql {
        let sql = analytics::report_sql(args.granularity, args.zone, dialect);
        if args.json {
            println!(
                "{}",
                json!({"periods": sql.periods, "cohorts": sql.cohorts})
            );
        } else {
            println!("{};\n\n{};", sql.periods.trim_end(), sql.cohorts.trim_end());
        }
        return Ok(());
    }
    let (mut stores, mut segments) = (None, None);
    let (mut report, zone, source) = if args.merge {
        let parts = args
            .files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                serde_json::from_str::<PartialReport>(&text).map_err(|e| format!("{path}: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let zone = parts[0].zone.parse().unwrap_or(args.zone);
        let report = analytics::merge(&parts).map_err(|e| e.to_string())?;
        (report, zone, format!("{} parts", parts.len()))
    } else {
        let file = &args.files[0];
        if let Some(dir) = &args.append_to {
            return append(&args, file, dir);
        }
        let log = read_log(&args, file)?;
        let zone = if args.store { log.zone() } else { args.zone };
        if let Some(path) = &args.partial {
            let partial = analytics::partial_report(&log, args.granularity)
                .map_err(|e| format!("{file}: {e}"))?;
            let json = serde_json::to_string(&partial).map_err(|e| e.to_string())?;
            std::fs::write(path, json).map_err(|e| format!("{path}: {e}"))?;
            eprintln!(
                "{} visits of {} members: partial report written to {path}",
                log.len(),
                log.member_count()
            );
            return Ok(());
        }
        let report =
            analytics::analyze(&log, args.granularity).map_err(|e| format!("{file}: {e}"))?;
        if args.by_store {
            stores = Some(analytics::store_report(&log));
        }
        if args.export.is_some() {
            // Members are scored as of the end of the visits read: `--to`'s night, else the
            // last visit.
            let as_of = match args.to {
                Some(to) => after_day(to, log.zone())?,
                None => log.at().last().copied().unwrap_or(0),
            };
            let as_of = chrono::DateTime::from_timestamp(as_of, 0).ok_or("no such instant")?;
            segments = Some(analytics::rfm(&log, as_of));
        }
        (report, zone, file.clone())
    };
    // Each member is new exactly once: in the period of their first visit.
    let members: u64 = report.periods.iter().map(|r| r.new).sum();
    let visits: u64 = report.periods.iter().map(|r| r.visits).sum();
    if let Some(from) = args.from {
        let start = first_instant(from, zone)?;
        let first = Periods::covering(report.granularity, zone, start, start);
        let shown = |label: &str| label >= first.label(0);
        report.periods.retain(|r| shown(&r.period));
        report.cohorts.retain(|c| shown(&c.cohort));
    }
    let (plural, singular) = match report.granularity {
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
        let mut out = json!({ plural: periods, "cohorts": cohorts });
        if let Some(stores) = &stores {
            out["stores"] = json!(stores);
        }
        println!("{out}");
    } else {
        println!("{visits} visits, {members} members, periods in {zone}\n");
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
        if let Some(stores) = &stores {
            let money =
                |m: Option<i64>| m.map_or("-".to_owned(), |m| format!("{:.2}", m as f64 / 100.0));
            println!(
                "\n{:<24} {:>9} {:>8} {:>14} {:>10}",
                "store", "visits", "members", "spend", "avg ticket"
            );
            for row in stores {
                println!(
                    "{:<24} {:>9} {:>8} {:>14} {:>10}",
                    row.store,
                    row.visits,
                    row.members,
                    money(row.spend_minor),
                    money(row.avg_ticket_minor)
                );
            }
        }
    }
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
        let mut tables = analytics::ReportTables::new(&report);
        (tables.stores, tables.segments) = (stores.as_deref(), segments.as_deref());
        let files = analytics::write_report_csv(tables, dir).map_err(|e| format!("{dir}: {e}"))?;
        #[cfg(feature = "parquet")]
        let files = [
            files,
            analytics::write_report_parquet(tables, dir).map_err(|e| e.to_string())?,
        ]
        .concat();
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("written: {}", names.join(", "));
    }
    if let Some(path) = &args.svg {
        let title = format!("Cohort retention — {source}");
        std::fs::write(path, analytics::cohort_heatmap(&report.cohorts, &title))
            .map_err(|e| format!("{path}: {e}"))?;
        eprintln!("cohort heatmap written to {path}");
    }
    Ok(())
}

/// The visits of `file` (up to `--to`, of `--partition`'s members), with a progress line on
/// standard error while reading takes more than two seconds.
fn read_log(args: &Args, file: &str) -> Result<analytics::VisitLog, String> {
    if args.store {
        let store = analytics::VisitStore::open(file).map_err(|e| format!("{file}: {e}"))?;
        let log = store.load().map_err(|e| format!("{file}: {e}"))?;
        return cut(args, log);
    }
    if args.parquet {
        return cut(args, read_parquet(args, file)?);
    }
    let bytes = csv_bytes(file).map_err(|e| format!("{file}: {e}"))?;
    let parsed = AtomicUsize::new(0);
    let import = with_progress("reading", bytes.len(), &parsed, || {
        analytics::read_csv_bytes_counting(&bytes, args.zone, args.mode, args.threads, &parsed)
    })
    .map_err(|e| format!("{file}: {e}"))?;
    drop(bytes);
    for skipped in &import.skipped {
        eprintln!("skipped {file}: {skipped}");
    }
    if !import.skipped.is_empty() {
        eprintln!("{} malformed rows skipped", import.skipped.len());
    }
    cut(args, import.log)
}

/// A CSV file's bytes: mapped where the system can (no copy into fresh memory), else read
/// with a progress line.
enum CsvBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for CsvBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            CsvBytes::Mapped(map) => map,
            CsvBytes::Read(bytes) => bytes,
        }
    }
}

fn csv_bytes(file: &str) -> std::io::Result<CsvBytes> {
    let f = std::fs::File::open(file)?;
    let size = f.metadata()?.len() as usize;
    if f.metadata()?.is_file() && size > 0 {
        // SAFETY: this assumes, as any tool reading a mapped file does (ripgrep, for one),
        // that nobody changes the file while the report reads it: one cut short meanwhile
        // faults the process (SIGBUS), one rewritten in place changes bytes the reader has
        // already checked. The map is only read, so nothing is lost either way; run the
        // report on a finished export.
        if let Ok(map) = unsafe { memmap2::MmapOptions::new().populate().map(&f) } {
            return Ok(CsvBytes::Mapped(map));
        }
    }
    let done = AtomicUsize::new(0);
    with_progress("loading", size, &done, || {
        let mut bytes = Vec::with_capacity(size);
        let mut f = f;
        let mut piece = vec![0u8; 16 << 20];
        loop {
            let n = f.read(&mut piece)?;
            if n == 0 {
                return Ok(CsvBytes::Read(bytes));
            }
            bytes.extend_from_slice(&piece[..n]);
            done.fetch_add(n, Ordering::Relaxed);
        }
    })
}

/// The visits of a Parquet file or folder.
#[cfg(feature = "parquet")]
fn read_parquet(args: &Args, path: &str) -> Result<analytics::VisitLog, String> {
    analytics::read_parquet(path, args.zone, args.threads).map_err(|e| e.to_string())
}

/// Without the `parquet` feature, says how to get it.
#[cfg(not(feature = "parquet"))]
fn read_parquet(_: &Args, _: &str) -> Result<analytics::VisitLog, String> {
    Err(
        "--parquet needs the parquet feature: cargo run --features parquet --example visit_report"
            .into(),
    )
}

/// Appends the visits of `file` to the store in `dir` (made, in `--tz`'s zone, if missing).
fn append(args: &Args, file: &str, dir: &str) -> Result<(), String> {
    let log = read_log(args, file)?;
    let exists = std::path::Path::new(dir)
        .join("o2okit-visits.json")
        .exists();
    let mut store = if exists {
        analytics::VisitStore::open(dir)
    } else {
        analytics::VisitStore::create(dir, args.zone)
    }
    .map_err(|e| format!("{dir}: {e}"))?;
    let added = store.append(&log).map_err(|e| format!("{dir}: {e}"))?;
    eprintln!(
        "{file}: {} visits appended to {dir} ({} new members, {} new stores); it holds {} visits in {} batches",
        added.visits,
        added.new_members,
        added.new_stores,
        store.len(),
        store.segments()
    );
    Ok(())
}

/// The log up to `--to` (a day of the log's own zone, which for a store is the store's), of
/// `--partition`'s members.
fn cut(args: &Args, log: analytics::VisitLog) -> Result<analytics::VisitLog, String> {
    let log = match args.to {
        Some(to) => log.before(after_day(to, log.zone())?),
        None => log,
    };
    Ok(match args.partition {
        Some(part) => log.partition(part),
        None => log,
    })
}

/// Runs `work`, showing `done` of `total` bytes on standard error every quarter second once it
/// has run for two seconds (a short run prints nothing).
fn with_progress<T>(what: &str, total: usize, done: &AtomicUsize, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let monitor = scope.spawn(|| {
            let mut shown = false;
            loop {
                std::thread::park_timeout(Duration::from_millis(250));
                let elapsed = start.elapsed().as_secs_f64();
                if finished.load(Ordering::Acquire) {
                    if shown {
                        eprintln!(
                            "\r{what}: {} MB in {elapsed:.1} s{:20}",
                            total / 1_000_000,
                            ""
                        );
                    }
                    return;
                }
                if elapsed >= 2.0 {
                    let now = done.load(Ordering::Relaxed).min(total);
                    eprint!(
                        "\r{what}: {} of {} MB ({}%), {elapsed:.1} s",
                        now / 1_000_000,
                        total / 1_000_000,
                        now * 100 / total.max(1)
                    );
                    shown = true;
                }
            }
        });
        let out = work();
        finished.store(true, Ordering::Release);
        monitor.thread().unpark();
        out
    })
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

/// The first instant after store-local day `day` in `zone` (`--to`'s night), Unix seconds.
fn after_day(day: chrono::NaiveDate, zone: chrono_tz::Tz) -> Result<i64, String> {
    first_instant(day.succ_opt().unwrap_or(day), zone)
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
