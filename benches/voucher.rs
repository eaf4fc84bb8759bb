//! Issue (sign + encode) and verify (decode + signature + every limit) of the reference
//! voucher, next to the bare signature check over the same bytes in the same run: HMAC-SHA256
//! (keyed each time, and with its key schedule precomputed, as the keyring keeps it) and
//! Ed25519 (`verify_strict`).
//!
//! `cargo bench --bench voucher`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use o2okit::*;
use sha2::Sha256;
use std::hint::black_box;

fn main() {
    let ring = keyring();
    let voucher = reference_voucher();
    let token = voucher.sign(&ring).unwrap();
    let text = token.to_scanner_text();
    let signed = &token.as_bytes()[..token.as_bytes().len() - o2okit::token::TAG_LEN];
    println!(
        "reference voucher: {} bytes signed + {}-byte tag = {} bytes; scanner text {} characters \
         (QR 4-M holds 90); base64url {} characters",
        signed.len(),
        o2okit::token::TAG_LEN,
        token.as_bytes().len(),
        text.len(),
        token.to_base64url().len()
    );

    let store = reference_store();
    let basket = cny(12_800);
    let ctx = RedemptionContext::new(&store, at("2026-06-15T04:30:00Z"), &basket).with_member(
        MemberContext::new(MemberId(0x9e37_79b9_7f4a_7c15), Tier(0), false),
    );
    assert!(verify(&text, &ring, &ctx).is_accepted());

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("voucher");
    group.bench_function("issue (sign + scanner text)", |b| {
        b.iter(|| black_box(&voucher).sign(&ring).unwrap().to_scanner_text())
    });
    group.bench_function("verify (decode + signature + all limits)", |b| {
        b.iter(|| verify(black_box(&text), &ring, &ctx))
    });
    let secret = [1u8; 32];
    group.bench_function("bare HMAC-SHA256 over the same bytes", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(&secret)).unwrap();
            mac.update(black_box(signed));
            mac.finalize().into_bytes()
        })
    });
    let keyed = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    group.bench_function("HMAC-SHA256, key schedule precomputed", |b| {
        b.iter(|| {
            let mut mac = black_box(&keyed).clone();
            mac.update(black_box(signed));
            mac.finalize().into_bytes()
        })
    });

    // The public-key scheme: the same voucher signed with Ed25519, verified by a till that
    // holds the public key only.
    let mut head_office = Keyring::new(MERCHANT);
    head_office
        .add_key(
            KeyId(1),
            KeyRole::Vouchers,
            Ed25519Key::from_seed(&[0x42; 32]),
        )
        .unwrap();
    head_office.activate(KeyId(1)).unwrap();
    let till = head_office.verifying_keyring();
    let ed_token = voucher.sign(&head_office).unwrap();
    let ed_text = ed_token.to_scanner_text();
    let ed_bytes = ed_token.as_bytes();
    let (ed_signed, ed_signature) = ed_bytes.split_at(ed_bytes.len() - 64);
    println!(
        "reference voucher, Ed25519: {} bytes signed + 64-byte signature = {} bytes; scanner \
         text {} characters (QR 6-M holds 195)",
        ed_signed.len(),
        ed_bytes.len(),
        ed_text.len()
    );
    assert!(verify(&ed_text, &till, &ctx).is_accepted());
    group.bench_function("Ed25519: issue (sign + scanner text)", |b| {
        b.iter(|| {
            black_box(&voucher)
                .sign(&head_office)
                .unwrap()
                .to_scanner_text()
        })
    });
    group.bench_function("Ed25519: verify (decode + signature + all limits)", |b| {
        b.iter(|| verify(black_box(&ed_text), &till, &ctx))
    });
    let public = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]).verifying_key();
    let signature = ed25519_dalek::Signature::from_slice(ed_signature).unwrap();
    group.bench_function("bare Ed25519 verify_strict over the same bytes", |b| {
        b.iter(|| {
            black_box(&public)
                .verify_strict(black_box(ed_signed), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();

    // The deny list an offline till holds: one million spent vouchers, ids spread over 2^32.
    let mut state = 0x9e37u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % (1 << 32)
    };
    let listed: Vec<u64> = (0..1_000_000).map(|_| next()).collect();
    let list = DenyList::new(MERCHANT, 1).with_exhausted(listed.iter().map(|&id| VoucherId(id)));
    // Every listed id once, in a scattered order, so the probes do not stay in the caches
    // (4,096 repeated probes would: their table lines fit in L2).
    let probes = listed.len();
    let hits: Vec<VoucherId> = (0..probes)
        .map(|i| VoucherId(listed[(i * 241) % probes]))
        .collect();
    let misses: Vec<VoucherId> = (0..probes).map(|_| VoucherId(next())).collect();
    let mut group = c.benchmark_group("deny list");
    for (name, probes) in [
        ("lookup in 1,000,000 ids: a listed voucher", &hits),
        (
            "lookup in 1,000,000 ids: a voucher not listed (the everyday case)",
            &misses,
        ),
    ] {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = if i + 1 == probes.len() { 0 } else { i + 1 };
                list.check(black_box(probes[i]))
            })
        });
    }
    let with_list = ctx.with_deny_list(&list);
    group.bench_function(
        "verify (decode + signature + all limits) with the list",
        |b| b.iter(|| verify(black_box(&text), &ring, &with_list)),
    );
    group.finish();
    c.final_summary();
}
