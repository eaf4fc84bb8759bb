//! Decoding camera frames and image files.
//!
//! Our own locator (see `locate`) reads the frame first, after an adaptive threshold: it is
//! quick and reads the small, turned and blurred codes rqrr's detector misses. Then rqrr's
//! detector; then the locator after a global threshold; then rqrr again at half size (large
//! frames), thresholded, and at double size (small frames, the locator too). Every code found
//! is returned, once each, in the order found. [`decode_luma`] runs the passes of a new
//! [`Decoder`](super::Decoder); a camera loop keeps one and reuses its buffers.
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
use std::path::Path;

/// Frames narrower or shorter than this cannot hold a QR code.
pub(super) const MIN_SIDE: usize = 21;

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
    pub(super) fn shrink_factor(&self, width: usize, height: usize) -> usize {
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
    super::Decoder::with_limits(*limits)
        .decode(width, height, stride, pixels)
        .map(<[String]>::to_vec)
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
