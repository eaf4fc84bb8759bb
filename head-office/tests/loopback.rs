//! The service over loopback, as a chain runs it: the real binary started on a free port, two
//! tills syncing through it over HTTP, the reconciliation report read back, then stopped with
//! SIGTERM.

#[cfg(feature = "postgres")]
#[path = "../../tests/common/mod.rs"]
mod common;

use o2okit::head_office::HeadOffice;
use o2okit::journal::JournalBatch;
use o2okit::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const MERCHANT: MerchantId = MerchantId(7);
const SECRET: [u8; 32] = [0x5a; 32];
const ROOT_SEED: [u8; 32] = [0x11; 32];

/// One HTTP/1.1 request on a fresh connection: the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "this client reads whole bodies only"
    );
    (status, answer[split + 4..].to_vec())
}

struct Service {
    child: Child,
    addr: String,
}

/// Where the service keeps its state: a SQLite file, or a PostgreSQL database.
type Backing<'a> = Option<&'a str>;

impl Service {
    fn start(dir: &std::path::Path, backing: Backing<'_>) -> Self {
        std::fs::write(dir.join("merchant.secret"), SECRET).unwrap();
        std::fs::write(dir.join("root.seed"), ROOT_SEED).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_o2okit-head-office"));
        match backing {
            None => command.args(["--file", dir.join("hq.sync").to_str().unwrap(), "--create"]),
            Some(conninfo) => command.args(["--pg", conninfo]),
        };
        let mut child = command
            .args(["--merchant", "7"])
            .args([
                "--secret-file",
                dir.join("merchant.secret").to_str().unwrap(),
            ])
            .args(["--root-seed-file", dir.join("root.seed").to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("the service prints its address")
            .to_owned();
        Service { child, addr }
    }
}

fn till(dir: &std::path::Path, n: u32) -> SqliteLedger {
    let secret = MerchantSecret::from_bytes(&SECRET).unwrap();
    SqliteLedger::create(dir.join(format!("till-{n}.ledger")), MERCHANT)
        .unwrap()
        .with_journal(JournalKey::derive(&secret, MERCHANT, TillId(n)))
        .unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

fn sync(service: &Service, till: &SqliteLedger) -> SyncStatus {
    let batch = till.export_journal(1_000, now()).unwrap();
    let (status, ack) = http(&service.addr, "POST", "/v1/journal", &batch);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&ack));
    let root = Ed25519Key::from_seed(&ROOT_SEED).public_key();
    till.apply_sync_ack(&ack, &root, "2026-12-01T12:00:00Z".parse().unwrap())
        .unwrap()
}

fn redeem(till: &SqliteLedger, text: &str, sale: &str) -> Result<ReceiptId, Rejection> {
    let keyring = Keyring::with_active_key(
        MERCHANT,
        KeyId(1),
        SigningKey::from_bytes(&[9; 32]).unwrap(),
    );
    let store = Store::new(
        StoreId(1),
        MERCHANT,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440305").unwrap(),
    );
    let basket = Basket::single(Currency::CNY, 9_000).unwrap();
    let deny = till.deny_list().unwrap();
    let ctx = RedemptionContext::new(&store, "2026-12-01T04:00:00Z".parse().unwrap(), &basket)
        .with_deny_list(&deny);
    let accepted = match verify(text, &keyring, &ctx) {
        Decision::Accepted(a) => a,
        Decision::Rejected { reason } => return Err(reason),
    };
    let key = IdempotencyKey::new(sale).unwrap();
    match till.redeem(&RedeemRequest::new(&accepted, &key)).unwrap() {
        RedeemOutcome::Redeemed { receipt, .. } => Ok(receipt.id),
        RedeemOutcome::Refused { reason } => Err(reason),
    }
}

#[test]
fn two_tills_sync_over_http_and_the_report_names_their_double_spend() {
    two_tills_over_http(None);
}

#[cfg(feature = "postgres")]
#[test]
fn the_same_with_the_state_in_postgresql() {
    let Some(admin) = common::pg_admin("head_office_service") else {
        return;
    };
    let db = common::pg_database(&admin, "head_office_service");
    two_tills_over_http(Some(&db));
}

fn two_tills_over_http(backing: Backing<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), backing);
    let tills = [till(dir.path(), 1), till(dir.path(), 2)];
    for t in &tills {
        sync(&service, t);
    }
    let keyring = Keyring::with_active_key(
        MERCHANT,
        KeyId(1),
        SigningKey::from_bytes(&[9; 32]).unwrap(),
    );
    let text = Voucher::new(
        VoucherId(77),
        MERCHANT,
        Currency::CNY,
        Benefit::AmountOff { minor: 800 },
    )
    .sign(&keyring)
    .unwrap()
    .to_scanner_text();
    // Both offline, both accept.
    let receipts = [
        redeem(&tills[0], &text, "a-1").unwrap(),
        redeem(&tills[1], &text, "b-1").unwrap(),
    ];
    for t in &tills {
        let status = sync(&service, t);
        assert_eq!(status.acknowledged, status.written);
    }

    let (status, body) = http(&service.addr, "GET", "/v1/conflicts", b"");
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let conflicts = report.as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report}");
    assert_eq!(conflicts[0]["voucher"], 77);
    assert_eq!(conflicts[0]["excess_uses"], 1);
    let seen: Vec<(u64, u64)> = conflicts[0]["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["till"].as_u64().unwrap(), r["receipt"].as_u64().unwrap()))
        .collect();
    let mut seen = seen;
    seen.sort();
    assert_eq!(seen, vec![(1, receipts[0].0), (2, receipts[1].0)]);

    // The first till learns of the second's spend at its next sync.
    sync(&service, &tills[0]);
    assert_eq!(redeem(&tills[0], &text, "a-2"), Err(Rejection::AlreadyUsed));
    let (status, list) = http(&service.addr, "GET", "/v1/deny-list", b"");
    assert_eq!(status, 200);
    let root = Ed25519Key::from_seed(&ROOT_SEED).public_key();
    let list = DenyList::open(&list, &root, MERCHANT).unwrap();
    assert_eq!(list.check(VoucherId(77)), Some(Rejection::AlreadyUsed));

    let (status, body) = http(&service.addr, "GET", "/v1/tills/2", b"");
    assert_eq!(status, 200);
    let till_status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        till_status["through"],
        tills[1].sync_status().unwrap().written
    );

    // Bad batches get typed errors and change nothing.
    let (status, body) = http(&service.addr, "POST", "/v1/journal", b"not a batch");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"],
        "malformed"
    );
    redeem(
        &tills[1],
        &Voucher::new(
            VoucherId(78),
            MERCHANT,
            Currency::CNY,
            Benefit::AmountOff { minor: 100 },
        )
        .sign(&keyring)
        .unwrap()
        .to_scanner_text(),
        "b-2",
    )
    .unwrap();
    let mut batch = JournalBatch::decode(&tills[1].export_journal(10, now()).unwrap()).unwrap();
    let payload = String::from_utf8(batch.records[0].payload.clone()).unwrap();
    batch.records[0].payload = payload
        .replace("\"amount_minor\":100", "\"amount_minor\":900")
        .into_bytes();
    let (status, body) = http(&service.addr, "POST", "/v1/journal", &batch.encode());
    assert_eq!(status, 409);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"],
        "broken_chain"
    );
    assert_eq!(
        sync(&service, &tills[1]).acknowledged,
        tills[1].sync_status().unwrap().written
    );

    // Stop: SIGTERM, and the service exits cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &service.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(service.child.wait().unwrap().success());
    // The store holds what was delivered, for the next start.
    let secret = MerchantSecret::from_bytes(&SECRET).unwrap();
    let root = Ed25519Key::from_seed(&ROOT_SEED);
    let office = match backing {
        None => HeadOffice::open(dir.path().join("hq.sync"), MERCHANT, secret, root),
        Some(db) => connect_pg(db, secret, root),
    }
    .unwrap();
    assert_eq!(office.conflicts().unwrap().len(), 1);
}

#[cfg(feature = "postgres")]
fn connect_pg(
    db: &str,
    secret: MerchantSecret,
    root: Ed25519Key,
) -> Result<HeadOffice, LedgerError> {
    HeadOffice::connect_pg(db, MERCHANT, secret, root, PgOptions::default())
}

#[cfg(not(feature = "postgres"))]
fn connect_pg(_: &str, _: MerchantSecret, _: Ed25519Key) -> Result<HeadOffice, LedgerError> {
    unreachable!("no PostgreSQL in this build")
}
