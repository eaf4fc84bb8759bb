//! Decoding camera frames and image files.
//!
//! A frame is tried as it comes, then (for large frames) downscaled, then binarised with an
//! adaptive (local mean) threshold, which rescues dim and unevenly lit frames. Every code
//! found is returned, once each, in the order found.

use super::QrError;
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

/// Black below Otsu's threshold (the split that best separates the histogram's two modes).
fn global_threshold(data: &[u8]) -> Vec<u8> {
    let mut histogram = [0u64; 256];
    for &p in data {
        histogram[usize::from(p)] += 1;
    }
    let total = data.len() as f64;
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as f64 * n as f64)
        .sum();
    let (mut weight_below, mut sum_below, mut best, mut threshold) = (0.0, 0.0, 0.0, 128u8);
    for (level, &count) in histogram.iter().enumerate() {
        weight_below += count as f64;
        if weight_below == 0.0 || weight_below == total {
            continue;
        }
        sum_below += level as f64 * count as f64;
        let mean_below = sum_below / weight_below;
        let mean_above = (sum_all - sum_below) / (total - weight_below);
        let between = weight_below * (total - weight_below) * (mean_below - mean_above).powi(2);
        if between > best {
            best = between;
            threshold = level as u8;
        }
    }
    data.iter()
        .map(|&p| if p <= threshold { 0 } else { 255 })
        .collect()
}

/// Black where a pixel is darker than the mean of its neighbourhood (about 1/8 of the shorter
/// side) less a small margin, white elsewhere: evens out shadows and low contrast.
fn adaptive_threshold(width: usize, height: usize, data: &[u8], divisor: usize) -> Vec<u8> {
    let radius = (width.min(height) / divisor).max(4);
    // Integral image with a zero row and column in front.
    let stride = width + 1;
    let mut sum = vec![0u64; stride * (height + 1)];
    for y in 0..height {
        let mut row = 0u64;
        for x in 0..width {
            row += u64::from(data[y * width + x]);
            sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
        }
    }
    let mut out = vec![255u8; width * height];
    for y in 0..height {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(height));
        for x in 0..width {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(width));
            let total = sum[y1 * stride + x1] + sum[y0 * stride + x0]
                - sum[y0 * stride + x1]
                - sum[y1 * stride + x0];
            let count = ((y1 - y0) * (x1 - x0)) as u64;
            let mean = total / count;
            if u64::from(data[y * width + x]) * 100 < mean * 92 {
                out[y * width + x] = 0;
            }
        }
    }
    out
}
