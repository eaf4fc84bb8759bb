#!/usr/bin/env python3
"""End to end, CSV in, monthly table out: o2okit's visit_report against DuckDB, whole process
against whole process, on the same file, alternating in one run.

  cargo build --release --example visit_report --example generate_visits
  python3 bench/visits_end_to_end.py target/release/examples/visit_report FILE.csv [--tz ZONE] [--rounds 5]
      [--parquet]   (visit_report built with --features parquet)
  python3 bench/visits_end_to_end.py target/release/examples/visit_report --generate ROWS_MILLIONS \\
      --generator target/release/examples/generate_visits

o2okit: `visit_report FILE --json` (reads the file on every core, computes the table, prints
JSON). DuckDB: `scripts/duckdb_visits.py report FILE` (Python starts, imports duckdb, reads the
CSV into a table, runs the same definitions in SQL, prints JSON). Both outputs are checked to
agree, then each is timed ROUNDS times, alternating; the medians and their ratio are printed.
The file is read once beforehand so that both find it in the page cache.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent.parent


def timed(command):
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("visit_report")
    parser.add_argument("csv", nargs="?")
    parser.add_argument("--tz", default="Asia/Shanghai")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--generate", type=float, help="generate about this many million rows")
    parser.add_argument("--generator", help="path to the generate_visits example")
    parser.add_argument("--parquet", action="store_true",
                        help="also compare on the same visits as Parquet (DuckDB writes the file; "
                             "visit_report needs the parquet feature)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv
        if args.generate:
            path = os.path.join(tmp, "visits.csv")
            # generate_visits writes about 7.4 visits a member over 12 months.
            members = int(args.generate * 1e6 / 7.43)
            subprocess.run([args.generator, path, "--members", str(members), "--months", "12",
                            "--tz", args.tz], check=True, capture_output=True)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1
        print(f"{rows:,} rows, {size / 1e6:.0f} MB of CSV")
        compare(args, [args.visit_report, path, "--tz", args.tz, "--json"],
                [sys.executable, str(HERE / "scripts" / "duckdb_visits.py"), "report", path, "--tz", args.tz],
                "CSV", size)
        if args.parquet:
            import duckdb

            pq = os.path.join(tmp, "visits.parquet")
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            con.execute(
                "COPY (SELECT NULLIF(member_id, '') AS member_id, store_id, visited_at, spend_minor "
                "FROM read_csv($csv, header = true, columns = {'member_id': 'VARCHAR', "
                "'store_id': 'VARCHAR', 'visited_at': 'TIMESTAMPTZ', 'spend_minor': 'BIGINT'})) "
                f"TO '{pq}' (FORMAT parquet)", {"csv": path})
            con.close()
            size = os.path.getsize(pq)
            print(f"the same visits as Parquet (written by DuckDB, Snappy): {size / 1e6:.0f} MB")
            compare(args, [args.visit_report, "--parquet", pq, "--tz", args.tz, "--json"],
                    [sys.executable, str(HERE / "scripts" / "duckdb_visits.py"), "report", pq, "--parquet",
                     "--tz", args.tz], "Parquet", size)


def compare(args, o2okit, duckdb, kind, size):
    """Checks that both give the same report, then times them alternately."""
    _, ours = timed(o2okit)
    _, theirs = timed(duckdb)
    ours, theirs = json.loads(ours), json.loads(theirs)
    if ours != theirs:
        sys.exit(f"the two reports differ on the {kind} file (monthly table or cohorts)")
    times = {"o2okit": [], "duckdb": []}
    for _ in range(args.rounds):
        times["o2okit"].append(timed(o2okit)[0])
        times["duckdb"].append(timed(duckdb)[0])
    o, d = statistics.median(times["o2okit"]), statistics.median(times["duckdb"])
    print(f"{kind}: {len(ours['months'])} months, the monthly tables and cohorts agree")
    print(f"  o2okit visit_report, whole process: median {o:.3f} s ({size / 1e6 / o:.0f} MB/s), "
          f"runs {', '.join(f'{t:.3f}' for t in times['o2okit'])}")
    print(f"  DuckDB (Python, duckdb {__import__('duckdb').__version__}), whole process: median {d:.3f} s, "
          f"runs {', '.join(f'{t:.3f}' for t in times['duckdb'])}")
    print(f"  o2okit is {d / o:.1f}x faster end to end")


if __name__ == "__main__":
    main()
