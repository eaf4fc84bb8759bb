//! Several processes on one SQLite ledger file, and processes killed mid-write.
//!
//! This test binary is its own child: run with `O2OKIT_CHILD` set it plays one till, otherwise
//! it is the parent that spawns the tills and checks the file afterwards.
//!
//! - race: 4 processes × 8 threads try to redeem each of 1,000 single-use vouchers; exactly
//!   1,000 succeed and every other attempt is refused as already used.
//! - crash: a till redeeming in a loop is SIGKILLed at random moments, 25 times; after each
//!   kill every redemption it acknowledged is in the file, none twice.
//! - create: a process creating ledgers one after another is SIGKILLed at random moments, 40
//!   times; every ledger path then holds either nothing or a whole ledger that opens.

mod common;

use common::*;
use o2okit::*;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const VOUCHERS: u64 = 1_000;
const PROCESSES: usize = 4;
const THREADS: usize = 8;
const KILLS: usize = 25;

fn main() {
    match std::env::var("O2OKIT_CHILD").as_deref() {
        Ok("race") => return race_child(),
        Ok("crash") => return crash_child(),
        Ok("create") => return create_child(),
        _ => {}
    }
    let tests: [(&str, fn()); 3] = [
        (
            "eight_threads_in_four_processes_spend_each_voucher_once",
            race,
        ),
        ("acknowledged_redemptions_survive_sigkill", crash),
        (
            "a_ledger_killed_while_being_created_is_absent_or_whole",
            create,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(test);
        let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
        failed += usize::from(outcome.is_err());
        println!(
            "test {name} ... {verdict} ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "ledger_processes: {} passed, {failed} failed",
        tests.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn child(mode: &str, path: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env("O2OKIT_CHILD", mode)
        .env("O2OKIT_LEDGER", path)
        .stdout(Stdio::piped());
    command
}

fn ledger_path() -> PathBuf {
    PathBuf::from(std::env::var_os("O2OKIT_LEDGER").expect("O2OKIT_LEDGER set"))
}

fn race() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(SqliteLedger::create(&path, MERCHANT).unwrap());
    let go = dir.path().join("go");
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            child("race", &path)
                .env("O2OKIT_GO", &go)
                .env("O2OKIT_PROCESS", p.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(&go, b"go").unwrap();
    let (mut redeemed, mut already_used) = (0u64, 0u64);
    for c in children {
        let output = c.wait_with_output().unwrap();
        assert!(output.status.success(), "a till failed");
        let text = String::from_utf8(output.stdout).unwrap();
        let counts: Vec<u64> = text
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        redeemed += counts[0];
        already_used += counts[1];
    }
    let attempts = VOUCHERS * (PROCESSES * THREADS) as u64;
    assert_eq!(redeemed, VOUCHERS, "exactly one success per voucher");
    assert_eq!(
        already_used,
        attempts - VOUCHERS,
        "every other attempt refused"
    );
    let ledger = SqliteLedger::open(&path, MERCHANT).unwrap();
    for v in 0..VOUCHERS {
        assert_eq!(ledger.record(VoucherId(v)).unwrap().unwrap().uses, 1);
    }
    assert_eq!(ledger.visits().unwrap().len() as u64, VOUCHERS);
}

fn race_child() {
    let go = PathBuf::from(std::env::var_os("O2OKIT_GO").unwrap());
    let process: u64 = std::env::var("O2OKIT_PROCESS").unwrap().parse().unwrap();
    let acceptances: Arc<Vec<Acceptance>> = Arc::new(
        (0..VOUCHERS)
            .map(|v| accept(&amount_off(v, 100), None, 1_000))
            .collect(),
    );
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let barrier = Arc::new(Barrier::new(THREADS));
    let counts = Arc::new(Mutex::new((0u64, 0u64)));
    let threads: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let (acceptances, barrier, counts) =
                (acceptances.clone(), barrier.clone(), counts.clone());
            std::thread::spawn(move || {
                let ledger = SqliteLedger::open(ledger_path(), MERCHANT).unwrap();
                let mut order: Vec<u64> = (0..VOUCHERS).collect();
                let mut rng = Rng(0x9e37_79b9 ^ (process << 32) ^ (t + 1));
                for i in (1..order.len()).rev() {
                    order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
                }
                barrier.wait();
                let (mut ok, mut used) = (0, 0);
                for v in order {
                    let key = format!("p{process}-t{t}-v{v}");
                    match redeem(&ledger, &acceptances[v as usize], &key) {
                        Ok(_) => ok += 1,
                        Err(Rejection::AlreadyUsed) => used += 1,
                        Err(other) => panic!("unexpected refusal {other}"),
                    }
                }
                let mut c = counts.lock().unwrap();
                c.0 += ok;
                c.1 += used;
            })
        })
        .collect();
    for t in threads {
        t.join().expect("till thread panicked");
    }
    let (ok, used) = *counts.lock().unwrap();
    println!("{ok} {used}");
}

fn crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(SqliteLedger::create(&path, MERCHANT).unwrap());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("crash schedule seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: Vec<(u64, u64)> = Vec::new(); // (voucher, receipt)
    for round in 0..KILLS {
        let start = acked.last().map_or(0, |(v, _)| v + 1);
        let mut till = child("crash", &path)
            .env("O2OKIT_START", start.to_string())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(till.stdout.take().unwrap());
        let mut line = String::new();
        // Wait until the till is in its loop, then kill it 0–60 ms later.
        lines.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        std::thread::sleep(Duration::from_micros(rng.next() % 60_000));
        till.kill().unwrap(); // SIGKILL
        till.wait().unwrap();
        let mut round_acks = 0;
        loop {
            line.clear();
            if lines.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
                break; // end of output, or a line cut off by the kill: not an acknowledgement
            }
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .map(|n| n.parse().unwrap())
                .collect();
            acked.push((fields[0], fields[1]));
            round_acks += 1;
        }
        let ledger = SqliteLedger::open(&path, MERCHANT).unwrap();
        for &(v, receipt) in &acked {
            let r = ledger
                .receipt(ReceiptId(receipt))
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged receipt {receipt} lost"));
            assert_eq!(r.voucher, VoucherId(v));
            assert_eq!(ledger.record(VoucherId(v)).unwrap().unwrap().uses, 1);
        }
        // At most one redemption committed but not yet acknowledged, and never twice.
        let visits = ledger.visits().unwrap().len();
        assert!(
            visits == acked.len() || visits == acked.len() + 1,
            "round {round}: {visits} visits for {} acknowledged",
            acked.len()
        );
        eprintln!(
            "round {round}: killed after {round_acks} acks, {} in all",
            acked.len()
        );
    }
    assert!(acked.len() > KILLS, "the till made progress between kills");
}

fn crash_child() {
    let start: u64 = std::env::var("O2OKIT_START").unwrap().parse().unwrap();
    let ledger = SqliteLedger::open(ledger_path(), MERCHANT).unwrap();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for v in start.. {
        let acceptance = accept(&amount_off(v, 100), None, 1_000);
        // The key is the voucher's: a redemption committed just before the previous kill is
        // replayed, not spent again.
        let (receipt, _replayed) = redeem(&ledger, &acceptance, &format!("crash-{v}")).unwrap();
        writeln!(out, "ack {v} {}", receipt.id).unwrap();
        out.flush().unwrap();
    }
}

const CREATE_KILLS: usize = 40;

fn create() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("create schedule seed {seed}");
    let mut rng = Rng(seed);
    let (mut whole, mut staging_left) = (0, 0);
    for round in 0..CREATE_KILLS {
        let round_dir = dir.path().join(format!("round-{round}"));
        std::fs::create_dir(&round_dir).unwrap();
        let mut process = child("create", &round_dir.join("ledger")).spawn().unwrap();
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        std::thread::sleep(Duration::from_micros(rng.next() % 40_000));
        process.kill().unwrap();
        process.wait().unwrap();
        for entry in std::fs::read_dir(&round_dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".ledger-") && name.contains(".o2okit-new-") {
                staging_left += 1;
                continue;
            }
            if name.ends_with("-wal") || name.ends_with("-shm") {
                continue;
            }
            match SqliteLedger::open(&path, MERCHANT) {
                Ok(ledger) => {
                    assert!(ledger.visits().unwrap().is_empty());
                    whole += 1;
                }
                Err(e) => panic!("round {round}: {name} left unusable: {e}"),
            }
        }
    }
    // The path being created when a kill came holds nothing: only its staging files remain.
    eprintln!(
        "{CREATE_KILLS} kills: {whole} ledgers whole, none half-made; \
         {staging_left} staging files (with their -wal/-shm) left beside them"
    );
}

fn create_child() {
    let base = ledger_path();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for n in 0.. {
        let path = base.with_file_name(format!("ledger-{n}"));
        drop(SqliteLedger::create(&path, MERCHANT).unwrap());
    }
}
