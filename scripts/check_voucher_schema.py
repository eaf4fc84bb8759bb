#!/usr/bin/env python3
"""Checks docs/voucher-examples against docs/voucher.schema.json with a JSON Schema validator:
every example valid, every example in invalid/ refused. (tests/voucher_json_format.rs checks
that o2okit reads, signs and refuses the same files.)"""
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
schema = json.loads((ROOT / "docs/voucher.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failed = 0
for path in sorted((ROOT / "docs/voucher-examples").glob("*.json")):
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    if errors:
        failed += 1
        print(f"INVALID {path.name}: {errors[0].message}")
    else:
        print(f"valid   {path.name}")
for path in sorted((ROOT / "docs/voucher-examples/invalid").glob("*.json")):
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    if errors:
        print(f"refused {path.name}: {errors[0].message[:100]}")
    else:
        failed += 1
        print(f"ACCEPTED {path.name}, which o2okit refuses")
print(f"voucher schema: {failed} failed")
sys.exit(1 if failed else 0)
