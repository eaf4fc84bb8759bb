//! The rejection table in `src/rejection.rs` is the one source of every reason: these tests
//! fail when the committed C header or `docs/rejections.md` says something else, or when a
//! name in the table is not the variant's own name.

use o2okit::Rejection;
use std::collections::BTreeMap;

const DOC: &str = "docs/rejections.md";

/// `docs/rejections.md` as the table makes it.
fn rejections_doc() -> String {
    let mut doc = String::from(
        "# Rejection reasons\n\n\
         Why a till refused a voucher (or a check-in code, or a card). A refusal is a normal \
         outcome, not an error: Rust gives a `Rejection`, C an `o2o_rejection`. The number \
         and the name never change meaning; a retired number is never reused. The text is for \
         people and may be reworded.\n\n\
         Numbers come in blocks by stage: 1–9 the token and its signature, 10–19 time, 20–29 \
         place, 30–39 member, 40–49 basket, 50–59 voucher state (kept by the ledger). The C \
         ABI adds `O2O_REJECTION_NONE` (0, accepted) and `O2O_REJECTION_NO_DECISION` (1000, \
         no decision to read).\n\n\
         Generated from the table in `src/rejection.rs` by `tests/rejection_table.rs` \
         (`O2OKIT_BLESS=1 cargo test --test rejection_table` rewrites it).\n\n\
         | Code | Name | C constant | Meaning |\n\
         | ---: | --- | --- | --- |\n",
    );
    for r in Rejection::ALL {
        doc += &format!(
            "| {} | `{}` | `O2O_REJECTION_{}` | {} |\n",
            r.code(),
            r.as_str(),
            r.as_str().to_uppercase(),
            r.text()
        );
    }
    doc
}

#[test]
fn the_documented_table_is_the_one_in_the_code() {
    let expected = rejections_doc();
    if std::env::var_os("O2OKIT_BLESS").is_some() {
        std::fs::write(DOC, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        committed == expected,
        "{DOC} is out of date: run O2OKIT_BLESS=1 cargo test --test rejection_table"
    );
}

#[test]
fn the_c_enum_in_the_header_has_every_reason_and_no_other() {
    let header = std::fs::read_to_string("include/o2okit.h").unwrap();
    let body = &header[header
        .find("enum o2o_rejection")
        .expect("o2o_rejection in the header")..];
    let body = &body[..body.find("};").unwrap()];
    let in_header: BTreeMap<String, u32> = body
        .lines()
        .filter_map(|line| line.trim().strip_prefix("O2O_REJECTION_"))
        .map(|entry| {
            let (name, code) = entry.trim_end_matches(',').split_once(" = ").unwrap();
            (name.to_lowercase(), code.parse().unwrap())
        })
        .collect();
    let mut expected: BTreeMap<String, u32> = Rejection::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), r.code()))
        .collect();
    expected.insert("none".into(), 0);
    expected.insert("no_decision".into(), 1000);
    assert_eq!(in_header, expected);
}

#[test]
fn each_name_is_its_variant_in_snake_case_and_codes_ascend() {
    let mut last = 0;
    for r in Rejection::ALL {
        let mut snake = String::new();
        for (i, c) in format!("{r:?}").chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        assert_eq!(r.as_str(), snake);
        assert!(r.code() > last, "{r} is out of code order");
        last = r.code();
        assert!(
            r.text().ends_with('.') && r.text().len() > 10,
            "{r}: {}",
            r.text()
        );
    }
}
