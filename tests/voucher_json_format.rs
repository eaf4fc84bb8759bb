//! The voucher JSON a C vendor writes (`docs/voucher.schema.json`): every example in
//! `docs/voucher-examples/` is read and signed, every one in `invalid/` is refused, and the
//! schema names exactly the fields the Rust type reads. `scripts/check_voucher_schema.py`
//! (run by `.ci/run`) checks the same examples against the schema with a JSON Schema validator.

mod common;

use common::*;
use o2okit::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn examples(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_documented_example_is_read_signed_and_round_trips() {
    let files = examples("docs/voucher-examples");
    assert!(files.len() >= 4);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let voucher: Voucher =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        voucher
            .sign(&keyring())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let again: Voucher =
            serde_json::from_value(serde_json::to_value(&voucher).unwrap()).unwrap();
        assert_eq!(again, voucher, "{}", file.display());
    }
}

#[test]
fn every_invalid_example_is_refused_with_a_reason() {
    let files = examples("docs/voucher-examples/invalid");
    assert!(files.len() >= 8);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let refused = match serde_json::from_str::<Voucher>(&text) {
            Err(e) => e.to_string(),
            Ok(voucher) => match voucher.sign(&keyring()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{} was signed", file.display()),
            },
        };
        assert!(!refused.is_empty(), "{}", file.display());
    }
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_schema_names_exactly_the_fields_of_the_voucher() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/voucher.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let voucher = serde_json::to_value(reference_voucher()).unwrap();
    assert_eq!(keys(&schema["properties"]), keys(&voucher));
    for part in ["time", "region", "conditions", "state"] {
        assert_eq!(
            keys(&schema["properties"][part]["properties"]),
            keys(&voucher[part]),
            "{part}"
        );
    }
    for benefit in [
        Benefit::AmountOff { minor: 1 },
        Benefit::PercentOff {
            basis_points: 1,
            cap_minor: None,
        },
        Benefit::GiftItem {
            item: ItemId(1),
            quantity: 1,
        },
        Benefit::StoredValue { minor: 1 },
    ] {
        let value = serde_json::to_value(benefit).unwrap();
        let kind = value["type"].as_str().unwrap().to_owned();
        let forms = schema["$defs"]["benefit"]["oneOf"].as_array().unwrap();
        let form = forms
            .iter()
            .find(|f| f["properties"]["type"]["const"] == kind.as_str())
            .unwrap_or_else(|| panic!("no schema for {kind}"));
        assert_eq!(keys(&form["properties"]), keys(&value), "{kind}");
    }
}
