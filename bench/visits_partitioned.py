#!/usr/bin/env python3
"""A visit log larger than one run's memory, reported in parts split by member and merged.

  cargo build --release --example visit_report --example generate_visits
  python3 bench/visits_partitioned.py target/release/examples/visit_report \\
      target/release/examples/generate_visits --millions 200 --parts 8 --dir /big/disk

1. generate_visits writes the log already split into PARTS files by member hash (as a
   warehouse partitioned by member holds it), and the whole log's monthly report computed
   from the generated visits in memory (the reference).
2. Each part is reported on its own, one after another (`visit_report PART.csv --partial`):
   wall time and peak resident memory of each process.
3. The parts' reports are merged (`visit_report --merge`) and compared with the reference,
   month by month and cohort by cohort.
4. With --duckdb-sample, part 0 (a sample of the members: 1/PARTS of them, with all their
   visits) is also reported by DuckDB's SQL (scripts/duckdb_visits.py) and compared with
   o2okit's report of it.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def timed(command):
    """Runs command; returns (stdout, seconds, peak RSS in MiB) of that process alone."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"failed ({process.returncode}): {' '.join(command)}")
    return out, seconds, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("visit_report")
    parser.add_argument("generate_visits")
    parser.add_argument("--millions", type=float, default=200, help="about this many million visits")
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--dir", default=".", help="where the CSV files go (about 37 bytes a visit)")
    parser.add_argument("--tz", default="Asia/Shanghai")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument("--duckdb-sample", action="store_true")
    args = parser.parse_args()

    d = pathlib.Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    csv = d / "visits.csv"
    parts = [d / f"visits.part{i}.csv" for i in range(args.parts)]
    partials = [d / f"part{i}.json" for i in range(args.parts)]
    reference = d / "whole.json"
    # generate_visits writes about 10.4 visits a member over 24 months.
    members = int(args.millions * 1e6 / 10.36)
    _, seconds, rss = timed([args.generate_visits, str(csv), "--members", str(members), "--months", "24",
                             "--stores", "5000", "--tz", args.tz, "--parts", str(args.parts),
                             "--reference", str(reference)])
    size = sum(p.stat().st_size for p in parts)
    print(f"generated {size / 1e9:.2f} GB in {args.parts} parts in {seconds:.0f} s (generator peak {rss:.0f} MiB)")

    print(f"{'part':>4} {'MB':>8} {'seconds':>8} {'peak MiB':>9}")
    peak = 0
    total = 0
    for i, (part, partial) in enumerate(zip(parts, partials)):
        _, seconds, rss = timed([args.visit_report, str(part), "--tz", args.tz, "--partial", str(partial)])
        peak, total = max(peak, rss), total + seconds
        print(f"{i:>4} {part.stat().st_size / 1e6:>8.0f} {seconds:>8.2f} {rss:>9.0f}")
    merged, seconds, rss = timed([args.visit_report, "--merge", *map(str, partials), "--json"])
    print(f"merge: {seconds:.3f} s, peak {rss:.0f} MiB")
    whole, _, _ = timed([args.visit_report, "--merge", str(reference), "--json"])
    merged, whole = json.loads(merged), json.loads(whole)
    visits = sum(m["visits"] for m in merged["months"])
    print(f"{visits:,} visits, {sum(m['new'] for m in merged['months']):,} members, "
          f"{len(merged['months'])} months: parts {total:.1f} s in all, largest process {peak:.0f} MiB")
    ok = merged == whole
    print("merged report equals the whole log's reference:", "yes" if ok else "NO")
    if args.duckdb_sample:
        ours, _, _ = timed([args.visit_report, "--merge", str(partials[0]), "--json"])
        theirs, seconds, rss = timed([sys.executable, str(HERE.parent / "scripts/duckdb_visits.py"), "report",
                                      str(parts[0]), "--tz", args.tz])
        same = json.loads(ours) == json.loads(theirs)
        print(f"part 0 by DuckDB ({seconds:.1f} s, peak {rss:.0f} MiB) equals o2okit's:", "yes" if same else "NO")
        ok = ok and same
    if not args.keep:
        for f in [*parts, *partials, reference]:
            f.unlink(missing_ok=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
