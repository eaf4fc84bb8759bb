//! Arbitrary camera frames through the QR decoder (rqrr has panicked on real images): every
//! frame gives a result or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
