//! QR render and decode time per code: the reference voucher as a clean code, inside a dim
//! 1280×720 camera frame, a hard 1280×720 frame (2-px modules turned 27° in perspective) that
//! only the finder-pattern locator reads, and a 1280×720 frame without a code (every retry
//! runs: an idle kiosk's cost per frame); and the bounds on hostile frames: sensor noise at
//! 1920×1080 and at 4000×3000 (downscaled to fit 1920×1080 first).
//!
//! `cargo bench --bench qr`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::Criterion;
use o2okit::qr::{DecodeLimits, EcLevel, decode_luma, encode, read_image_file};
use std::hint::black_box;

fn main() {
    let text = reference_voucher()
        .sign(&keyring())
        .unwrap()
        .to_scanner_text();
    let code = encode(&text, EcLevel::M).unwrap();
    let (side, clean) = code.to_luma(4);
    let (w, h) = (1280, 720);
    let mut frame: Vec<u8> = (0..w * h)
        .map(|i| 70 + ((i % w) * 7 + (i / w) * 3) as u8 % 11)
        .collect();
    let (big_side, big) = code.to_luma(6);
    for y in 0..big_side {
        for x in 0..big_side {
            frame[(y + 150) * w + x + 600] = if big[y * big_side + x] == 0 { 40 } else { 110 };
        }
    }
    assert_eq!(
        decode_luma(side, side, side, &clean).unwrap(),
        std::slice::from_ref(&text)
    );
    assert_eq!(
        decode_luma(w, h, w, &frame).unwrap(),
        std::slice::from_ref(&text)
    );

    let hard = read_image_file(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/qr/720p-2px-rot27-perspective.png"),
        &DecodeLimits::default(),
    )
    .unwrap();
    let (hw, hh) = (hard.width, hard.height);
    assert_eq!(decode_luma(hw, hh, hw, &hard.pixels).unwrap().len(), 1);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("qr");
    group.bench_function("render voucher (matrix, level M)", |b| {
        b.iter(|| encode(black_box(&text), EcLevel::M).unwrap())
    });
    group.bench_function("render voucher as SVG", |b| b.iter(|| code.to_svg(8)));
    group.bench_function(format!("decode clean code ({side}x{side})"), |b| {
        b.iter(|| decode_luma(side, side, side, black_box(&clean)).unwrap())
    });
    group.bench_function("decode code in a dim 1280x720 frame", |b| {
        b.iter(|| decode_luma(w, h, w, black_box(&frame)).unwrap())
    });
    group.bench_function(
        "decode a hard 1280x720 frame (2 px modules, 27°, perspective)",
        |b| b.iter(|| decode_luma(hw, hh, hw, black_box(&hard.pixels)).unwrap()),
    );
    let mut empty = frame.clone();
    for y in 0..big_side {
        for x in 0..big_side {
            empty[(y + 150) * w + x + 600] = 70 + ((x * 7 + y * 3) % 11) as u8;
        }
    }
    assert!(decode_luma(w, h, w, &empty).unwrap().is_empty());
    group.bench_function(
        "decode a 1280x720 frame without a code (every retry runs)",
        |b| b.iter(|| decode_luma(w, h, w, black_box(&empty)).unwrap()),
    );
    group.sample_size(10);
    for (nw, nh) in [(1920, 1080), (4000, 3000)] {
        let frame = sensor_noise(nw, nh);
        assert!(decode_luma(nw, nh, nw, &frame).unwrap().is_empty());
        group.bench_function(format!("decode {nw}x{nh} sensor noise (bounded)"), |b| {
            b.iter(|| decode_luma(nw, nh, nw, black_box(&frame)).unwrap())
        });
    }
    group.finish();
    c.final_summary();
}
