//! `o2okit-head-office`: the head office's sync service (see the crate docs for the routes).
//!
//! ```text
//! o2okit-head-office --file hq.sync --merchant 7 --secret-file merchant.secret \
//!     --root-seed-file root.seed [--listen 127.0.0.1:8480] [--create]
//! ```
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
        "usage: o2okit-head-office --file PATH --merchant N --secret-file PATH \
         --root-seed-file PATH [--listen ADDR] [--create]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, mut merchant, mut secret, mut root) = (None, None, None, None);
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
            "--merchant" => merchant = Some(MerchantId(value.parse()?)),
            "--secret-file" => secret = Some(MerchantSecret::from_bytes(&std::fs::read(value)?)?),
            "--root-seed-file" => root = Some(Ed25519Key::from_bytes(&std::fs::read(value)?)?),
            "--listen" => listen = value,
            _ => usage(),
        }
    }
    let (Some(file), Some(merchant), Some(secret), Some(root)) = (file, merchant, secret, root)
    else {
        usage()
    };
    let office = if create {
        HeadOffice::create(&file, merchant, secret, root)?
    } else {
        HeadOffice::open(&file, merchant, secret, root)?
    };
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
