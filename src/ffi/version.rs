//! Library version for C callers.

use std::ffi::{CStr, c_char};

static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version contains a NUL byte"),
    };

/// The library's version as a NUL-terminated string, such as `"0.1.0"`; equal to
/// `O2OKIT_VERSION` when the header matches the library.
///
/// The string is static: never NULL, never to be freed. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn o2o_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_cargo() {
        // SAFETY: o2o_version returns a pointer to a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(o2o_version()) };
        assert_eq!(text.to_str().unwrap(), crate::VERSION);
    }
}
