//! Decoding camera frames and image files.
//!
//! Our own locator (see `locate`) reads the frame first, after an adaptive threshold: it is
//! quick and reads the small, turned and blurred codes rqrr's detector misses. Then rqrr's
//! detector; then the locator after a global threshold; then rqrr again at half size (large
//! frames), thresholded, and at double size (small frames, the locator too). Every code found
//! is returned, once each, in the order found.
//!
//! # Bounds
//! A hostile or oversized frame must not take a kiosk down, so every decode is bounded by
//! [`DecodeLimits`]:
//! - a frame (or an image file, judged by its header before any pixel is decoded) above
//!   [`DecodeLimits::max_pixels`] is refused with [`QrError::FrameTooLarge`], allocating
//!   nothing;
//! - a frame above [`DecodeLimits::work_pixels`] is box-downscaled by the smallest integer
//!   factor that brings it within, before any pass: memory is then a small multiple of
//!   `work_pixels`, and the time of every pass is bounded by the work frame's size;
//! - rqrr's detector, whose time grows fastest on textured frames without a code (flood
//!   fills of every region), runs on at most [`RQRR_PIXELS`] pixels: larger work frames give
//!   it a half-size copy. Our locator's finder list is capped (`locate`).

use super::QrError;
use super::binarize::{adaptive_threshold, global_threshold};
use super::locate::{BitFrame, locate_and_decode};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Frames narrower or shorter than this cannot hold a QR code.
const MIN_SIDE: usize = 21;

/// Frames wider or taller than this are also tried at half size.
const LARGE: usize = 1000;

/// The most pixels rqrr's detector is given in one pass (a 1280×720 frame has 921,600).
pub const RQRR_PIXELS: usize = 1_000_000;

/// Bounds on the work one decode may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Frames with more pixels than this are refused before anything is allocated.
    pub max_pixels: usize,
    /// Frames with more pixels than this are downscaled by an integer factor to fit first.
    pub work_pixels: usize,
}

impl Default for DecodeLimits {
    /// At most 50 megapixels accepted (a 8192×6144 photo); work done on at most a 1920×1080
    /// frame's 2,073,600 pixels.
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 50_000_000,
            work_pixels: 1920 * 1080,
        }
    }
}

impl DecodeLimits {
    pub(super) fn check(&self, width: usize, height: usize) -> Result<(), QrError> {
        match width.checked_mul(height) {
            Some(pixels) if pixels <= self.max_pixels => Ok(()),
            _ => Err(QrError::FrameTooLarge {
                width,
                height,
                max_pixels: self.max_pixels,
            }),
        }
    }

    /// The integer factor that brings `width × height` within `work_pixels`.
    fn shrink_factor(&self, width: usize, height: usize) -> usize {
        let pixels = width.saturating_mul(height);
        let mut factor = 1;
        while pixels / (factor * factor) > self.work_pixels.max(MIN_SIDE * MIN_SIDE) {
            factor += 1;
        }
        factor
    }
}

/// Decodes every QR code in an 8-bit luma frame of `width × height` pixels whose rows start
/// `stride` bytes apart (as camera frames arrive), within the default [`DecodeLimits`].
///
/// # Errors
/// [`QrError::InvalidFrame`] when the buffer is shorter than `stride × (height − 1) + width`
/// or `stride < width`; [`QrError::FrameTooLarge`] above the pixel limit.
pub fn decode_luma(
    width: usize,
    height: usize,
    stride: usize,
    pixels: &[u8],
) -> Result<Vec<String>, QrError> {
    decode_luma_with(&DecodeLimits::default(), width, height, stride, pixels)
}

/// As [`decode_luma`], within `limits`.
///
/// # Errors
/// As [`decode_luma`].
pub fn decode_luma_with(
    limits: &DecodeLimits,
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
    limits.check(width, height)?;
    // The smallest QR code is 21 modules a side; rqrr indexes out of bounds on frames
    // narrower than that (found by the qr_decode fuzz target).
    if width < MIN_SIDE || height < MIN_SIDE {
        return Ok(Vec::new());
    }
    let factor = limits.shrink_factor(width, height);
    let (width, height, frame) = shrink(width, height, stride, pixels, factor);
    let mut search = Search::default();
    let (mut w, mut h, mut data) = (width, height, frame);
    // Our own locator first: it is quick, and reads the small, blurred and rotated codes
    // rqrr's detector misses.
    search.locate(w, h, &adaptive_threshold(w, h, &data, 16));
    if search.empty() && w * h <= RQRR_PIXELS {
        search.rqrr(w, h, &data);
    }
    if search.empty() {
        search.locate(w, h, &global_threshold(&data));
    }
    while search.empty() && (w > LARGE || h > LARGE) {
        (w, h, data) = half(w, h, &data);
        if w * h <= RQRR_PIXELS {
            search.rqrr(w, h, &data);
        }
    }
    if search.empty() {
        search.rqrr(w, h, &adaptive_threshold(w, h, &data, 16));
    }
    if search.empty() {
        search.rqrr(w, h, &global_threshold(&data));
    }
    if search.empty() && factor == 1 && w == width && w <= LARGE && h <= LARGE {
        // Small modules (2–3 px) blur into each other: give the detector more pixels. (Not for
        // a frame halved above: doubling it back only blurs what the first pass saw.)
        let (dw, dh, doubled) = double(w, h, &data);
        search.rqrr(dw, dh, &doubled);
        if search.empty() {
            let binary = adaptive_threshold(dw, dh, &doubled, 12);
            search.locate(dw, dh, &binary);
            if search.empty() {
                search.rqrr(dw, dh, &binary);
            }
        }
    }
    search.finish()
}

/// Decodes every QR code in a PNG or JPEG file, within the default [`DecodeLimits`].
///
/// # Errors
/// [`QrError::Image`] when the file cannot be read or decoded; [`QrError::FrameTooLarge`]
/// when its header claims more pixels than the limit (nothing is decoded).
pub fn decode_image_file(path: impl AsRef<Path>) -> Result<Vec<String>, QrError> {
    decode_image_file_with(&DecodeLimits::default(), path)
}

/// As [`decode_image_file`], within `limits`.
///
/// # Errors
/// As [`decode_image_file`].
pub fn decode_image_file_with(
    limits: &DecodeLimits,
    path: impl AsRef<Path>,
) -> Result<Vec<String>, QrError> {
    let image = super::image_file::read_image_file(path, limits)?;
    decode_luma_with(
        limits,
        image.width,
        image.height,
        image.width,
        &image.pixels,
    )
}

/// The codes found so far, and whether a pass panicked.
#[derive(Default)]
struct Search {
    found: Vec<String>,
    panicked: bool,
}

impl Search {
    fn empty(&self) -> bool {
        self.found.is_empty()
    }

    fn add(&mut self, texts: Result<Vec<String>, QrError>) {
        match texts {
            Ok(texts) => {
                for text in texts {
                    if !self.found.contains(&text) {
                        self.found.push(text);
                    }
                }
            }
            Err(_) => self.panicked = true,
        }
    }

    /// One rqrr pass.
    fn rqrr(&mut self, width: usize, height: usize, data: &[u8]) {
        self.add(scan(width, height, data));
    }

    /// One pass of our locator over a binarised frame.
    fn locate(&mut self, width: usize, height: usize, binary: &[u8]) {
        let frame = BitFrame {
            width,
            height,
            pixels: binary,
        };
        let texts = catch_unwind(AssertUnwindSafe(|| locate_and_decode(&frame)));
        self.add(texts.map_err(|_| QrError::DecoderPanic));
    }

    /// The codes found; a panic in one pass is an error only when no other pass found a code.
    fn finish(self) -> Result<Vec<String>, QrError> {
        if self.found.is_empty() && self.panicked {
            return Err(QrError::DecoderPanic);
        }
        Ok(self.found)
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

/// The frame's rows copied out, box-averaged `factor × factor` (1: a plain copy).
fn shrink(
    width: usize,
    height: usize,
    stride: usize,
    pixels: &[u8],
    factor: usize,
) -> (usize, usize, Vec<u8>) {
    let (w, h) = (width / factor, height / factor);
    let mut out = Vec::with_capacity(w * h);
    if factor == 1 {
        for row in 0..height {
            out.extend_from_slice(&pixels[row * stride..row * stride + width]);
        }
        return (w, h, out);
    }
    let area = (factor * factor) as u32;
    let mut sums = vec![0u32; w];
    for y in 0..h {
        sums.iter_mut().for_each(|s| *s = 0);
        for dy in 0..factor {
            let row = &pixels[(y * factor + dy) * stride..];
            for (x, sum) in sums.iter_mut().enumerate() {
                *sum += row[x * factor..(x + 1) * factor]
                    .iter()
                    .map(|&p| u32::from(p))
                    .sum::<u32>();
            }
        }
        out.extend(sums.iter().map(|s| (s / area) as u8));
    }
    (w, h, out)
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
