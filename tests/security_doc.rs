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
            is_test(&source, name),
            "SECURITY.md names {file}::{name}, which is not a test there"
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
        "key_set",
        "public_key_token",
    ] {
        assert!(doc.contains(target));
        assert!(
            root.join(format!("fuzz/fuzz_targets/{target}.rs")).exists(),
            "{target}"
        );
    }
    assert!(checked >= 30, "only {checked} test references found");
}

/// Whether `source` has a test called `name`: a `#[test]` function, or a function run as a
/// test against both ledgers (or both head-office stores) by a `both_ledgers!(…)` (or
/// `on_both_stores!(…)`) list in the same file.
fn is_test(source: &str, name: &str) -> bool {
    let signature = format!("fn {name}(");
    let Some(at) = source.find(&signature) else {
        return false;
    };
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let own_line = &source[line_start..at];
    // The attributes and comments right above the function's line.
    let above: Vec<&str> = source[..line_start]
        .lines()
        .rev()
        .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("//"))
        .collect();
    if above.iter().any(|l| l.trim() == "#[test]") || own_line.contains("#[test]") {
        return true;
    }
    ["both_ledgers!(", "on_both_stores!("]
        .iter()
        .any(|macro_call| {
            source.split(macro_call).skip(1).any(|list| {
                let list = &list[..list.find(')').unwrap_or(list.len())];
                list.split(',').any(|n| n.trim() == name)
            })
        })
}

#[test]
fn a_helper_named_as_a_test_is_caught() {
    let source = "fn helper() {}\n\n#[test]\nfn real() {}\nfn shared(l: &dyn L) {}\nboth_ledgers!(shared);\n";
    assert!(!is_test(source, "helper"));
    assert!(is_test(source, "real"));
    assert!(is_test(source, "shared"));
    assert!(!is_test(source, "missing"));
}
