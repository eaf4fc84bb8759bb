//! The C ABI (`include/o2okit.h`). Every symbol is prefixed `o2o_`.
//!
//! This layer holds no logic of its own: it checks pointers, converts types and calls the
//! safe Rust API. The header is generated from these signatures by cbindgen (see `build.rs`).
#![allow(unsafe_code)]

mod version;

pub use version::o2o_version;
