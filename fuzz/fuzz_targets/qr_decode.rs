//! Arbitrary camera frames through the QR decoder: every frame gives a result or a typed
//! error, nothing panics out of `decode_luma`, and a `Decoder` kept across all the inputs of a
//! run reads each frame exactly as a fresh `decode_luma` does (nothing leaks from frame to
//! frame through its reused buffers).
//!
//! rqrr panics on some frames (see fuzz/regressions/qr_decode/); `decode_luma` contains those
//! panics and reports `QrError::DecoderPanic`. libFuzzer's panic hook would abort on a
//! contained panic too, so this target installs a silent hook: a panic that escapes
//! `decode_luma` still unwinds into libfuzzer-sys, which reports it as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, Once};

static QUIET: Once = Once::new();
static KEPT: Mutex<Option<o2okit::qr::Decoder>> = Mutex::new(None);

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
    let fresh = o2okit::qr::decode_luma(width, height, stride, pixels);
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    let decoder = kept.get_or_insert_with(o2okit::qr::Decoder::new);
    let again = decoder.decode(width, height, stride, pixels).map(<[String]>::to_vec);
    assert_eq!(again, fresh);
});
