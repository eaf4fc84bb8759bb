//! Arbitrary camera frames through the QR decoder: every frame gives a result or a typed
//! error, and nothing panics out of `decode_luma`.
//!
//! rqrr panics on some frames (see fuzz/regressions/qr_decode/); `decode_luma` contains those
//! panics and reports `QrError::DecoderPanic`. libFuzzer's panic hook would abort on a
//! contained panic too, so this target installs a silent hook: a panic that escapes
//! `decode_luma` still unwinds into libfuzzer-sys, which reports it as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Once;

static QUIET: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if data.len() < 4 {
        return;
    }
    // The first bytes choose the frame's shape; the rest are its pixels.
    let width = usize::from(data[0]) % 96 + 1;
    let stride = width + usize::from(data[1]) % 8;
    let pixels = &data[2..];
    let height = (pixels.len() / stride).max(1);
    let _ = o2okit::qr::decode_luma(width, height, stride, pixels);
});
