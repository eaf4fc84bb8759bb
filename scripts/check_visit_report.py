#!/usr/bin/env python3
"""Checks that `visit_report --json` equals the DuckDB reference, figure for figure.

  check_visit_report.py VISIT_REPORT_BINARY GENERATE_VISITS_BINARY

Runs both on the hand-made fixture (midnight visits at month boundaries, anonymous walk-ins)
and on generated logs, in several time zones (one with daylight saving). One case reports the
log in three parts split by member (`--partition I/3 --partial`) and merges them (`--merge`).
"""
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main():
    report, generate = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        generated = pathlib.Path(tmp) / "generated.csv"
        run(generate, str(generated), "--members", "3000", "--months", "24", "--stores", "7",
            "--tz", "America/New_York", "--seed", "7")
        # (file, zone, visit_report's extra options, the reference's)
        window = ["--from", "2025-04-17", "--to", "2026-03-08"]
        cases = [
            (ROOT / "tests/data/visits_small.csv", "Asia/Shanghai", [], []),
            (ROOT / "tests/data/visits_small.csv", "UTC", [], []),
            (ROOT / "tests/data/visits_small.csv", "America/New_York", [], []),
            (generated, "America/New_York", [], []),
            (generated, "Asia/Shanghai", [], []),
            # Chunks read on three threads; a window of days (New York's clocks change in it).
            (generated, "America/New_York", ["--threads", "3"], []),
            (generated, "America/New_York", window, window),
        ]
        passed = failed = 0
        # The generated log in three parts, merged; and the fixture in two.
        cases += [(generated, "America/New_York", "parts", 3, []), (ROOT / "tests/data/visits_small.csv", "Asia/Shanghai", "parts", 2, [])]
        for csv, tz, *rest in cases:
            if rest[0] == "parts":
                count = rest[1]
                paths = [pathlib.Path(tmp) / f"part{i}.json" for i in range(count)]
                for i, path in enumerate(paths):
                    run(report, str(csv), "--tz", tz, "--partition", f"{i}/{count}", "--partial", str(path))
                ours = json.loads(run(report, "--merge", *map(str, paths), "--json"))
                options, reference = [f"in {count} parts, merged"], []
            else:
                options, reference = rest
                ours = json.loads(run(report, str(csv), "--tz", tz, "--json", *options))
            theirs = json.loads(run(sys.executable, str(HERE / "duckdb_visits.py"), "report", str(csv), "--tz", tz, *reference))
            name = f"{csv.name} in {tz} {' '.join(options)}: {len(ours['months'])} months"
            if ours == theirs:
                passed += 1
                print(f"same  {name}")
            else:
                failed += 1
                print(f"DIFF  {name}")
                for a, b in zip(ours["months"], theirs["months"]):
                    if a != b:
                        print(f"  o2okit {a}\n  duckdb {b}")
                        break
                if ours["cohorts"] != theirs["cohorts"]:
                    print("  cohorts differ")
        print(f"visit report vs DuckDB: {passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
