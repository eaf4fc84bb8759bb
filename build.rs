//! With the `capi` feature, generates `include/o2okit.h` from the C ABI in `src/ffi` with
//! cbindgen. Without it (a Rust user's build) it does nothing.
//!
//! Only the files of `src/ffi` are parsed. The header is committed; CI regenerates it and fails
//! when the two differ. cbindgen's `write_to_file` only rewrites the file when its content
//! changed.

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    header::generate();
}

#[cfg(feature = "capi")]
mod header {
    use std::env;
    use std::path::Path;

    pub fn generate() {
        let crate_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let config = cbindgen::Config::from_file(Path::new(&crate_dir).join("cbindgen.toml"))
            .expect("cbindgen.toml is readable and valid");
        let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
        let mut parts = version.split(['.', '-', '+']);
        let mut next = || parts.next().unwrap_or("0").to_owned();
        let (major, minor, patch) = (next(), next(), next());
        let defines = format!(
            "#define O2OKIT_VERSION \"{version}\"\n\
             #define O2OKIT_VERSION_MAJOR {major}\n\
             #define O2OKIT_VERSION_MINOR {minor}\n\
             #define O2OKIT_VERSION_PATCH {patch}\n\
             #define O2OKIT_VERSION_NUMBER ({major} * 10000 + {minor} * 100 + {patch})\n"
        );
        // Parse the C ABI module (and the modules it declares) only, so nothing of the Rust API
        // leaks into the header.
        let ffi_root = Path::new(&crate_dir).join("src").join("ffi").join("mod.rs");
        let builder = cbindgen::Builder::new()
            .with_config(config)
            .with_src(ffi_root);
        match builder.with_after_include(defines).generate() {
            Ok(bindings) => {
                bindings.write_to_file(Path::new(&crate_dir).join("include").join("o2okit.h"));
            }
            Err(error) => panic!("cbindgen could not generate include/o2okit.h: {error}"),
        }
    }
}
