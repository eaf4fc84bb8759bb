//! Reading PNG and JPEG files as 8-bit grey frames, with small decoders of their own (`png`,
//! `zune-jpeg`) rather than a general imaging library and its colour management.
//!
//! Bounds: the file may be at most 8 bytes per allowed pixel long; its header is read first and
//! an image above [`DecodeLimits::max_pixels`] is refused before any pixel is decoded; the
//! decoders are given the same limits for their own buffers.

use super::QrError;
use super::decode::DecodeLimits;
use std::path::Path;

/// An image file read as a grey frame: one byte a pixel, rows packed (stride = width).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width × height` grey levels, row by row.
    pub pixels: Vec<u8>,
}

fn image_error(what: impl std::fmt::Display) -> QrError {
    QrError::Image(crate::error::excerpt(&what.to_string()))
}

/// Reads a PNG or JPEG file (told apart by their signatures) as a grey frame, within `limits`.
///
/// # Errors
/// [`QrError::Image`] for a file that cannot be read or decoded, or is longer than 8 bytes per
/// allowed pixel; [`QrError::FrameTooLarge`] when its header claims more pixels than allowed
/// (nothing is decoded).
pub fn read_image_file(
    path: impl AsRef<Path>,
    limits: &DecodeLimits,
) -> Result<GreyImage, QrError> {
    let path = path.as_ref();
    let max_bytes = limits.max_pixels.saturating_mul(8);
    let size = std::fs::metadata(path).map_err(image_error)?.len();
    if size > max_bytes as u64 {
        return Err(image_error(format!(
            "a file of {size} bytes is larger than any image within {} pixels",
            limits.max_pixels
        )));
    }
    let bytes = std::fs::read(path).map_err(image_error)?;
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        read_png(&bytes, limits)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        read_jpeg(&bytes, limits)
    } else {
        Err(image_error("not a PNG or JPEG file"))
    }
}

/// Grey from colour as the imaging library did before (Rec. 709 weights), so decoding rates do
/// not move.
fn grey_of(r: u8, g: u8, b: u8) -> u8 {
    ((2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b)) / 10_000) as u8
}

fn read_png(bytes: &[u8], limits: &DecodeLimits) -> Result<GreyImage, QrError> {
    let bounds = png::Limits {
        bytes: limits.max_pixels.saturating_mul(8),
    };
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), bounds);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let header = decoder.read_header_info().map_err(image_error)?;
    limits.check(header.width as usize, header.height as usize)?;
    let mut reader = decoder.read_info().map_err(image_error)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| image_error("image too large"))?;
    let mut buffer = vec![0u8; size];
    let frame = reader.next_frame(&mut buffer).map_err(image_error)?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(image_error("palette not expanded")),
    };
    let mut pixels = Vec::with_capacity(width * height);
    for row in buffer.chunks(frame.line_size).take(height) {
        for px in row.chunks(channels).take(width) {
            pixels.push(if channels < 3 {
                px[0]
            } else {
                grey_of(px[0], px[1], px[2])
            });
        }
    }
    Ok(GreyImage {
        width,
        height,
        pixels,
    })
}

fn read_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<GreyImage, QrError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .set_max_width(limits.max_pixels)
        .set_max_height(limits.max_pixels)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(image_error)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| image_error("no image size in the header"))?;
    limits.check(width, height)?;
    let pixels = decoder.decode().map_err(image_error)?;
    if pixels.len() < width * height {
        return Err(image_error("truncated image"));
    }
    Ok(GreyImage {
        width,
        height,
        pixels,
    })
}
