//! Every test SECURITY.md names exists where it says (and, being in the suite, passes).

use std::path::Path;

#[test]
fn every_test_named_in_security_md_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let mut file = String::new();
    let mut checked = 0;
    // References look like `path/to/file.rs::test_name` or, for the same file, `::test_name`.
    for reference in doc.split('`').skip(1).step_by(2) {
        let Some((path, name)) = reference.split_once("::") else {
            continue;
        };
        if !path.is_empty() {
            file = path.to_owned();
        }
        let source = std::fs::read_to_string(root.join(&file))
            .unwrap_or_else(|e| panic!("SECURITY.md names {file}: {e}"));
        assert!(
            source.contains(&format!("fn {name}(")),
            "SECURITY.md names {file}::{name}, which does not exist"
        );
        checked += 1;
    }
    for target in [
        "token_parse",
        "voucher_body",
        "verify_text",
        "scanner_text",
        "csv_import",
        "c_abi_strings",
    ] {
        assert!(doc.contains(target));
        assert!(
            root.join(format!("fuzz/fuzz_targets/{target}.rs")).exists(),
            "{target}"
        );
    }
    assert!(checked >= 30, "only {checked} test references found");
}
