//! QR codes in and out: render any token's text (voucher, card, check-in, share code) as a
//! module matrix, SVG, PNG or terminal text; decode camera frames and image files.
//!
//! Rendering picks the smallest QR version that holds the text at the chosen error-correction
//! level; the `qrcode` crate segments the text optimally (a token's scanner text goes in
//! alphanumeric mode). Decoding pairs `rqrr` with a finder-pattern locator of our own, which
//! reads the small, turned and blurred codes rqrr's detector misses and hands rqrr the sampled
//! module grid. rqrr has panicked on real images: every call is contained, and a panic becomes
//! [`QrError::DecoderPanic`], never a crash.

#[cfg(feature = "qr-decode")]
mod binarize;
#[cfg(feature = "qr-decode")]
mod decode;
#[cfg(feature = "qr-decode")]
mod decoder;
#[cfg(feature = "qr-decode")]
mod image_file;
#[cfg(feature = "qr-decode")]
mod locate;
#[cfg(feature = "qr-render")]
mod render;
#[cfg(feature = "qr-decode")]
mod sample;

#[cfg(feature = "qr-decode")]
pub use decode::{
    DecodeLimits, RQRR_PIXELS, decode_image_file, decode_image_file_with, decode_luma,
    decode_luma_with,
};
#[cfg(feature = "qr-decode")]
pub use decoder::Decoder;
#[cfg(feature = "qr-decode")]
pub use image_file::{GreyImage, read_image_file};
#[cfg(feature = "qr-render")]
pub use render::{EcLevel, QrMatrix, encode};

/// Why a QR operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in the largest QR code at this level.
    #[error("text of {0} bytes is too long for a QR code at this error-correction level")]
    TooLong(usize),
    /// A frame whose size, stride and buffer length disagree.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// An image file that cannot be read or decoded.
    #[error("cannot read image: {0}")]
    Image(String),
    /// A frame or image with more pixels than [`DecodeLimits::max_pixels`]: refused before
    /// anything was allocated.
    #[error("a {width}×{height} frame is above the decoder's limit of {max_pixels} pixels")]
    FrameTooLarge {
        /// Its width.
        width: usize,
        /// Its height.
        height: usize,
        /// The limit.
        max_pixels: usize,
    },
    /// The QR decoder panicked on this image (contained).
    #[error("the QR decoder failed on this image")]
    DecoderPanic,
}
