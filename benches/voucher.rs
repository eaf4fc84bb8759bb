//! Issue (sign + encode) and verify (decode + signature + every limit) of the reference
//! voucher, next to a bare HMAC-SHA256 over the same bytes in the same run.
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
    group.finish();
    c.final_summary();
}
