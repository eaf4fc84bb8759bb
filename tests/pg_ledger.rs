//! `PgLedger` against a real PostgreSQL server (`scripts/with-postgres`): many processes and
//! threads on one database, the server restarted under load, the schema and merchant checks,
//! and the async pattern.
//!
//! This test binary is its own child: run with `O2OKIT_CHILD` set it plays one till process,
//! otherwise it is the parent that spawns the tills and checks the database afterwards.
//!
//! - race: 4 processes × 8 threads try to redeem each of 1,000 single-use vouchers; exactly
//!   1,000 succeed.
//! - stored value: 4 × 8 spend 200 stored-value vouchers in random partial amounts until each
//!   is refused; every balance is issued − spent, never negative, and matches the receipts.
//! - restart: the server is restarted in immediate mode (a crash) three times while tills
//!   redeem; every acknowledged receipt is there afterwards, no voucher is spent twice, tills
//!   saw typed `Unavailable`/`OutcomeUnknown` errors and their retries with the same keys
//!   converged.
//! - C: `examples/pos.c`, linked against the static library built with the `postgres`
//!   feature, switches to the shared database with `--pg`; two tills scanning one voucher at
//!   once redeem it once.

mod common;

use common::*;
use o2okit::*;
use std::io::{BufRead, BufReader};
use std::num::NonZeroU64;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const PROCESSES: usize = 4;
const THREADS: usize = 8;
const SINGLE_USE: u64 = 1_000;
const STORED_VALUE: u64 = 200;
const FACE_VALUE: u64 = 10_000;
/// Vouchers redeemed (once each, retried through the restarts) in the restart test.
const RESTART_VOUCHERS: u64 = 3_000;

/// A test's name and body, given the server's admin connection string.
type Test = (&'static str, fn(&str));

fn main() {
    match std::env::var("O2OKIT_CHILD").as_deref() {
        Ok("race") => return race_child(),
        Ok("stored") => return stored_child(),
        Ok("restart") => return restart_child(),
        _ => {}
    }
    let Some(admin) = pg_admin("pg_ledger") else {
        return;
    };
    let tests: [Test; 7] = [
        ("schema_version_and_merchants_are_checked", schema_checks),
        (
            "connection_strings_and_unreachable_servers",
            connection_errors,
        ),
        ("single_use_vouchers_are_spent_once_by_32_tills", race),
        (
            "stored_value_balances_stay_exact_under_32_tills",
            stored_value,
        ),
        (
            "a_server_restarted_under_load_loses_and_doubles_nothing",
            restart,
        ),
        (
            "an_async_backend_redeems_on_the_blocking_pool",
            async_backend,
        ),
        (
            "c_tills_share_the_database_through_o2o_ledger_open_pg",
            c_tills,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(|| test(&admin));
        let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
        failed += usize::from(outcome.is_err());
        println!(
            "test {name} ... {verdict} ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "pg_ledger: {} passed, {failed} failed",
        tests.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn database() -> String {
    std::env::var("O2OKIT_PG_DB").expect("O2OKIT_PG_DB set")
}

fn psql(conninfo: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([conninfo, "-qAtc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Spawns the tills of `mode` on `db` and returns every line they printed.
fn run_tills(mode: &str, db: &str, during: impl FnOnce()) -> Vec<String> {
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(std::env::current_exe().unwrap())
                .env("O2OKIT_CHILD", mode)
                .env("O2OKIT_PG_DB", db)
                .env("O2OKIT_PROCESS", p.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    during();
    let mut lines = Vec::new();
    for mut child in children {
        let out = child.stdout.take().unwrap();
        lines.extend(BufReader::new(out).lines().map(Result::unwrap));
        assert!(child.wait().unwrap().success(), "a till process failed");
    }
    lines
}

fn process() -> usize {
    std::env::var("O2OKIT_PROCESS").unwrap().parse().unwrap()
}

/// Runs `f(thread)` on [`THREADS`] threads that start together.
fn on_threads<T: Send + 'static>(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (f, start) = (f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f(t)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn single_use(id: u64) -> Voucher {
    amount_off(id, 500)
}

fn stored(id: u64) -> Voucher {
    Voucher::new(
        VoucherId(100_000 + id),
        MERCHANT,
        Currency::CNY,
        Benefit::StoredValue { minor: FACE_VALUE },
    )
}

fn race(admin: &str) {
    let db = pg_database(admin, "race");
    let ledger = PgLedger::connect(&db, MERCHANT).unwrap();
    let vouchers: Vec<Voucher> = (1..=SINGLE_USE).map(single_use).collect();
    ledger
        .record_issues(&vouchers, at("2026-06-01T00:00:00Z"))
        .unwrap();
    let lines = run_tills("race", &db, || {});
    let redeemed: u64 = lines.iter().map(|l| l.parse::<u64>().unwrap()).sum();
    assert_eq!(redeemed, SINGLE_USE);
    assert_eq!(
        psql(
            &db,
            "SELECT count(*), count(DISTINCT voucher) FROM o2okit_receipts"
        ),
        format!("{SINGLE_USE}|{SINGLE_USE}")
    );
    for id in [1, SINGLE_USE / 2, SINGLE_USE] {
        assert_eq!(ledger.record(VoucherId(id)).unwrap().unwrap().uses, 1);
    }
}

fn race_child() {
    let ledger = Arc::new(PgLedger::connect(&database(), MERCHANT).unwrap());
    let acceptances: Arc<Vec<Acceptance>> = Arc::new(
        (1..=SINGLE_USE)
            .map(|id| accept(&single_use(id), None, 10_000))
            .collect(),
    );
    let p = process();
    let counts = on_threads(move |t| {
        let mut rng = Rng(0x9e37_79b9 + (p * THREADS + t) as u64);
        let mut redeemed = 0u64;
        for id in rng.shuffled(SINGLE_USE) {
            let a = &acceptances[(id - 1) as usize];
            match redeem(ledger.as_ref(), a, &format!("p{p}-t{t}-{id}")) {
                Ok((_, replayed)) => {
                    assert!(!replayed);
                    redeemed += 1;
                }
                Err(reason) => assert_eq!(reason, Rejection::AlreadyUsed),
            }
        }
        redeemed
    });
    println!("{}", counts.iter().sum::<u64>());
}

fn stored_value(admin: &str) {
    let db = pg_database(admin, "stored");
    let ledger = PgLedger::connect(&db, MERCHANT).unwrap();
    let vouchers: Vec<Voucher> = (1..=STORED_VALUE).map(stored).collect();
    ledger
        .record_issues(&vouchers, at("2026-06-01T00:00:00Z"))
        .unwrap();
    let lines = run_tills("stored", &db, || {});
    // Each line: voucher id and amount of one acknowledged partial spend.
    let mut spent = std::collections::HashMap::<u64, u64>::new();
    for line in &lines {
        let (id, amount) = line.split_once(' ').unwrap();
        *spent.entry(id.parse().unwrap()).or_default() += amount.parse::<u64>().unwrap();
    }
    for voucher in &vouchers {
        let record = ledger.record(voucher.id).unwrap().unwrap();
        let acknowledged = spent.get(&voucher.id.0).copied().unwrap_or(0);
        assert_eq!(record.value_spent_minor, acknowledged, "{}", voucher.id);
        assert_eq!(
            record.value_left_minor(),
            Some(FACE_VALUE - acknowledged),
            "{}",
            voucher.id
        );
        // Every till spent until refused: nothing is left.
        assert_eq!(acknowledged, FACE_VALUE, "{}", voucher.id);
    }
    assert_eq!(
        psql(
            &db,
            "SELECT count(*) FROM (SELECT voucher FROM o2okit_receipts GROUP BY voucher \
             HAVING sum(amount) > 10000) AS over"
        ),
        "0"
    );
}

fn stored_child() {
    let ledger = Arc::new(PgLedger::connect(&database(), MERCHANT).unwrap());
    let acceptances: Arc<Vec<Acceptance>> = Arc::new(
        (1..=STORED_VALUE)
            .map(|id| accept(&stored(id), None, 10_000))
            .collect(),
    );
    let p = process();
    let spends = on_threads(move |t| {
        let mut rng = Rng(0x51ed_270b + (p * THREADS + t) as u64);
        let mut spends = Vec::new();
        for id in rng.shuffled(STORED_VALUE) {
            let a = &acceptances[(id - 1) as usize];
            for n in 0.. {
                let amount = NonZeroU64::new(1 + rng.next() % 3_000).unwrap();
                let key = idem(&format!("p{p}-t{t}-{id}-{n}"));
                match ledger
                    .redeem(&RedeemRequest::new(a, &key).with_amount(amount))
                    .unwrap()
                {
                    RedeemOutcome::Redeemed { receipt, .. } => {
                        assert!(receipt.amount_minor <= amount.get());
                        spends.push((100_000 + id, receipt.amount_minor));
                    }
                    RedeemOutcome::Refused { reason } => {
                        assert_eq!(reason, Rejection::NoValueLeft);
                        break;
                    }
                }
            }
        }
        spends
    });
    for (id, amount) in spends.into_iter().flatten() {
        println!("{id} {amount}");
    }
}

fn restart(admin: &str) {
    let restart_command = std::env::var("O2OKIT_PG_RESTART").expect("O2OKIT_PG_RESTART set");
    let db = pg_database(admin, "restart");
    let ledger = PgLedger::connect(&db, MERCHANT).unwrap();
    let vouchers: Vec<Voucher> = (1..=RESTART_VOUCHERS).map(single_use).collect();
    ledger
        .record_issues(&vouchers, at("2026-06-01T00:00:00Z"))
        .unwrap();
    // Crash recovery replays the WAL since the last checkpoint: without one, it replays the
    // earlier tests' writes too, which on a slow disk outlasts pg_ctl's wait.
    psql(admin, "CHECKPOINT");
    let lines = run_tills("restart", &db, || {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(1_500));
            let status = Command::new("sh")
                .args(["-c", &restart_command])
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "restart failed");
        }
    });
    let mut acknowledged = Vec::new();
    let mut errors = [0u64; 3];
    for line in &lines {
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["receipt", voucher, receipt] => acknowledged.push((
                voucher.parse::<u64>().unwrap(),
                receipt.parse::<u64>().unwrap(),
            )),
            ["errors", a, b, c] => {
                for (total, n) in errors.iter_mut().zip([a, b, c]) {
                    *total += n.parse::<u64>().unwrap();
                }
            }
            _ => panic!("unexpected line {line}"),
        }
    }
    let [unavailable, unknown, busy] = errors;
    println!(
        "  tills saw {unavailable} unavailable, {unknown} outcome unknown, {busy} busy; \
         each retried with the same key"
    );
    let typed_errors = unavailable + unknown + busy;
    assert!(typed_errors > 0, "no till noticed three restarts");
    // Every voucher was redeemed once and acknowledged once (each till retried until it knew).
    assert_eq!(acknowledged.len() as u64, RESTART_VOUCHERS);
    assert_eq!(
        psql(
            &db,
            "SELECT count(*), count(DISTINCT voucher) FROM o2okit_receipts"
        ),
        format!("{RESTART_VOUCHERS}|{RESTART_VOUCHERS}")
    );
    for (voucher, receipt) in acknowledged {
        let found = ledger.receipt(ReceiptId(receipt)).unwrap().unwrap();
        assert_eq!(found.voucher, VoucherId(voucher));
        assert_eq!(ledger.record(VoucherId(voucher)).unwrap().unwrap().uses, 1);
    }
}

fn restart_child() {
    let options = PgOptions::default()
        .connect_timeout(Duration::from_secs(2))
        .statement_timeout(Duration::from_secs(5));
    let ledger = Arc::new(PgLedger::connect_with(&database(), MERCHANT, options).unwrap());
    let p = process() as u64;
    let per_process = RESTART_VOUCHERS / PROCESSES as u64;
    let results = on_threads(move |t| {
        let mut acknowledged = Vec::new();
        let mut errors = [0u64; 3];
        // Each voucher belongs to one thread of one process: every one ends redeemed.
        let mine = (1..=per_process).filter(|i| i % THREADS as u64 == t as u64);
        for i in mine {
            let id = p * per_process + i;
            let a = accept(&single_use(id), None, 10_000);
            let key = idem(&format!("sale-{id}"));
            let deadline = Instant::now() + Duration::from_secs(240);
            loop {
                match ledger.redeem(&RedeemRequest::new(&a, &key)) {
                    Ok(RedeemOutcome::Redeemed { receipt, .. }) => {
                        acknowledged.push((id, receipt.id.0));
                        break;
                    }
                    Ok(other) => panic!("voucher {id}: {other:?}"),
                    Err(e) if Instant::now() < deadline => {
                        match e {
                            LedgerError::Unavailable(_) => errors[0] += 1,
                            LedgerError::OutcomeUnknown(_) => errors[1] += 1,
                            LedgerError::Busy => errors[2] += 1,
                            e => panic!("voucher {id}: {e}"),
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => panic!("voucher {id}: {e}"),
                }
            }
        }
        (acknowledged, errors)
    });
    let mut errors = [0u64; 3];
    for (acknowledged, e) in results {
        for (total, n) in errors.iter_mut().zip(e) {
            *total += n;
        }
        for (voucher, receipt) in acknowledged {
            println!("receipt {voucher} {receipt}");
        }
    }
    println!("errors {} {} {}", errors[0], errors[1], errors[2]);
}

fn schema_checks(admin: &str) {
    let db = pg_database(admin, "schema");
    let ledger = PgLedger::connect(&db, MERCHANT).unwrap();
    ledger
        .record_issue(&single_use(1), at("2026-06-01T00:00:00Z"))
        .unwrap();
    drop(ledger);
    // Another merchant is refused and writes nothing, until the head office registers it.
    let other = MerchantId(89);
    match PgLedger::connect(&db, other) {
        Err(LedgerError::UnregisteredMerchant { merchant, served }) => {
            assert_eq!((merchant, served), (other, vec![MERCHANT]));
        }
        result => panic!("{result:?}"),
    }
    assert_eq!(psql(&db, "SELECT count(*) FROM o2okit_merchants"), "1");
    let second =
        PgLedger::connect_with(&db, other, PgOptions::default().register_merchant(true)).unwrap();
    // Its data is apart from the first merchant's.
    assert!(second.record(VoucherId(1)).unwrap().is_none());
    assert!(
        PgLedger::connect(&db, MERCHANT)
            .unwrap()
            .record(VoucherId(1))
            .unwrap()
            .is_some()
    );
    // A version 2 database (before offers and opt-outs) is migrated, its data kept.
    psql(
        &db,
        "DROP TABLE o2okit_offers; DROP TABLE o2okit_marketing_opt_outs; \
         UPDATE o2okit_schema SET version = 2",
    );
    let migrated = PgLedger::connect(&db, MERCHANT).unwrap();
    assert_eq!(psql(&db, "SELECT version FROM o2okit_schema"), "3");
    assert!(migrated.record(VoucherId(1)).unwrap().is_some());
    migrated
        .set_marketing_opt_out(MemberId(3), true, at("2026-06-01T00:00:00Z"))
        .unwrap();
    assert_eq!(migrated.marketing_opt_outs().unwrap(), [MemberId(3)]);
    drop(migrated);
    // A newer schema is refused and left as it is.
    psql(&db, "UPDATE o2okit_schema SET version = 99");
    assert_eq!(
        PgLedger::connect(&db, MERCHANT).unwrap_err(),
        LedgerError::SchemaTooNew {
            found: 99,
            supported: 3
        }
    );
    assert_eq!(psql(&db, "SELECT version FROM o2okit_schema"), "99");
}

fn connection_errors(admin: &str) {
    // A string that does not parse: a typed error that does not repeat it (it may hold a
    // password).
    let err = PgLedger::connect("host=127.0.0.1 password='s3cret", MERCHANT).unwrap_err();
    assert!(matches!(err, LedgerError::InvalidRequest(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"));
    // Nobody listening: unavailable, within the connect timeout.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = PgOptions::default().connect_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = PgLedger::connect_with(
        &format!("host=127.0.0.1 port={port} user=o2okit password=s3cret"),
        MERCHANT,
        options,
    )
    .unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"));
    assert!(started.elapsed() < Duration::from_secs(10));
    // Debug output of a connected ledger holds no connection string.
    let db = pg_database(admin, "debug");
    let ledger = PgLedger::connect(&db, MERCHANT).unwrap();
    assert!(!format!("{ledger:?}").contains("127.0.0.1"));
}

fn async_backend(admin: &str) {
    let db = pg_database(admin, "async");
    let ledger = Arc::new(PgLedger::connect(&db, MERCHANT).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (redeemed, finished_when_ticker_ended) = runtime.block_on(async {
        let sales: Vec<_> = (1..=64u64)
            .map(|id| {
                let (ledger, finished) = (ledger.clone(), finished.clone());
                tokio::task::spawn_blocking(move || {
                    let a = accept(&single_use(id), None, 10_000);
                    let key = idem(&format!("web-{id}"));
                    let outcome = ledger.redeem(&RedeemRequest::new(&a, &key));
                    finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    outcome
                })
            })
            .collect();
        // A task on the runtime's only thread: it runs to its end while the redemptions are
        // still waiting on the database, because they wait on the blocking pool, not here.
        let ticker = {
            let finished = finished.clone();
            tokio::spawn(async move {
                for _ in 0..1_000 {
                    tokio::task::yield_now().await;
                }
                finished.load(std::sync::atomic::Ordering::SeqCst)
            })
        };
        let mut redeemed = 0;
        for sale in sales {
            if let RedeemOutcome::Redeemed { .. } = sale.await.unwrap().unwrap() {
                redeemed += 1;
            }
        }
        (redeemed, ticker.await.unwrap())
    });
    assert_eq!(redeemed, 64);
    assert!(
        finished_when_ticker_ended < 64,
        "the runtime thread waited for the database"
    );
    assert_eq!(ledger.visits().unwrap().len(), 64);
}

/// `examples/pos.c` built against the static library with the `postgres` feature.
fn pos_with_postgres() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/this-test → target/
    let target = exe.parent().unwrap().parent().unwrap().parent().unwrap();
    let out = target.join("o2okit-c-pg-test");
    let status = Command::new(manifest.join("scripts/build-c"))
        .args(["--debug", "--out"])
        .arg(&out)
        .args(["--features", "postgres"])
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", target)
        .current_dir(manifest)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "scripts/build-c --features postgres failed"
    );
    let pos = out.join("pos");
    let built = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(out.join("include"))
        .arg(manifest.join("examples/pos.c"))
        .arg(out.join("lib/libo2okit.a"))
        .args(SYSTEM_LIBS)
        .arg("-o")
        .arg(&pos)
        .status()
        .unwrap();
    assert!(built.success(), "pos.c does not build");
    pos
}

fn c_tills(admin: &str) {
    let pos = pos_with_postgres();
    let db = pg_database(admin, "c_tills");
    drop(PgLedger::connect(&db, MERCHANT).unwrap());
    let voucher = amount_off(77, 500)
        .sign(&keyring())
        .unwrap()
        .to_scanner_text();
    let till = |sale: &str| {
        let mut command = Command::new(&pos);
        command
            .args(["--pg", &db, "--merchant", "88", "--key-id", "1", "--key"])
            .arg("01".repeat(32))
            .args([
                "--store",
                "1001",
                "--tz",
                "Asia/Shanghai",
                "--region",
                "440305",
            ])
            .args(["--at", &at("2026-06-15T04:00:00Z").timestamp().to_string()])
            .args(["--spend", "10000", "--sale", sale])
            .arg(&voucher)
            .stdout(Stdio::piped());
        command
    };
    // Two tills of two stores' worth of processes scan the same voucher at the same moment.
    let children: Vec<_> = ["till-a/1", "till-b/1"]
        .iter()
        .map(|sale| till(sale).spawn().unwrap())
        .collect();
    let mut outcomes: Vec<(i32, String)> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8(out.stdout).unwrap(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes[0].0, 0, "{outcomes:?}");
    assert!(
        outcomes[0].1.starts_with("REDEEMED receipt="),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], (3, "REFUSED reason=already_used\n".into()));
    // The winner's retry replays its receipt.
    let winner = if PgLedger::connect(&db, MERCHANT)
        .unwrap()
        .history(VoucherId(77))
        .unwrap()
        .iter()
        .any(|e| matches!(e, o2okit::ledger::LedgerEvent::Redeemed { receipt } if receipt.idempotency_key.as_str() == "till-a/1"))
    {
        "till-a/1"
    } else {
        "till-b/1"
    };
    let again = till(winner).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        String::from_utf8(again.stdout)
            .unwrap()
            .contains("replayed=yes")
    );
}
