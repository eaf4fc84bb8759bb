//! The C ABI (`include/o2okit.h`), with the `capi` feature. Every symbol is prefixed `o2o_`.
//!
//! Every function that takes a pointer is `unsafe`: its `# Safety` section says what each
//! pointer must be (NULL is always allowed and reported). C callers read the same words in the
//! header. `scripts/build-c` builds the library.
//!
//! This layer holds no logic of its own: it checks pointers, converts types and calls the
//! safe Rust API. The header is generated from these signatures by cbindgen (see `build.rs`).
//!
//! # Conventions (the header repeats them where they apply)
//! - Every fallible function returns an [`o2o_status`]; `O2O_STATUS_OK` is 0. On failure
//!   [`o2o_last_error`] has a message for the calling thread, and outputs are left untouched.
//! - Every pointer argument is checked: NULL gives `O2O_STATUS_NULL_ARGUMENT`, a string that is
//!   not UTF-8 gives `O2O_STATUS_INVALID_UTF8`. Strings in are NUL-terminated UTF-8.
//! - Handles are opaque, made by `o2o_<type>_new` / `_open` into a `T **out`, released by
//!   `o2o_<type>_free` / `_close`. Passing NULL to a free function is fine; passing the same
//!   handle twice is not.
//! - Text out goes into a caller buffer `(char *buffer, size_t capacity, size_t *needed)`: the
//!   size needed, NUL included, is written to `*needed` (which may be NULL) whenever the
//!   arguments are valid; when `capacity` is too small the call returns
//!   `O2O_STATUS_INSUFFICIENT_BUFFER` and writes nothing else (call with a NULL buffer and
//!   capacity 0 to ask for the size). A NULL buffer with a capacity above 0 is
//!   `O2O_STATUS_NULL_ARGUMENT`.
//! - No panic crosses the boundary: an internal error returns `O2O_STATUS_PANIC`.
//! - Times are Unix seconds (UTC); money is integer minor units.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

#[cfg(feature = "sqlite")]
mod analytics;
mod checkin;
mod deny_list;
#[cfg(feature = "sqlite")]
mod enrollment;
mod keyring;
#[cfg(feature = "sqlite")]
mod ledger;
mod member;
#[cfg(any(feature = "qr-render", feature = "qr-decode"))]
mod qr;
mod status;
#[cfg(feature = "sqlite")]
mod sync;
mod version;
mod voucher;

#[cfg(feature = "sqlite")]
pub use analytics::*;
pub use checkin::*;
pub use deny_list::*;
#[cfg(feature = "sqlite")]
pub use enrollment::*;
pub use keyring::*;
#[cfg(feature = "sqlite")]
pub use ledger::*;
pub use member::*;
#[cfg(any(feature = "qr-render", feature = "qr-decode"))]
pub use qr::*;
pub use status::{O2O_MAX_ERROR_MESSAGE, o2o_last_error, o2o_status, o2o_status_name};
#[cfg(feature = "sqlite")]
pub use sync::*;
pub use version::{o2o_version, o2o_version_number};
pub use voucher::*;

use status::Failure;
use std::ffi::{CStr, c_char};

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            o2o_status::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated, per the caller.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map_err(|e| Failure::new(o2o_status::InvalidUtf8, format!("{name} is not UTF-8: {e}")))
}

/// A NUL-terminated IANA time zone name argument.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn zone(ptr: *const c_char, name: &str) -> Result<chrono_tz::Tz, Failure> {
    // SAFETY: per the caller.
    let text = unsafe { text(ptr, name) }?;
    text.parse().map_err(|_| {
        Failure::new(
            o2o_status::InvalidPlace,
            format!(
                "{name}: unknown time zone {:?}",
                crate::error::excerpt(text)
            ),
        )
    })
}

/// `len` bytes at `ptr` (a buffer argument; `name` for the error).
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            o2o_status::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL with `len` readable bytes, per the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A time argument in Unix seconds.
pub(crate) fn instant(seconds: i64) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    chrono::DateTime::from_timestamp(seconds, 0).ok_or_else(|| {
        Failure::new(
            o2o_status::InvalidArgument,
            format!("time {seconds} out of range"),
        )
    })
}

/// A borrowed handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: per the caller, a non-NULL pointer is a live handle.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Failure::new(o2o_status::NullArgument, format!("{name} is NULL")))
}

/// A mutably borrowed handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library, not used concurrently.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: per the caller.
    unsafe { ptr.as_mut() }
        .ok_or_else(|| Failure::new(o2o_status::NullArgument, format!("{name} is NULL")))
}

/// Checks an output pointer before any work is done.
pub(crate) fn check_out<T>(ptr: *mut T, name: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            o2o_status::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    Ok(())
}

/// Writes `value` to a checked output pointer.
///
/// # Safety
/// `ptr` was accepted by [`check_out`] and points to writable memory for a `T`.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T) {
    // SAFETY: per the caller.
    unsafe { ptr.write(value) };
}

/// Hands a new handle to C through a checked `T **out`.
///
/// # Safety
/// As [`put`].
pub(crate) unsafe fn hand_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: per the caller.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
}

/// Takes back and drops a handle; NULL is ignored.
///
/// # Safety
/// `ptr` is NULL or a handle made by [`hand_out`] and not freed before.
pub(crate) unsafe fn release<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per the caller, made by Box::into_raw and not freed before.
        drop(unsafe { Box::from_raw(ptr) });
    }
}
