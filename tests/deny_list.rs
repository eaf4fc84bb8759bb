//! The deny list at an offline till: what the head office knows is revoked or spent is refused
//! with the ledger's own reasons, the signature still comes first, and the sizes a chain
//! publishes.

mod common;

use common::*;
use o2okit::*;

fn root() -> Ed25519Key {
    Ed25519Key::from_seed(&[0x5e; 32])
}

/// Ids from a generator (xorshift64) in `0..range`.
fn ids(count: usize, range: u64, mut state: u64) -> Vec<VoucherId> {
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            VoucherId(state % range)
        })
        .collect()
}

#[test]
fn an_offline_till_refuses_listed_vouchers_with_the_ledgers_reasons() {
    let head_office = DenyList::new(MERCHANT, 1)
        .with_revoked([VoucherId(2)])
        .with_exhausted([VoucherId(3)]);
    let list = DenyList::open(&head_office.sign(&root()), &root().public_key(), MERCHANT).unwrap();
    let store = shenzhen();
    let basket = cny(10_000);
    let ring = keyring();
    let ctx =
        RedemptionContext::new(&store, at("2026-06-15T04:00:00Z"), &basket).with_deny_list(&list);
    let decide = |voucher: &Voucher| verify(&text(voucher, &ring), &ring, &ctx);
    assert!(decide(&amount_off(1, 500)).is_accepted());
    assert_eq!(
        decide(&amount_off(2, 500)).rejection(),
        Some(Rejection::Revoked)
    );
    assert_eq!(
        decide(&amount_off(3, 500)).rejection(),
        Some(Rejection::AlreadyUsed)
    );
    // The signature is checked before the list: a forgery naming a listed id is a forgery.
    let forger = Keyring::with_active_key(MERCHANT, KeyId(1), key(9));
    assert_eq!(
        verify(&text(&amount_off(3, 500), &forger), &ring, &ctx).rejection(),
        Some(Rejection::BadSignature)
    );
    // Without the list the same till accepts them: the list is the only thing that knew.
    let online = RedemptionContext::new(&store, at("2026-06-15T04:00:00Z"), &basket);
    assert!(verify(&text(&amount_off(3, 500), &ring), &ring, &online).is_accepted());
}

fn text(voucher: &Voucher, ring: &Keyring) -> String {
    voucher.sign(ring).unwrap().to_scanner_text()
}

#[test]
fn a_million_ids_fit_in_three_megabytes_and_a_days_delta_in_kilobytes() {
    // One million spent vouchers with ids spread over 2^32 (a chain's id range).
    let million = DenyList::new(MERCHANT, 1).with_exhausted(ids(1_000_000, 1 << 32, 0x9e37));
    let bytes = million.sign(&root());
    println!("1,000,000 ids over 2^32: {} bytes", bytes.len());
    assert!(bytes.len() <= 3_000_000, "{} bytes", bytes.len());
    let opened = DenyList::open(&bytes, &root().public_key(), MERCHANT).unwrap();
    assert_eq!(opened, million);
    // A day of a 500-store chain whose vouchers come from a counter (ids of the last 90 days,
    // about 3 million): 2,000 and 10,000 single-use vouchers spent, 50 revoked.
    for spent in [2_000, 10_000] {
        let base = 10_000_000;
        let today = million
            .clone()
            .with_version(2)
            .with_exhausted(
                ids(spent, 3_000_000, 0x51ed)
                    .into_iter()
                    .map(|v| VoucherId(base + v.0)),
            )
            .with_revoked(
                ids(50, 3_000_000, 0x7f4a)
                    .into_iter()
                    .map(|v| VoucherId(base + v.0)),
            );
        let delta = million.delta_to(&today).sign(&root());
        println!(
            "a day with {spent} spent and 50 revoked: {} bytes",
            delta.len()
        );
        assert!(delta.len() <= 4 * spent, "{} bytes", delta.len());
        let mut till = opened.clone();
        till.apply_delta(&delta, &root().public_key()).unwrap();
        assert_eq!(till, today);
    }
}
