#!/usr/bin/env python3
"""DuckDB reference for o2okit's visit analytics: the same monthly table and cohort matrix,
computed in SQL, for checking o2okit's figures and for timing against them.

  duckdb_visits.py report VISITS.csv [--tz ZONE] [--from DAY] [--to DAY]
                                                     JSON like `visit_report --json`
  duckdb_visits.py report VISITS.parquet|DIR --parquet [...]   the same from Parquet
  duckdb_visits.py report VISITS.csv --generated VISIT_REPORT [--period P] [...]
                                                     the same from the SQL o2okit generates
                                                     (`visit_report --sql duckdb`), not the
                                                     hand-written SQL below
  duckdb_visits.py bench DIR [--tz ZONE] [--runs N]  time the query on raw columns in DIR
                                                     (at.i64, member.u32, spend.i64)

Definitions (docs/metrics.md): active(P) has a visit in P; new(P) first visit in P;
retained(P) active in P and P-1; returning(P) active in P, not in P-1, first visit before P-1;
churned(P) active in P-1, not in P; avg ticket = spend / visits with spend > 0, rounded down.
"""
import argparse
import json
import pathlib
import sys
import time

import duckdb

MONTHLY_SQL = """
WITH v AS (
    SELECT member_id, spend_minor,
           year(visited_at AT TIME ZONE $tz) * 12 + month(visited_at AT TIME ZONE $tz) - 1 AS mi
    FROM visits),
bounds AS (SELECT min(mi) AS lo, max(mi) AS hi FROM v),
months AS (SELECT range AS mi FROM bounds, range(lo, hi + 1)),
flow AS (SELECT mi, count(*) AS visits, sum(spend_minor) AS spend,
                count(*) FILTER (WHERE spend_minor > 0) AS paid
         FROM v GROUP BY mi),
act AS (SELECT DISTINCT member_id, mi FROM v WHERE member_id IS NOT NULL),
firsts AS (SELECT member_id, min(mi) AS f FROM act GROUP BY member_id),
classes AS (
    SELECT a.mi, count(*) AS active,
           count(*) FILTER (WHERE f.f = a.mi) AS new,
           count(*) FILTER (WHERE p.member_id IS NOT NULL) AS retained,
           count(*) FILTER (WHERE f.f < a.mi AND p.member_id IS NULL) AS returning
    FROM act a JOIN firsts f USING (member_id)
    LEFT JOIN act p ON p.member_id = a.member_id AND p.mi = a.mi - 1
    GROUP BY a.mi),
churn AS (
    SELECT a.mi + 1 AS mi, count(*) AS churned
    FROM act a LEFT JOIN act n ON n.member_id = a.member_id AND n.mi = a.mi + 1
    WHERE n.member_id IS NULL
    GROUP BY a.mi + 1),
cohorts AS (
    SELECT f.f AS cohort, a.mi - f.f AS k, count(*) AS members
    FROM act a JOIN firsts f USING (member_id)
    GROUP BY ALL)
SELECT 'month' AS kind, m.mi AS a, 0 AS b,
       coalesce(c.active, 0), coalesce(c.new, 0), coalesce(c.retained, 0),
       coalesce(c.returning, 0), coalesce(ch.churned, 0), coalesce(fl.visits, 0),
       coalesce(fl.spend, 0), coalesce(fl.paid, 0)
FROM months m LEFT JOIN classes c USING (mi) LEFT JOIN churn ch USING (mi)
LEFT JOIN flow fl USING (mi)
UNION ALL
SELECT 'cohort', cohort, k, members, 0, 0, 0, 0, 0, 0, 0 FROM cohorts
"""


def label(mi):
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def monthly(con, tz):
    rows = con.execute(MONTHLY_SQL, {"tz": tz}).fetchall()
    months = sorted(r for r in rows if r[0] == "month")
    cells = {(r[1], r[2]): r[3] for r in rows if r[0] == "cohort"}
    if not months:
        return {"months": [], "cohorts": []}
    hi = months[-1][1]
    table = [
        {"month": label(mi), "active": active, "new": new, "retained": retained,
         "returning": returning, "churned": churned, "visits": visits,
         "spend_minor": int(spend), "avg_ticket_minor": int(spend) // paid if paid else None}
        for _, mi, _, active, new, retained, returning, churned, visits, spend, paid in months
    ]
    def row(mi):
        # o2okit ends a cohort's row at its last active month.
        active = [cells.get((mi, k), 0) for k in range(hi - mi + 1)]
        while active and active[-1] == 0:
            active.pop()
        return active

    cohorts = [
        {"cohort": label(mi), "size": cells.get((mi, 0), 0), "active": row(mi)}
        for _, mi, *_ in months
    ]
    return {"months": table, "cohorts": cohorts}


def report(args):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.parquet:
        # A file, or a folder of .parquet files.
        source = f"{args.path}/*.parquet" if pathlib.Path(args.path).is_dir() else args.path
        con.execute(
            "CREATE TABLE visits AS SELECT NULLIF(member_id, '') AS member_id, "
            "CAST(store_id AS VARCHAR) AS store_id, CAST(visited_at AS TIMESTAMPTZ) AS visited_at, "
            "spend_minor FROM read_parquet($path)",
            {"path": source},
        )
    else:
        con.execute(
            "CREATE TABLE visits AS SELECT NULLIF(member_id, '') AS member_id, store_id, "
            "visited_at, spend_minor FROM read_csv($path, header = true, columns = {"
            "'member_id': 'VARCHAR', 'store_id': 'VARCHAR', 'visited_at': 'TIMESTAMPTZ', "
            "'spend_minor': 'BIGINT'})",
            {"path": args.path},
        )
    if args.to:
        # Visits after the last day are left out, as if the report ran that night.
        con.execute(
            "DELETE FROM visits WHERE visited_at >= timezone($tz, CAST($day AS DATE) + INTERVAL 1 DAY)",
            {"tz": args.tz, "day": args.to},
        )
    stores = None
    if args.by_store:
        # Store ids are text, ordered as bytes; spend over visits with a spend, rounded down.
        stores = [
            {"store": store, "visits": visits, "members": members, "spend_minor": int(spend),
             "avg_ticket_minor": int(spend) // paid if paid else None}
            for store, visits, members, spend, paid in con.execute(
                "SELECT store_id, count(*), count(DISTINCT member_id), sum(spend_minor), "
                "count(*) FILTER (WHERE spend_minor > 0) FROM visits "
                "GROUP BY store_id ORDER BY store_id").fetchall()
        ]
    if args.generated:
        import visit_sql

        sql = visit_sql.generated_sql(args.generated, "duckdb", args.tz, args.period)
        rows = con.execute(sql["periods"]).fetchall()
        cells = con.execute(sql["cohorts"]).fetchall()
        json.dump(visit_sql.shape(args.period, rows, cells, args.from_), sys.stdout, separators=(",", ":"))
        print()
        return
    if args.period != "month":
        sys.exit("the hand-written reference is monthly; --generated runs every period")
    result = monthly(con, args.tz)
    if stores is not None:
        result["stores"] = stores
    if args.from_:
        # Months before the first day's are computed but not shown.
        first = args.from_[:7]
        result["months"] = [m for m in result["months"] if m["month"] >= first]
        result["cohorts"] = [c for c in result["cohorts"] if c["cohort"] >= first]
    json.dump(result, sys.stdout, separators=(",", ":"))
    print()


def bench(args):
    import numpy as np

    at = np.fromfile(f"{args.path}/at.i64", dtype="<i8")
    member = np.fromfile(f"{args.path}/member.u32", dtype="<u4").astype("int64")
    spend = np.fromfile(f"{args.path}/spend.i64", dtype="<i8")
    member = np.where(member == 0xFFFFFFFF, -1, member)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("raw", {"at": at, "member": member, "spend": spend})
    con.execute(
        'CREATE TABLE visits AS SELECT NULLIF(member, -1) AS member_id, to_timestamp("at") AS '
        "visited_at, spend AS spend_minor FROM raw"
    )
    con.unregister("raw")
    del at, member, spend
    times = []
    result = None
    for _ in range(args.runs):
        start = time.perf_counter()
        result = monthly(con, args.tz)
        times.append(time.perf_counter() - start)
    json.dump({"duckdb_version": duckdb.__version__, "seconds": times, "report": result},
              sys.stdout, separators=(",", ":"))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report")
    r.add_argument("path")
    r.add_argument("--tz", default="UTC")
    r.add_argument("--from", dest="from_")
    r.add_argument("--to")
    r.add_argument("--period", default="month", choices=["month", "week", "day"])
    r.add_argument("--by-store", action="store_true", help="add each store's figures")
    r.add_argument("--parquet", action="store_true", help="PATH is a Parquet file or a folder of them")
    r.add_argument("--generated", metavar="VISIT_REPORT", help="run the SQL this visit_report generates")
    b = sub.add_parser("bench")
    b.add_argument("path")
    b.add_argument("--tz", default="UTC")
    b.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    {"report": report, "bench": bench}[args.command](args)


if __name__ == "__main__":
    main()
