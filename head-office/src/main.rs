//! `o2okit-head-office`: the head office's sync service (see the crate docs for the routes).
//!
//! ```text
//! o2okit-head-office (--file hq.sync [--create] | --pg CONNINFO) --merchant 7 \
//!     --secret-file merchant.secret --root-seed-file root.seed [--listen 127.0.0.1:8480]
//! ```
//!
//! `--file` keeps the sync state in a SQLite file; `--pg` (built with the `postgres` feature)
//! in the chain's PostgreSQL database, beside the ledger's tables, where several instances of
//! the service may run at once.
//!
//! `--secret-file` holds the merchant secret (at least 32 bytes) from which every till's
//! journal key is derived; `--root-seed-file` the 32-byte Ed25519 seed of the root key that
//! signs deny lists (tills pin its public half). `--create` makes a new sync file. Stops
//! cleanly on Ctrl-C or SIGTERM, after the requests in flight.

use o2okit::head_office::HeadOffice;
use o2okit::{Ed25519Key, MerchantId, MerchantSecret};
use std::sync::Arc;

fn usage() -> ! {
    eprintln!(
        "usage: o2okit-head-office (--file PATH [--create] | --pg CONNINFO) --merchant N \
         --secret-file PATH --root-seed-file PATH [--listen ADDR]"
    );
    std::process::exit(2)
}

#[cfg(feature = "postgres")]
fn connect_pg(
    conninfo: &str,
    merchant: MerchantId,
    secret: MerchantSecret,
    root: Ed25519Key,
) -> Result<HeadOffice, o2okit::LedgerError> {
    HeadOffice::connect_pg(
        conninfo,
        merchant,
        secret,
        root,
        o2okit::PgOptions::default(),
    )
}

#[cfg(not(feature = "postgres"))]
fn connect_pg(
    _: &str,
    _: MerchantId,
    _: MerchantSecret,
    _: Ed25519Key,
) -> Result<HeadOffice, o2okit::LedgerError> {
    eprintln!("--pg needs a build with the `postgres` feature");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, mut merchant, mut secret, mut root) = (None, None, None, None);
    let mut pg: Option<String> = None;
    let (mut listen, mut create) = ("127.0.0.1:8480".to_owned(), false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--create" {
            create = true;
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--file" => file = Some(value),
            "--pg" => pg = Some(value),
            "--merchant" => merchant = Some(MerchantId(value.parse()?)),
            "--secret-file" => secret = Some(MerchantSecret::from_bytes(&std::fs::read(value)?)?),
            "--root-seed-file" => root = Some(Ed25519Key::from_bytes(&std::fs::read(value)?)?),
            "--listen" => listen = value,
            _ => usage(),
        }
    }
    let (Some(merchant), Some(secret), Some(root)) = (merchant, secret, root) else {
        usage()
    };
    // Opening blocks (and PostgreSQL's client drives its own runtime): off the async workers.
    let office = tokio::task::spawn_blocking(move || match (file, pg) {
        (Some(file), None) if create => HeadOffice::create(&file, merchant, secret, root),
        (Some(file), None) => HeadOffice::open(&file, merchant, secret, root),
        (None, Some(conninfo)) => connect_pg(&conninfo, merchant, secret, root),
        _ => usage(),
    })
    .await??;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "o2okit head office for merchant {merchant} on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, o2okit_head_office::router(Arc::new(office)))
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    Ok(())
}
