//! Decoding camera frames and image files.
//!
//! A frame is tried as it comes with rqrr; then our own locator (see `locate`) reads it after
//! an adaptive and then a global threshold; then rqrr again at half size (large frames),
//! thresholded, and at double size (small modules). Every code found is returned, once each,
//! in the order found.

use super::QrError;
use super::binarize::{adaptive_threshold, global_threshold};
use super::locate::{BitFrame, locate_and_decode};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Frames narrower or shorter than this cannot hold a QR code.
const MIN_SIDE: usize = 21;

/// Frames wider or taller than this are also tried at half size.
const LARGE: usize = 1000;

/// Decodes every QR code in an 8-bit luma frame of `width × height` pixels whose rows start
/// `stride` bytes apart (as camera frames arrive).
///
/// # Errors
/// [`QrError::InvalidFrame`] when the buffer is shorter than `stride × (height − 1) + width`
/// or `stride < width`.
pub fn decode_luma(
    width: usize,
    height: usize,
    stride: usize,
    pixels: &[u8],
) -> Result<Vec<String>, QrError> {
    if width == 0 || height == 0 {
        return Ok(Vec::new());
    }
    let needed = stride
        .checked_mul(height - 1)
        .and_then(|n| n.checked_add(width))
        .filter(|_| stride >= width)
        .ok_or_else(|| QrError::InvalidFrame(format!("stride {stride} for width {width}")))?;
    if pixels.len() < needed {
        return Err(QrError::InvalidFrame(format!(
            "{} bytes for {width}×{height} with stride {stride} (needs {needed})",
            pixels.len()
        )));
    }
    // The smallest QR code is 21 modules a side; rqrr indexes out of bounds on frames
    // narrower than that (found by the qr_decode fuzz target).
    if width < MIN_SIDE || height < MIN_SIDE {
        return Ok(Vec::new());
    }
    let mut frame: Vec<u8> = Vec::with_capacity(width * height);
    for row in 0..height {
        frame.extend_from_slice(&pixels[row * stride..row * stride + width]);
    }
    let mut found = Vec::new();
    attempt(&mut found, width, height, &frame)?;
    let (mut w, mut h, mut data) = (width, height, frame);
    if found.is_empty() {
        // Our own locator on the full frame: it reads the small, blurred and rotated codes
        // rqrr's detector misses.
        let binary = adaptive_threshold(w, h, &data, 16);
        locate(&mut found, w, h, &binary);
        if found.is_empty() {
            locate(&mut found, w, h, &global_threshold(&data));
        }
    }
    while found.is_empty() && (w > LARGE || h > LARGE) {
        (w, h, data) = half(w, h, &data);
        attempt(&mut found, w, h, &data)?;
    }
    if found.is_empty() {
        let binary = adaptive_threshold(w, h, &data, 16);
        attempt(&mut found, w, h, &binary)?;
    }
    if found.is_empty() {
        attempt(&mut found, w, h, &global_threshold(&data))?;
    }
    if found.is_empty() && w <= LARGE && h <= LARGE {
        // Small modules (2–3 px) blur into each other: give the detector more pixels.
        let (dw, dh, doubled) = double(w, h, &data);
        attempt(&mut found, dw, dh, &doubled)?;
        if found.is_empty() {
            attempt(
                &mut found,
                dw,
                dh,
                &adaptive_threshold(dw, dh, &doubled, 12),
            )?;
        }
    }
    Ok(found)
}

/// Decodes every QR code in a PNG or JPEG file.
///
/// # Errors
/// [`QrError::Image`] when the file cannot be read or decoded.
pub fn decode_image_file(path: impl AsRef<Path>) -> Result<Vec<String>, QrError> {
    let image = image::open(path.as_ref()).map_err(|e| QrError::Image(e.to_string()))?;
    let luma = image.to_luma8();
    let (w, h) = (luma.width() as usize, luma.height() as usize);
    decode_luma(w, h, w, luma.as_raw())
}

/// Adds the codes of one pass that were not found before.
fn attempt(
    found: &mut Vec<String>,
    width: usize,
    height: usize,
    data: &[u8],
) -> Result<(), QrError> {
    for text in scan(width, height, data)? {
        if !found.contains(&text) {
            found.push(text);
        }
    }
    Ok(())
}

/// Adds the codes our locator finds in a binarised frame.
fn locate(found: &mut Vec<String>, width: usize, height: usize, binary: &[u8]) {
    let frame = BitFrame {
        width,
        height,
        pixels: binary,
    };
    for text in locate_and_decode(&frame) {
        if !found.contains(&text) {
            found.push(text);
        }
    }
}

/// One rqrr pass, with its panics contained.
fn scan(width: usize, height: usize, data: &[u8]) -> Result<Vec<String>, QrError> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| data[y * width + x]);
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
            .collect()
    }))
    .map_err(|_| QrError::DecoderPanic)
}

/// The frame at half size (2×2 box average).
fn half(width: usize, height: usize, data: &[u8]) -> (usize, usize, Vec<u8>) {
    let (w, h) = (width / 2, height / 2);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let at = |dx, dy| u16::from(data[(2 * y + dy) * width + 2 * x + dx]);
            out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4) as u8);
        }
    }
    (w, h, out)
}

/// The frame at double size (bilinear).
fn double(width: usize, height: usize, data: &[u8]) -> (usize, usize, Vec<u8>) {
    let (w, h) = (width * 2, height * 2);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (y0, fy) = ((y / 2).min(height - 1), y % 2);
        let y1 = (y0 + fy).min(height - 1);
        for x in 0..w {
            let (x0, fx) = ((x / 2).min(width - 1), x % 2);
            let x1 = (x0 + fx).min(width - 1);
            let sum = u16::from(data[y0 * width + x0])
                + u16::from(data[y0 * width + x1])
                + u16::from(data[y1 * width + x0])
                + u16::from(data[y1 * width + x1]);
            out.push((sum / 4) as u8);
        }
    }
    (w, h, out)
}
