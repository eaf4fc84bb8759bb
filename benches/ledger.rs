//! Durable redemptions per second: SQLite with 1 and 2 threads (each with its own connection
//! to the same file, like two tills), and the in-memory ledger; beside this disk's raw fsync
//! rate, measured in the same run, which bounds any durable ledger.
//!
//! A till's redemptions with its journal (one more row and MAC per decision, same
//! transaction), and the head office ingesting a till's batch of 2,000 records.
//!
//! Also the cost of opening a ledger, which checks the whole file (page structure, every row's
//! check, use counts against receipts): a ledger of 20,000 receipts and 100,000 issued
//! vouchers.
//!
//! With the `postgres` feature and a server (`scripts/with-postgres cargo bench --features
//! postgres --bench ledger`): `PgLedger` redemptions per second with 1, 8 and 32 concurrent
//! clients, beside the same server's bare rate of single-row `INSERT`s, each its own
//! transaction committed, with as many clients, in the same run.
//!
//! `cargo bench --bench ledger`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{Criterion, Throughput};
use o2okit::*;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Fresh single-use vouchers, verified outside the timed section.
fn acceptances(next_id: &AtomicU64, n: u64) -> Vec<Acceptance> {
    let first = next_id.fetch_add(n, Ordering::Relaxed);
    (first..first + n)
        .map(|v| accept(&amount_off(v, 100), None, 1_000))
        .collect()
}

fn redeem_all(ledger: &dyn Ledger, batch: &[Acceptance]) {
    for a in batch {
        let key = IdempotencyKey::new(format!("bench-{}", a.voucher().id)).unwrap();
        let outcome = ledger.redeem(&RedeemRequest::new(a, &key)).unwrap();
        assert!(outcome.receipt().is_some());
    }
}

fn fsync_rate(dir: &std::path::Path) -> f64 {
    let mut file = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    let block = [0x5au8; 4096];
    let rounds = 300;
    let start = Instant::now();
    for _ in 0..rounds {
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
    }
    f64::from(rounds) / start.elapsed().as_secs_f64()
}

/// Runs `work(client, share)` on `clients` threads, each given its share of `batch`.
#[cfg(feature = "postgres")]
fn on_clients<T: Sync>(clients: usize, batch: &[T], work: impl Fn(usize, &[T]) + Sync) -> Duration {
    let share = batch.len().div_ceil(clients).max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for (i, chunk) in batch.chunks(share).enumerate() {
            let work = &work;
            s.spawn(move || work(i, chunk));
        }
    });
    start.elapsed()
}

/// One connection for the bare rate: each row its own `INSERT`, committed on its own.
#[cfg(feature = "postgres")]
struct BareClient {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

#[cfg(feature = "postgres")]
impl BareClient {
    fn connect(conninfo: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(conninfo, tokio_postgres::NoTls))
            .unwrap();
        runtime.spawn(connection);
        BareClient { runtime, client }
    }

    fn batch(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .unwrap();
    }

    fn insert_each(&self, rows: &[i64]) {
        self.runtime.block_on(async {
            let insert = self
                .client
                .prepare("INSERT INTO bare (id, payload) VALUES ($1, $2)")
                .await
                .unwrap();
            for row in rows {
                self.client
                    .execute(&insert, &[row, &(row * 7)])
                    .await
                    .unwrap();
            }
        })
    }
}

#[cfg(feature = "postgres")]
fn postgres_rates(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    next_id: &AtomicU64,
) {
    let Some(admin) = pg_admin("ledger bench, PostgreSQL") else {
        return;
    };
    let conninfo = pg_database(&admin, "bench");
    let ledger = PgLedger::connect_with(
        &conninfo,
        MERCHANT,
        PgOptions::default().max_connections(32),
    )
    .unwrap();
    // The bare rate through the same client the ledger uses (tokio-postgres driven by a
    // single-threaded runtime in the calling thread), with its statement prepared.
    let bare: Vec<std::sync::Mutex<BareClient>> = (0..32)
        .map(|_| std::sync::Mutex::new(BareClient::connect(&conninfo)))
        .collect();
    bare[0]
        .lock()
        .unwrap()
        .batch("CREATE TABLE bare (id BIGINT PRIMARY KEY, payload BIGINT NOT NULL)");
    let next_row = AtomicU64::new(0);
    for clients in [1, 8, 32] {
        group.bench_function(format!("PostgreSQL, PgLedger, {clients} clients"), |b| {
            b.iter_custom(|n| {
                let batch = acceptances(next_id, n);
                on_clients(clients, &batch, |_, share| redeem_all(&ledger, share))
            })
        });
        group.bench_function(
            format!("PostgreSQL, bare single-row INSERT + COMMIT, {clients} clients"),
            |b| {
                b.iter_custom(|n| {
                    let first = next_row.fetch_add(n, Ordering::Relaxed);
                    let rows: Vec<i64> = (first..first + n).map(|r| r as i64).collect();
                    on_clients(clients, &rows, |i, share| {
                        bare[i].lock().unwrap().insert_each(share)
                    })
                })
            },
        );
    }
}

fn secret() -> MerchantSecret {
    MerchantSecret::from_bytes(&[0x5a; 32]).unwrap()
}

fn journal_key(till: TillId) -> JournalKey {
    JournalKey::derive(&secret(), MERCHANT, till)
}

/// Head-office ingest: a till's batch of 2,000 redemptions into a fresh sync file (and, with
/// the `postgres` feature and a server, a fresh database), every MAC checked, every record and
/// redemption stored, the deny list brought up to date, the acknowledgement and its signed
/// delta made, committed durably.
fn head_office_ingest(c: &mut Criterion, dir: &std::path::Path, next_id: &AtomicU64) {
    const RECORDS: u64 = 2_000;
    let till = SqliteLedger::create(dir.join("bench-ingest-till.db"), MERCHANT)
        .unwrap()
        .with_journal(journal_key(TillId(7)))
        .unwrap();
    redeem_all(&till, &acceptances(next_id, RECORDS));
    let batch = till
        .export_journal(RECORDS as usize, at("2026-06-02T00:00:00Z"))
        .unwrap();
    println!(
        "a batch of {RECORDS} redemption records: {} bytes",
        batch.len()
    );
    let root = Ed25519Key::from_seed(&[0x11; 32]);
    let files = AtomicU64::new(0);
    let mut group = c.benchmark_group("head office ingest");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("SQLite, 2,000 redemption records per batch", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let path = dir.join(format!("hq-{}.sync", files.fetch_add(1, Ordering::Relaxed)));
                let hq = HeadOffice::create(&path, MERCHANT, secret(), root.clone()).unwrap();
                let start = Instant::now();
                let ingested = hq.ingest(&batch).unwrap();
                total += start.elapsed();
                assert_eq!(ingested.new_records, RECORDS as usize);
                drop(hq);
                std::fs::remove_file(&path).unwrap();
            }
            total
        })
    });
    #[cfg(feature = "postgres")]
    if let Some(admin) = pg_admin("head office ingest, PostgreSQL") {
        group.bench_function("PostgreSQL, 2,000 redemption records per batch", |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let db = pg_database(&admin, "ingest");
                    let hq = HeadOffice::connect_pg(
                        &db,
                        MERCHANT,
                        secret(),
                        root.clone(),
                        PgOptions::default(),
                    )
                    .unwrap();
                    let start = Instant::now();
                    let ingested = hq.ingest(&batch).unwrap();
                    total += start.elapsed();
                    assert_eq!(ingested.new_records, RECORDS as usize);
                }
                total
            })
        });
    }
    group.finish();
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    println!(
        "this disk: {:.0} fsyncs/s (4 KiB write + fdatasync, in {})",
        fsync_rate(dir.path()),
        dir.path().display()
    );
    let path = dir.path().join("bench-ledger.db");
    let next_id = AtomicU64::new(0);

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let mut group = c.benchmark_group("ledger redeem");
    group.throughput(Throughput::Elements(1));

    let sqlite = SqliteLedger::create(&path, MERCHANT).unwrap();
    group.bench_function("SQLite, durable (WAL, synchronous=FULL), 1 thread", |b| {
        b.iter_custom(|n| {
            let batch = acceptances(&next_id, n);
            let start = Instant::now();
            redeem_all(&sqlite, &batch);
            start.elapsed()
        })
    });

    let journaled = SqliteLedger::create(dir.path().join("bench-till.db"), MERCHANT)
        .unwrap()
        .with_journal(journal_key(TillId(1)))
        .unwrap();
    group.bench_function("SQLite, durable, 1 thread, with the till journal", |b| {
        b.iter_custom(|n| {
            let batch = acceptances(&next_id, n);
            let start = Instant::now();
            redeem_all(&journaled, &batch);
            start.elapsed()
        })
    });

    let second = SqliteLedger::open(&path, MERCHANT).unwrap();
    group.bench_function("SQLite, durable, 2 threads (2 connections, 1 file)", |b| {
        b.iter_custom(|n| {
            let batch = acceptances(&next_id, n);
            let (left, right) = batch.split_at(batch.len() / 2);
            let start = Instant::now();
            std::thread::scope(|s| {
                s.spawn(|| redeem_all(&sqlite, left));
                s.spawn(|| redeem_all(&second, right));
            });
            start.elapsed()
        })
    });

    #[cfg(feature = "postgres")]
    postgres_rates(&mut group, &next_id);

    let memory = MemoryLedger::new(MERCHANT);
    group.bench_function("in memory, 1 thread", |b| {
        b.iter_custom(|n| {
            let batch = acceptances(&next_id, n);
            let start = Instant::now();
            redeem_all(&memory, &batch);
            start.elapsed()
        })
    });
    group.finish();

    head_office_ingest(&mut c, dir.path(), &next_id);

    let big = dir.path().join("bench-open.db");
    {
        let ledger = SqliteLedger::create(&big, MERCHANT).unwrap();
        let issued: Vec<Voucher> = (0..100_000u64)
            .map(|v| amount_off(10_000_000 + v, 100))
            .collect();
        ledger
            .record_issues(&issued, at("2026-06-01T00:00:00Z"))
            .unwrap();
        redeem_all(&ledger, &acceptances(&next_id, 20_000));
    }
    let mut group = c.benchmark_group("ledger open");
    group.sample_size(20);
    group.bench_function(
        "open + integrity check, 20,000 receipts and 120,000 vouchers",
        |b| b.iter(|| SqliteLedger::open(&big, MERCHANT).unwrap()),
    );
    group.finish();
    c.final_summary();
}
