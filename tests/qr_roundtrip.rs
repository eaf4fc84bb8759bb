//! Render → decode round trips for every token kind, in clean codes and in camera-like frames.
#![cfg(feature = "qr")]

mod common;

use common::*;
use o2okit::qr::{DecodeLimits, EcLevel, GreyImage, QrError, decode_luma, encode};
use o2okit::*;

fn read_frame(path: &std::path::Path) -> GreyImage {
    o2okit::qr::read_image_file(path, &DecodeLimits::default()).unwrap()
}

fn texts() -> Vec<(&'static str, String)> {
    let ring = keyring();
    let policy = CheckInPolicy::default();
    vec![
        (
            "voucher",
            reference_voucher().sign(&ring).unwrap().to_scanner_text(),
        ),
        (
            "voucher, base64url",
            reference_voucher().sign(&ring).unwrap().to_base64url(),
        ),
        (
            "rotating check-in",
            rotating_code(&ring, StoreId(1001), &policy, at("2026-06-15T04:00:00Z"))
                .unwrap()
                .to_scanner_text(),
        ),
        (
            "printed check-in",
            printed_code(&ring, StoreId(1001))
                .unwrap()
                .to_scanner_text(),
        ),
    ]
}

#[test]
fn every_token_kind_round_trips_through_a_clean_code() {
    for (kind, text) in texts() {
        for level in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
            let code = encode(&text, level).unwrap();
            let (side, pixels) = code.to_luma(4);
            assert_eq!(
                decode_luma(side, side, side, &pixels).unwrap(),
                std::slice::from_ref(&text),
                "{kind} {level:?}"
            );
        }
    }
}

#[test]
fn a_code_inside_a_dim_720p_frame_with_row_padding_decodes() {
    let text = reference_voucher()
        .sign(&keyring())
        .unwrap()
        .to_scanner_text();
    let code = encode(&text, EcLevel::M).unwrap();
    let (side, pixels) = code.to_luma(6);
    // A 1280×720 frame, rows padded to 1344 bytes, dim and low-contrast, the code off-centre.
    let (w, h, stride) = (1280, 720, 1344);
    let mut frame = vec![0u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            frame[y * stride + x] = 70 + ((x * 7 + y * 3) % 11) as u8;
        }
    }
    for y in 0..side {
        for x in 0..side {
            frame[(y + 150) * stride + x + 600] = if pixels[y * side + x] == 0 { 40 } else { 110 };
        }
    }
    assert_eq!(decode_luma(w, h, stride, &frame).unwrap(), [text]);
}

/// Frames from `bench/qr_robustness.py` (segno + Pillow: 2–3 px modules, rotation,
/// perspective, blur, noise) and the text each holds.
const HARD_FRAMES: [(&str, &str); 5] = [
    (
        "vga-2px-rot5.png",
        "02HDHC54RXGAVH8GPQY9HEHYZNP7TJ2RG0APPJ1NSCG70H7FW348",
    ),
    (
        "2px-perspective-noise.png",
        "001BJMYBFDBSHW1J1VD17J1MQ39MW80AQ0X742NDWFD1A",
    ),
    (
        "vga-2px-rot36-blur.png",
        "0TJSJS68E987W3Z98APYCWG7BQ3SFR0GN6Q3DJQH3MQS6T4BET4",
    ),
    (
        "720p-2px-rot27-perspective.png",
        "0MG412PMQKGBYRNQ1D43TT4H4XWRR28HKZQY19CHEGEF0S0FZ5NGP61MDSACAANZJQTJQZFFQMB8446K7WY2ATY",
    ),
    (
        "720p-2px-rot39.png",
        "0WAG19NAM3XARFQK3XT3YYRJXSYC99XCY0ZZ3J5MTXQK5JVAGCKEBBED8",
    ),
];

#[test]
fn frames_rqrrs_detector_misses_are_read_by_the_locator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qr");
    for (file, text) in HARD_FRAMES {
        let image = read_frame(&dir.join(file));
        let (w, h) = (image.width, image.height);
        // Bare rqrr finds no readable code in these frames...
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| image.pixels[y * w + x]);
        let bare: Vec<String> = prepared
            .detect_grids()
            .iter()
            .filter_map(|g| g.decode().ok().map(|(_, t)| t))
            .collect();
        assert!(bare.is_empty(), "{file}: bare rqrr read it");
        // ...o2okit does.
        assert_eq!(
            qr::decode_image_file(dir.join(file)).unwrap(),
            [text],
            "{file}"
        );
    }
}

#[test]
fn every_code_in_a_frame_is_returned() {
    // A phone showing its membership card beside a voucher: two clean codes, one frame.
    let ring = keyring();
    let card = membership_card(&ring, MemberId(7), &CardNumber::from_serial(42).unwrap())
        .unwrap()
        .to_scanner_text();
    let voucher = reference_voucher().sign(&ring).unwrap().to_scanner_text();
    let (w, h) = (800, 400);
    let mut frame = vec![200u8; w * h];
    for (text, left) in [(&card, 40), (&voucher, 420)] {
        let (side, pixels) = encode(text, EcLevel::M).unwrap().to_luma(4);
        for y in 0..side {
            for x in 0..side {
                frame[(y + 40) * w + x + left] = pixels[y * side + x];
            }
        }
    }
    let mut found = decode_luma(w, h, w, &frame).unwrap();
    found.sort();
    let mut expected = vec![card, voucher];
    expected.sort();
    assert_eq!(found, expected);

    // Two hard frames side by side: only the locator reads them, and it reads both.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qr");
    let left = read_frame(&dir.join(HARD_FRAMES[0].0));
    let right = read_frame(&dir.join(HARD_FRAMES[2].0));
    assert_eq!(
        ((left.width, left.height), (right.width, right.height)),
        ((640, 480), (640, 480))
    );
    let mut pair = Vec::with_capacity(1280 * 480);
    for y in 0..480 {
        pair.extend_from_slice(&left.pixels[y * 640..(y + 1) * 640]);
        pair.extend_from_slice(&right.pixels[y * 640..(y + 1) * 640]);
    }
    let mut found = decode_luma(1280, 480, 1280, &pair).unwrap();
    found.sort();
    let mut expected = vec![HARD_FRAMES[0].1.to_owned(), HARD_FRAMES[2].1.to_owned()];
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn the_terminal_svg_and_png_forms_describe_the_same_code() {
    let code = encode("0123456789ABCDEFGHJK", EcLevel::M).unwrap();
    assert_eq!(code.version(), 1);
    assert_eq!(code.size(), 21);
    let svg = code.to_svg(8);
    assert!(svg.starts_with("<svg") && svg.contains("viewBox=\"0 0 29 29\""));
    let dark = (0..21)
        .flat_map(|y| (0..21).map(move |x| (x, y)))
        .filter(|&(x, y)| code.is_dark(x, y))
        .count();
    assert_eq!(svg.matches("h1v1h-1z").count(), dark);
    let png = code.to_png(3);
    assert_eq!(&png[1..4], b"PNG");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("code.png");
    std::fs::write(&file, png).unwrap();
    assert_eq!(
        o2okit::qr::decode_image_file(&file).unwrap(),
        ["0123456789ABCDEFGHJK"]
    );
    let terminal = code.to_terminal();
    assert_eq!(terminal.lines().count(), 29usize.div_ceil(2));
    assert!(terminal.lines().all(|l| l.chars().count() == 29));
}

#[test]
fn bad_frames_are_errors_and_empty_frames_have_no_codes() {
    assert!(matches!(
        decode_luma(10, 10, 9, &[0; 100]),
        Err(QrError::InvalidFrame(_))
    ));
    assert!(matches!(
        decode_luma(10, 10, 10, &[0; 99]),
        Err(QrError::InvalidFrame(_))
    ));
    assert!(matches!(
        decode_luma(usize::MAX, 3, usize::MAX, &[0; 10]),
        Err(QrError::InvalidFrame(_))
    ));
    assert_eq!(decode_luma(0, 0, 0, &[]).unwrap(), Vec::<String>::new());
    assert_eq!(
        decode_luma(64, 64, 64, &[255; 4096]).unwrap(),
        Vec::<String>::new()
    );
    // A one-pixel-wide frame (the qr_decode fuzz target's first find: rqrr indexed out of
    // bounds on it) has no code and is no error.
    let column: Vec<u8> = (0..1108u32).map(|i| (i * 37 % 251) as u8).collect();
    assert_eq!(
        decode_luma(1, 1108, 1, &column).unwrap(),
        Vec::<String>::new()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not.png");
    std::fs::write(&file, b"not an image").unwrap();
    assert!(matches!(
        o2okit::qr::decode_image_file(&file),
        Err(QrError::Image(_))
    ));
}

#[test]
fn decoder_panics_are_contained() {
    // A 26x57 frame on which rqrr 0.11 fails an internal assertion (found by the qr_decode
    // fuzz target): decode_luma reports it instead of unwinding into the till.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/regressions/qr_decode/rqrr-geometry-assertion"
    );
    let data = std::fs::read(path).unwrap();
    let width = usize::from(data[0]) % 96 + 1;
    let stride = width + usize::from(data[1]) % 8;
    let pixels = &data[2..];
    let result = decode_luma(width, pixels.len() / stride, stride, pixels);
    assert_eq!(result, Err(QrError::DecoderPanic));
}

#[test]
fn a_decoder_kept_across_frames_reads_each_as_decode_luma_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qr");
    let text = reference_voucher()
        .sign(&keyring())
        .unwrap()
        .to_scanner_text();
    let code = encode(&text, EcLevel::M).unwrap();
    let (side, clean) = code.to_luma(4);
    // A 1920×1080 frame with the code at 8 px a module: searched at full size, then halved.
    let (big_side, big) = code.to_luma(8);
    let (w, h) = (1920, 1080);
    let mut full_hd = vec![128u8; w * h];
    for y in 0..big_side {
        for x in 0..big_side {
            full_hd[(y + 100) * w + x + 900] = big[y * big_side + x];
        }
    }
    let mut frames: Vec<(usize, usize, usize, Vec<u8>)> = vec![
        (side, side, side, clean.clone()),
        (1280, 720, 1280, vec![90u8; 1280 * 720]),
        (w, h, w, full_hd),
        // Too short for its size: an error, after which the decoder goes on.
        (side, side, side, clean[..side].to_vec()),
        (side, side, side + 3, clean.clone()),
    ];
    for (file, _) in HARD_FRAMES {
        let image = read_frame(&dir.join(file));
        frames.push((image.width, image.height, image.width, image.pixels));
    }
    frames.push((side, side, side, clean));
    let mut decoder = qr::Decoder::new();
    let mut decoded = 0;
    for (round, (w, h, stride, pixels)) in frames.iter().enumerate() {
        let fresh = decode_luma(*w, *h, *stride, pixels);
        let kept = decoder
            .decode(*w, *h, *stride, pixels)
            .map(<[String]>::to_vec);
        assert_eq!(kept, fresh, "frame {round}");
        assert_eq!(decoder.texts(), kept.as_deref().unwrap_or(&[]));
        decoded += kept.map_or(0, |texts| texts.len());
    }
    // The clean code twice, the full-HD one, the five hard frames.
    assert_eq!(decoded, 8);
}
