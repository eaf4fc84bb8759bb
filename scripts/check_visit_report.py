#!/usr/bin/env python3
"""Checks that `visit_report --json` equals independent computations, figure for figure.

  check_visit_report.py VISIT_REPORT_BINARY GENERATE_VISITS_BINARY [--spark]

References, for each case:
- DuckDB running the hand-written SQL of scripts/duckdb_visits.py (monthly cases);
- DuckDB running the SQL o2okit generates (`visit_report --sql duckdb`), at every granularity;
- with --spark, Apache Spark (local mode) running the SQL o2okit generates for Spark.

Cases: the hand-made fixture (midnight visits at month boundaries, anonymous walk-ins) and
generated logs, in several time zones (one with daylight saving), by month, ISO week and day;
a read on three threads; a window of days (--from/--to); and reports made in parts split by
member (`--partition I/K --partial`) and merged (`--merge`).
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def ours(report, case, tmp):
    """visit_report's JSON for the case (made in parts and merged when the case says so)."""
    csv, tz, period = str(case["csv"]), case["tz"], case["period"]
    window = [*(["--from", case["from"]] if "from" in case else []),
              *(["--to", case["to"]] if "to" in case else [])]
    if "parts" in case:
        count = case["parts"]
        paths = [str(pathlib.Path(tmp) / f"part{i}.json") for i in range(count)]
        for i, path in enumerate(paths):
            run(report, csv, "--tz", tz, "--period", period, "--partition", f"{i}/{count}",
                "--partial", path, *(["--to", case["to"]] if "to" in case else []))
        return json.loads(run(report, "--merge", *paths, "--json",
                              *(["--from", case["from"]] if "from" in case else [])))
    by_store = ["--by-store"] if case.get("by_store") else []
    return json.loads(run(report, csv, "--tz", tz, "--period", period, "--json",
                          *case.get("options", []), *window, *by_store))


def duckdb(case, generated=None):
    window = [*(["--from", case["from"]] if "from" in case else []),
              *(["--to", case["to"]] if "to" in case else [])]
    extra = (["--generated", generated, "--period", case["period"]] if generated
             else ["--by-store"] if case.get("by_store") else [])
    return json.loads(run(sys.executable, str(HERE / "duckdb_visits.py"), "report", str(case["csv"]),
                          "--tz", case["tz"], *window, *extra))


def describe(case):
    extras = " ".join([*case.get("options", []),
                       *([f"from {case['from']}"] if "from" in case else []),
                       *([f"to {case['to']}"] if "to" in case else []),
                       *([f"in {case['parts']} parts, merged"] if "parts" in case else []),
                       *(["with stores"] if case.get("by_store") else [])])
    return f"{pathlib.Path(case['csv']).name} by {case['period']} in {case['tz']} {extras}".rstrip()


def compare(name, reference, mine, theirs):
    if mine == theirs:
        key = next(iter(mine))
        print(f"same  {reference:<22} {name}: {len(mine[key])} periods")
        return True
    print(f"DIFF  {reference:<22} {name}")
    key = next(iter(mine))
    for a, b in zip(mine.get(key, []), theirs.get(key, [])):
        if a != b:
            print(f"  o2okit {a}\n  {reference} {b}")
            break
    if len(mine.get(key, [])) != len(theirs.get(key, [])):
        print(f"  {len(mine.get(key, []))} periods against {len(theirs.get(key, []))}")
    if mine.get("cohorts") != theirs.get("cohorts"):
        print("  cohorts differ")
    return False


SEGMENTS_SQL = """
WITH v AS (SELECT member_id, visited_at, spend_minor FROM {source} WHERE member_id IS NOT NULL),
s AS (SELECT member_id, count(*) AS visits, min(visited_at) AS first_visit,
             max(visited_at) AS last_visit, sum(spend_minor) AS spend_minor FROM v GROUP BY member_id),
q AS (SELECT *, count(*) OVER () AS n,
             1 + (rank() OVER (ORDER BY last_visit) - 1) * 5 // count(*) OVER () AS r,
             1 + (rank() OVER (ORDER BY visits) - 1) * 5 // count(*) OVER () AS f,
             1 + (rank() OVER (ORDER BY spend_minor) - 1) * 5 // count(*) OVER () AS m
      FROM s)
SELECT member_id,
       CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
            WHEN r >= 4 AND visits = 1 THEN 'new'
            WHEN r = 3 AND f >= 4 THEN 'loyal'
            WHEN r <= 2 AND f >= 3 THEN 'at_risk'
            WHEN r <= 2 THEN 'lapsed'
            ELSE 'regular' END,
       r, f, m,
       printf('%.3f', epoch((SELECT max(visited_at) FROM {source}) - last_visit) / 86400.0),
       visits, first_visit, last_visit, spend_minor
FROM q ORDER BY member_id
"""


def parquet_checks(report, tmp, generated, text_ids, spark):
    """visit_report --parquet against its own CSV reading and DuckDB's, on files DuckDB (and
    Spark) wrote; the exported tables (CSV and Parquet) against the JSON report."""
    import duckdb

    results = []
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for csv, tz in [(generated, "America/New_York"), (text_ids, "Asia/Shanghai")]:
        pq = tmp / f"{csv.stem}.parquet"
        con.execute(
            "COPY (SELECT NULLIF(member_id, '') AS member_id, store_id, visited_at, spend_minor "
            "FROM read_csv($csv, header = true, columns = {'member_id': 'VARCHAR', "
            "'store_id': 'VARCHAR', 'visited_at': 'TIMESTAMPTZ', 'spend_minor': 'BIGINT'})) "
            f"TO '{pq}' (FORMAT parquet, ROW_GROUP_SIZE 4096)", {"csv": str(csv)})
        name = f"{pq.name} (written by DuckDB) by month in {tz} with stores"
        from_parquet = json.loads(run(report, "--parquet", str(pq), "--tz", tz, "--json", "--by-store"))
        from_csv = json.loads(run(report, str(csv), "--tz", tz, "--json", "--by-store"))
        results.append(compare(name, "o2okit from the CSV", from_parquet, from_csv))
        theirs = json.loads(run(sys.executable, str(HERE / "duckdb_visits.py"), "report", str(pq),
                                "--parquet", "--tz", tz, "--by-store"))
        results.append(compare(name, "DuckDB, hand-written", from_parquet, theirs))
        # The exported tables, as CSV and as Parquet, hold the JSON report's figures.
        out = tmp / f"export-{csv.stem}"
        run(report, "--parquet", str(pq), "--tz", tz, "--by-store", "--export", str(out))
        for table, key in [("periods", "months"), ("stores", "stores")]:
            for kind in ("csv", "parquet"):
                reader = "read_csv" if kind == "csv" else "read_parquet"
                options = ", all_varchar = true" if kind == "csv" else ""
                rows = con.execute(f"SELECT * FROM {reader}('{out}/{table}.{kind}'{options})").fetchall()
                columns = [d[0] for d in con.description]
                exported = [dict(zip(columns, row)) for row in rows]
                expected = from_parquet[key]
                fields = [c for c in columns if c != "visits_with_spend"]
                def norm(value):
                    return None if value in (None, "") else str(value)
                same = [[norm(r[c]) for c in fields] for r in exported] == [
                    [norm(r["month" if c == "period" else c]) for c in fields] for r in expected]
                results.append(same)
                print(f"{'same' if same else 'DIFF'}  {'export ' + kind:<22} {table} of {name}")
        # Each member's RFM segment, recomputed here in SQL from the visits (as of the last
        # visit): quintile = 1 + (members with a strictly lower value) × 5 / members.
        theirs = con.execute(SEGMENTS_SQL.format(source=f"read_parquet('{pq}')")).fetchall()
        for kind in ("csv", "parquet"):
            reader = "read_csv" if kind == "csv" else "read_parquet"
            options = ", all_varchar = true" if kind == "csv" else ""
            ours = con.execute(
                f"SELECT member_id, segment, r, f, m, printf('%.3f', CAST(recency_days AS DOUBLE)), visits, "
                f"CAST(first_visit AS TIMESTAMPTZ), CAST(last_visit AS TIMESTAMPTZ), spend_minor "
                f"FROM {reader}('{out}/segments.{kind}'{options}) ORDER BY member_id").fetchall()
            if kind == "csv":
                # A spreadsheet formula's id is written guarded by a leading ' (as write_csv does).
                guarded = ("'=", "'+", "'-", "'@", "'\t", "'\r", "''")
                ours = sorted((r[0][1:] if r[0][:2] in guarded else r[0],) + tuple(r[1:])
                              for r in ours)
            norm = lambda rows: [tuple(str(v) for v in row) for row in rows]
            same = norm(ours) == norm(theirs) and len(ours) > 0
            results.append(same)
            print(f"{'same' if same else 'DIFF'}  {'export ' + kind:<22} segments of {name} "
                  f"({len(ours)} members, DuckDB SQL)")
    if spark:
        # Spark writes a folder of part files with INT96 timestamps.
        folder = tmp / "spark-parquet"
        run(sys.executable, str(HERE / "spark_visits.py"), report, str(generated), "--write-parquet", str(folder))
        name = f"{generated.name} written by Spark as a folder of Parquet files"
        from_parquet = json.loads(run(report, "--parquet", str(folder), "--tz", "America/New_York", "--json"))
        from_csv = json.loads(run(report, str(generated), "--tz", "America/New_York", "--json"))
        results.append(compare(name, "o2okit from the CSV", from_parquet, from_csv))
    return results


def store_checks(report, tmp, generated):
    """The generated log appended to a visit store in three uneven batches (the last one
    earlier in time than the second) reports as the CSV does."""
    lines = generated.read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    cuts = [0, len(body) // 5, len(body) * 3 // 4, len(body)]
    batches = [body[cuts[0]:cuts[1]], body[cuts[2]:cuts[3]], body[cuts[1]:cuts[2]]]
    store = tmp / "visit-store"
    for i, batch in enumerate(batches):
        path = tmp / f"batch{i}.csv"
        path.write_text(header + "".join(batch))
        run(report, str(path), "--tz", "America/New_York", "--append-to", str(store))
    results = []
    for period in ("month", "week"):
        ours = json.loads(run(report, "--store", str(store), "--period", period, "--json", "--by-store"))
        csv = json.loads(run(report, str(generated), "--tz", "America/New_York", "--period", period,
                             "--json", "--by-store"))
        results.append(compare(f"{generated.name} appended in 3 batches, by {period}", "o2okit from the CSV",
                               ours, csv))
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("visit_report")
    parser.add_argument("generate_visits")
    parser.add_argument("--spark", action="store_true", help="also run the generated SQL on Spark")
    args = parser.parse_args()
    report = args.visit_report
    small = ROOT / "tests/data/visits_small.csv"
    text_ids = ROOT / "tests/data/visits_text_ids.csv"
    with tempfile.TemporaryDirectory() as tmp:
        generated = pathlib.Path(tmp) / "generated.csv"
        run(args.generate_visits, str(generated), "--members", "3000", "--months", "24", "--stores", "7",
            "--tz", "America/New_York", "--seed", "7")
        window = {"from": "2025-04-17", "to": "2026-03-08"}
        cases = [
            {"csv": small, "tz": "Asia/Shanghai", "period": "month"},
            {"csv": small, "tz": "UTC", "period": "month"},
            {"csv": small, "tz": "America/New_York", "period": "month"},
            {"csv": small, "tz": "America/New_York", "period": "week"},
            {"csv": small, "tz": "Asia/Shanghai", "period": "day"},
            {"csv": generated, "tz": "America/New_York", "period": "month"},
            {"csv": generated, "tz": "Asia/Shanghai", "period": "month"},
            {"csv": generated, "tz": "America/New_York", "period": "week"},
            {"csv": generated, "tz": "America/New_York", "period": "day"},
            # Chunks read on three threads; a window of days (New York's clocks change in it).
            {"csv": generated, "tz": "America/New_York", "period": "month", "options": ["--threads", "3"]},
            {"csv": generated, "tz": "America/New_York", "period": "month", **window},
            {"csv": generated, "tz": "America/New_York", "period": "week", **window},
            # In parts split by member, merged.
            {"csv": generated, "tz": "America/New_York", "period": "month", "parts": 3},
            {"csv": generated, "tz": "America/New_York", "period": "day", "parts": 4, **window},
            {"csv": small, "tz": "Asia/Shanghai", "period": "month", "parts": 2},
            # Member and store ids as text (S016, 007 and 7, spaces, CJK, a quoted comma),
            # reported back under their own names.
            {"csv": text_ids, "tz": "Asia/Shanghai", "period": "month", "by_store": True},
            {"csv": text_ids, "tz": "Asia/Shanghai", "period": "week"},
            {"csv": text_ids, "tz": "Asia/Shanghai", "period": "month", "parts": 3},
            {"csv": generated, "tz": "America/New_York", "period": "month", "by_store": True},
        ]
        mine = [ours(report, case, tmp) for case in cases]
        results = []
        for case, m in zip(cases, mine):
            name = describe(case)
            if case["period"] == "month":
                results.append(compare(name, "DuckDB, hand-written", m, duckdb(case)))
            periods_only = {k: v for k, v in m.items() if k != "stores"}
            results.append(compare(name, "DuckDB, generated SQL", periods_only, duckdb(case, report)))
        if args.spark:
            spec = pathlib.Path(tmp) / "cases.json"
            spec.write_text(json.dumps([{k: str(v) for k, v in c.items() if k in ("csv", "tz", "period", "from", "to")}
                                        for c in cases]))
            spark = json.loads(run(sys.executable, str(HERE / "spark_visits.py"), report, "--cases", str(spec)))
            for case, m, theirs in zip(cases, mine, spark):
                periods_only = {k: v for k, v in m.items() if k != "stores"}
                results.append(compare(describe(case), "Spark, generated SQL", periods_only, theirs))
        results += parquet_checks(report, pathlib.Path(tmp), generated, text_ids, args.spark)
        results += store_checks(report, pathlib.Path(tmp), generated)
        passed = sum(results)
        failed = len(results) - passed
        print(f"visit report vs DuckDB{' and Spark' if args.spark else ''}: {passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
