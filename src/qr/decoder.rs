//! The decoder a camera loop keeps: the passes of [`decode_luma`](super::decode_luma) over
//! working buffers (the work frame, its half- and double-size copies, the thresholded frame,
//! the integral image) that live from one frame to the next, so a kiosk's steady state
//! allocates none of them again. (rqrr's detector, one of the passes, still allocates its own.)
//!
//! The passes, in order, each only while nothing was found: our locator on an adaptive
//! threshold; rqrr's detector; the locator on a global threshold; rqrr at half size (large
//! frames), then thresholded; at double size (small frames), rqrr and the locator. Every code
//! found is returned once, in the order found.

use super::QrError;
use super::binarize::{adaptive_threshold, global_threshold};
use super::decode::{DecodeLimits, MIN_SIDE, RQRR_PIXELS};
use super::locate::{BitFrame, locate_and_decode};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Frames wider or taller than this many pixels are retried at half size.
const LARGE: usize = 1000;

/// Decodes camera frames one after another, reusing its working memory.
///
/// ```
/// use o2okit::qr::{Decoder, EcLevel, encode};
///
/// // A code rendered at 4 pixels a module, as a grey frame.
/// let code = encode("0A1B2C3D", EcLevel::M)?;
/// let side = (code.size() + 8) * 4;
/// let frame: Vec<u8> = (0..side * side)
///     .map(|i| {
///         let (x, y) = (i % side / 4, i / side / 4);
///         let dark = x >= 4 && y >= 4 && code.is_dark(x - 4, y - 4);
///         if dark { 0 } else { 255 }
///     })
///     .collect();
/// let mut decoder = Decoder::new();
/// for _ in 0..3 {
///     assert_eq!(decoder.decode(side, side, side, &frame)?, ["0A1B2C3D"]);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecodeLimits,
    buffers: Buffers,
    found: Vec<String>,
}

/// The working memory of the passes.
#[derive(Debug, Default)]
struct Buffers {
    /// The frame being searched: the camera's rows copied out (or box-shrunk), then halved.
    frame: Vec<u8>,
    /// Where the next half-size copy is written before it becomes `frame`.
    spare: Vec<u8>,
    /// The frame at double size.
    doubled: Vec<u8>,
    /// A thresholded frame (0 dark, 255 light).
    binary: Vec<u8>,
    /// The adaptive threshold's integral image.
    sums: Vec<u64>,
}

impl Decoder {
    /// A decoder within the default [`DecodeLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder within `limits`.
    pub fn with_limits(limits: DecodeLimits) -> Self {
        Decoder {
            limits,
            ..Self::default()
        }
    }

    /// The limits it decodes within.
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }

    /// The texts of the last frame decoded (empty after an error).
    pub fn texts(&self) -> &[String] {
        &self.found
    }

    /// Decodes every QR code in an 8-bit grey frame of `width × height` pixels whose rows
    /// start `stride` bytes apart, as [`decode_luma`](super::decode_luma) does; the texts stay
    /// in the decoder until the next frame.
    ///
    /// # Errors
    /// As [`decode_luma`](super::decode_luma). An error leaves the decoder ready for the next
    /// frame.
    pub fn decode(
        &mut self,
        width: usize,
        height: usize,
        stride: usize,
        pixels: &[u8],
    ) -> Result<&[String], QrError> {
        self.found.clear();
        check_frame(&self.limits, width, height, stride, pixels)?;
        // rqrr indexes out of bounds on frames narrower than a code (found by fuzzing).
        if width < MIN_SIDE || height < MIN_SIDE {
            return Ok(&self.found);
        }
        let factor = self.limits.shrink_factor(width, height);
        let b = &mut self.buffers;
        let (width, height) = shrink(width, height, stride, pixels, factor, &mut b.frame);
        let mut search = Search {
            found: &mut self.found,
            panicked: false,
        };
        let (mut w, mut h) = (width, height);
        // Our own locator first: it is quick, and reads the small, blurred and rotated codes
        // rqrr's detector misses.
        adaptive_threshold(w, h, &b.frame, 16, &mut b.sums, &mut b.binary);
        search.locate(w, h, &b.binary);
        if search.empty() && w * h <= RQRR_PIXELS {
            search.rqrr(w, h, &b.frame);
        }
        if search.empty() {
            global_threshold(&b.frame, &mut b.binary);
            search.locate(w, h, &b.binary);
        }
        while search.empty() && (w > LARGE || h > LARGE) {
            (w, h) = half(w, h, &b.frame, &mut b.spare);
            std::mem::swap(&mut b.frame, &mut b.spare);
            if w * h <= RQRR_PIXELS {
                search.rqrr(w, h, &b.frame);
            }
        }
        if search.empty() {
            adaptive_threshold(w, h, &b.frame, 16, &mut b.sums, &mut b.binary);
            search.rqrr(w, h, &b.binary);
        }
        if search.empty() {
            global_threshold(&b.frame, &mut b.binary);
            search.rqrr(w, h, &b.binary);
        }
        if search.empty() && factor == 1 && w == width && w <= LARGE && h <= LARGE {
            // Small modules (2–3 px) blur into each other: give the detector more pixels.
            // (Not for a frame halved above: doubling it back only blurs what the first pass
            // saw.)
            let (dw, dh) = double(w, h, &b.frame, &mut b.doubled);
            search.rqrr(dw, dh, &b.doubled);
            if search.empty() {
                adaptive_threshold(dw, dh, &b.doubled, 12, &mut b.sums, &mut b.binary);
                search.locate(dw, dh, &b.binary);
                if search.empty() {
                    search.rqrr(dw, dh, &b.binary);
                }
            }
        }
        if search.found.is_empty() && search.panicked {
            return Err(QrError::DecoderPanic);
        }
        Ok(&self.found)
    }
}

/// Refuses a frame whose size, stride and buffer disagree, or one above the limits.
fn check_frame(
    limits: &DecodeLimits,
    width: usize,
    height: usize,
    stride: usize,
    pixels: &[u8],
) -> Result<(), QrError> {
    if width == 0 || height == 0 {
        return Ok(());
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
    limits.check(width, height)
}

/// The codes found so far in a frame, and whether a pass panicked.
struct Search<'a> {
    found: &'a mut Vec<String>,
    panicked: bool,
}

impl Search<'_> {
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

    fn rqrr(&mut self, width: usize, height: usize, data: &[u8]) {
        self.add(scan(width, height, data));
    }

    fn locate(&mut self, width: usize, height: usize, binary: &[u8]) {
        let frame = BitFrame {
            width,
            height,
            pixels: binary,
        };
        let texts = catch_unwind(AssertUnwindSafe(|| locate_and_decode(&frame)));
        self.add(texts.map_err(|_| QrError::DecoderPanic));
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

/// The frame's rows copied into `out`, box-averaged `factor × factor` (1: a plain copy);
/// returns its size.
fn shrink(
    width: usize,
    height: usize,
    stride: usize,
    pixels: &[u8],
    factor: usize,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let (w, h) = (width / factor, height / factor);
    out.clear();
    if factor == 1 {
        for row in 0..height {
            out.extend_from_slice(&pixels[row * stride..row * stride + width]);
        }
        return (w, h);
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
    (w, h)
}

/// The frame at half size (2×2 box average) into `out`; returns its size.
fn half(width: usize, height: usize, data: &[u8], out: &mut Vec<u8>) -> (usize, usize) {
    let (w, h) = (width / 2, height / 2);
    out.clear();
    for y in 0..h {
        for x in 0..w {
            let at = |dx, dy| u16::from(data[(2 * y + dy) * width + 2 * x + dx]);
            out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4) as u8);
        }
    }
    (w, h)
}

/// The frame at double size (bilinear) into `out`; returns its size.
fn double(width: usize, height: usize, data: &[u8], out: &mut Vec<u8>) -> (usize, usize) {
    let (w, h) = (width * 2, height * 2);
    out.clear();
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
    (w, h)
}
