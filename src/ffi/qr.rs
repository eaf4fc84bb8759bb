//! QR codes for C: render, decode camera frames.

#[cfg(feature = "qr-decode")]
use super::bytes;
use super::status::{Failure, guard, o2o_status, write_text};
use super::{check_out, put};
#[cfg(feature = "qr-render")]
use super::{status::check_buffer, text};
use crate::qr::QrError;
#[cfg(feature = "qr-decode")]
use crate::qr::decode_luma;
#[cfg(feature = "qr-render")]
use crate::qr::{EcLevel, encode};
use std::ffi::c_char;

/// Error-correction level L (about 7% recoverable), for `o2o_qr_*`.
pub const O2O_QR_EC_L: u32 = 0;
/// Level M (about 15%): the usual choice.
pub const O2O_QR_EC_M: u32 = 1;
/// Level Q (about 25%).
pub const O2O_QR_EC_Q: u32 = 2;
/// Level H (about 30%).
pub const O2O_QR_EC_H: u32 = 3;

#[cfg(feature = "qr-render")]
fn level(code: u32) -> Result<EcLevel, Failure> {
    Ok(match code {
        O2O_QR_EC_L => EcLevel::L,
        O2O_QR_EC_M => EcLevel::M,
        O2O_QR_EC_Q => EcLevel::Q,
        O2O_QR_EC_H => EcLevel::H,
        other => {
            return Err(Failure::new(
                o2o_status::InvalidArgument,
                format!("unknown error-correction level {other}"),
            ));
        }
    })
}

fn qr_failure(error: QrError) -> Failure {
    let status = match error {
        QrError::FrameTooLarge { .. } => o2o_status::QrFrameTooLarge,
        _ => o2o_status::InvalidArgument,
    };
    Failure::new(status, error.to_string())
}

#[cfg(feature = "qr-render")]
/// Renders `qr_text` as an SVG document (4-module quiet zone, `module_px` pixels a module) at
/// the smallest QR version for error-correction level `ec_level` (an `O2O_QR_EC_*` value).
///
/// See the buffer convention in the header's introduction. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_ARGUMENT` (unknown level, text too long),
/// `O2O_STATUS_INSUFFICIENT_BUFFER`. Safe to call from any thread.
///
/// # Safety
/// - `qr_text` is NULL or a NUL-terminated string.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_render_svg(
    qr_text: *const c_char,
    ec_level: u32,
    module_px: u32,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a NUL-terminated string, per the header.
        let qr_text = unsafe { text(qr_text, "qr_text") }?;
        let matrix = encode(qr_text, level(ec_level)?).map_err(qr_failure)?;
        write_text(&matrix.to_svg(module_px.max(1)), buffer, capacity, needed)
    })
}

#[cfg(feature = "qr-render")]
/// Writes the module matrix of `qr_text` for devices that draw their own code: `size × size`
/// bytes, row by row, 1 for dark and 0 for light, without the quiet zone (draw 4 light
/// modules around it). `*size` receives the side; `*needed` (when `needed` is not NULL) the
/// bytes needed (`size × size`).
///
/// When `capacity` is too small, returns `O2O_STATUS_INSUFFICIENT_BUFFER` having written only
/// `*size` and `*needed`. Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`,
/// `O2O_STATUS_INVALID_ARGUMENT`. Safe to call from any thread.
///
/// # Safety
/// - `qr_text` is NULL or a NUL-terminated string.
/// - `modules` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
/// - `size` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_modules(
    qr_text: *const c_char,
    ec_level: u32,
    modules: *mut u8,
    capacity: usize,
    needed: *mut usize,
    size: *mut usize,
) -> o2o_status {
    guard(|| {
        check_out(size, "size")?;
        check_buffer(modules, capacity)?;
        // SAFETY: NULL or a NUL-terminated string, per the header.
        let qr_text = unsafe { text(qr_text, "qr_text") }?;
        let matrix = encode(qr_text, level(ec_level)?).map_err(qr_failure)?;
        let side = matrix.size();
        // SAFETY: `size` was checked; `needed` is NULL or valid, per the header.
        unsafe {
            put(size, side);
            if !needed.is_null() {
                put(needed, side * side);
            }
        }
        if modules.is_null() || capacity < side * side {
            return Err(Failure::new(
                o2o_status::InsufficientBuffer,
                format!("{capacity} bytes for {side}×{side} modules"),
            ));
        }
        // SAFETY: the caller passes `capacity >= side * side` writable bytes at `modules`.
        let out = unsafe { std::slice::from_raw_parts_mut(modules, side * side) };
        for y in 0..side {
            for x in 0..side {
                out[y * side + x] = u8::from(matrix.is_dark(x, y));
            }
        }
        Ok(())
    })
}

#[cfg(feature = "qr-decode")]
/// Decodes every QR code in an 8-bit grey camera frame of `width × height` pixels whose rows
/// start `stride` bytes apart, and writes their texts into `buffer`, one per line (each
/// followed by `\n`), NUL-terminated; `*count` receives how many codes were found (0 is not an
/// error).
///
/// See the buffer convention in the header's introduction (`*count` is written even when the
/// buffer is too small). Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` (a
/// frame whose stride and length disagree), `O2O_STATUS_QR_FRAME_TOO_LARGE` (above 50
/// megapixels), `O2O_STATUS_INSUFFICIENT_BUFFER`. Safe to call
/// from any thread.
///
/// # Safety
/// - `pixels` is NULL or points to `pixels_len` readable bytes.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
/// - `count` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_decode_luma(
    pixels: *const u8,
    pixels_len: usize,
    width: usize,
    height: usize,
    stride: usize,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
    count: *mut usize,
) -> o2o_status {
    guard(|| {
        check_out(count, "count")?;
        // SAFETY: NULL or `pixels_len` readable bytes, per the header.
        let frame = unsafe { bytes(pixels, pixels_len, "pixels") }?;
        let texts = decode_luma(width, height, stride, frame).map_err(qr_failure)?;
        // SAFETY: checked above.
        unsafe { put(count, texts.len()) };
        let joined: String = texts.iter().map(|t| format!("{t}\n")).collect();
        write_text(&joined, buffer, capacity, needed)
    })
}

#[cfg(feature = "qr-decode")]
/// A QR decoder a kiosk keeps across camera frames: it reuses its working buffers from one
/// frame to the next and holds the last frame's texts, so a frame is decoded once however the
/// texts are fetched. Made by `o2o_qr_decoder_new`, freed by `o2o_qr_decoder_free`. One
/// thread at a time; several decoders may run on several threads.
pub struct o2o_qr_decoder(crate::qr::Decoder);

#[cfg(feature = "qr-decode")]
/// Makes a decoder within the default limits (frames up to 50 megapixels; larger work frames
/// box-shrunk to 1920×1080's pixel count).
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `out` is NULL or points to writable memory for an `o2o_qr_decoder *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_decoder_new(out: *mut *mut o2o_qr_decoder) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: `out` was checked.
        unsafe { super::hand_out(out, o2o_qr_decoder(crate::qr::Decoder::new())) };
        Ok(())
    })
}

#[cfg(feature = "qr-decode")]
/// Frees a decoder and the texts it holds. NULL is ignored.
///
/// # Safety
/// - `decoder` is NULL or a live `o2o_qr_decoder` made by this library, not used by another
///   thread, and not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_decoder_free(decoder: *mut o2o_qr_decoder) {
    let _ = guard(|| {
        // SAFETY: NULL or a decoder from o2o_qr_decoder_new, per the header.
        unsafe { super::release(decoder) };
        Ok(())
    });
}

#[cfg(feature = "qr-decode")]
/// Decodes every QR code in an 8-bit grey camera frame of `width × height` pixels whose rows
/// start `stride` bytes apart; `*count` receives how many codes were found (0 is not an
/// error), and `o2o_qr_decoder_text` gives each one's text until the next frame.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` (a frame whose stride and
/// length disagree), `O2O_STATUS_QR_FRAME_TOO_LARGE` (above 50 megapixels). After an error the
/// decoder holds no texts and takes the next frame as usual.
///
/// # Safety
/// - `decoder` is NULL or a live `o2o_qr_decoder`, not used by another thread during the
///   call.
/// - `pixels` is NULL or points to `pixels_len` readable bytes.
/// - `count` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_decoder_decode(
    decoder: *mut o2o_qr_decoder,
    pixels: *const u8,
    pixels_len: usize,
    width: usize,
    height: usize,
    stride: usize,
    count: *mut usize,
) -> o2o_status {
    guard(|| {
        check_out(count, "count")?;
        // SAFETY: NULL or a live decoder not shared with another thread, per the header.
        let decoder = unsafe { super::borrow_mut(decoder, "decoder") }?;
        // SAFETY: NULL or `pixels_len` readable bytes, per the header.
        let frame = unsafe { bytes(pixels, pixels_len, "pixels") }?;
        let found = decoder
            .0
            .decode(width, height, stride, frame)
            .map_err(qr_failure)?
            .len();
        // SAFETY: checked above.
        unsafe { put(count, found) };
        Ok(())
    })
}

#[cfg(feature = "qr-decode")]
/// Writes the text of code `index` (from 0) of the decoder's last frame into `buffer`,
/// NUL-terminated.
///
/// See the buffer convention in the header's introduction. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_ARGUMENT` (`index` not below the last frame's count),
/// `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `decoder` is NULL or a live `o2o_qr_decoder`, not used by another thread during the
///   call.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_qr_decoder_text(
    decoder: *const o2o_qr_decoder,
    index: usize,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live decoder, per the header.
        let decoder = unsafe { super::borrow(decoder, "decoder") }?;
        let texts = decoder.0.texts();
        let text = texts.get(index).ok_or_else(|| {
            Failure::new(
                o2o_status::InvalidArgument,
                format!("code {index} of a frame with {}", texts.len()),
            )
        })?;
        write_text(text, buffer, capacity, needed)
    })
}
