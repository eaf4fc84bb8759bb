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

/// The library's version as one number, `major × 10000 + minor × 100 + patch` (0.1.0 is 100),
/// for an ABI check at start-up: compare it with `O2OKIT_VERSION_NUMBER` from the header the
/// program was compiled against. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn o2o_version_number() -> u32 {
    let part = |text: &str| text.parse::<u32>().unwrap_or(0);
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 10_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_cargo() {
        // SAFETY: o2o_version returns a pointer to a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(o2o_version()) };
        assert_eq!(text.to_str().unwrap(), crate::VERSION);
        let number: Vec<u32> = crate::VERSION
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            o2o_version_number(),
            number[0] * 10_000 + number[1] * 100 + number[2]
        );
    }
}
