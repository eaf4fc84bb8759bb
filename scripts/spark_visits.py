#!/usr/bin/env python3
"""Runs o2okit's generated report SQL on Apache Spark (local mode), for checking that the SQL a
chain's warehouse would run gives o2okit's figures.

  spark_visits.py VISIT_REPORT VISITS.csv [--tz ZONE] [--period month|week|day]
                  [--from DAY] [--to DAY]          JSON like `visit_report --json`
  spark_visits.py VISIT_REPORT VISITS.csv --write-parquet DIR   Spark's Parquet of the visits
  spark_visits.py VISIT_REPORT --cases CASES.json  many reports in one Spark session:
                  [{"csv":…, "tz":…, "period":…, "from":…, "to":…}, …] -> a JSON list

The CSV is read as text and `visited_at` cast to a timestamp; the session time zone is UTC, as
the generated SQL requires.
"""
import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import visit_sql  # noqa: E402


def session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[2]").appName("o2okit-visits")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate())


def report(spark, visit_report, csv, tz, period, from_day=None, to_day=None):
    raw = (spark.read.option("header", True).option("encoding", "UTF-8")
           .schema("member_id STRING, store_id STRING, visited_at STRING, spend_minor BIGINT").csv(csv))
    raw.createOrReplaceTempView("raw")
    where = ""
    if to_day:
        # Visits after the last day are left out, as if the report ran that night.
        where = (f"WHERE CAST(visited_at AS TIMESTAMP) < "
                 f"to_utc_timestamp(date_add(DATE '{to_day}', 1), '{tz}')")
    spark.sql(
        "SELECT CASE WHEN member_id = '' THEN NULL ELSE member_id END AS member_id, "
        f"CAST(visited_at AS TIMESTAMP) AS visited_at, spend_minor FROM raw {where}"
    ).createOrReplaceTempView("visits")
    sql = visit_sql.generated_sql(visit_report, "spark", tz, period)
    rows = [tuple(r) for r in spark.sql(sql["periods"]).collect()]
    cells = [tuple(r) for r in spark.sql(sql["cohorts"]).collect()]
    return visit_sql.shape(period, rows, cells, from_day)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("visit_report")
    parser.add_argument("csv", nargs="?")
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--period", default="month", choices=["month", "week", "day"])
    parser.add_argument("--from", dest="from_")
    parser.add_argument("--to")
    parser.add_argument("--cases")
    parser.add_argument("--write-parquet", metavar="DIR", help="write CSV's visits as Parquet (Spark's defaults)")
    args = parser.parse_args()
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    if args.write_parquet:
        raw = (spark.read.option("header", True)
               .schema("member_id STRING, store_id STRING, visited_at STRING, spend_minor BIGINT").csv(args.csv))
        raw.selectExpr("member_id", "store_id", "CAST(visited_at AS TIMESTAMP) AS visited_at", "spend_minor") \
            .repartition(3).write.mode("overwrite").parquet(args.write_parquet)
        spark.stop()
        return
    if args.cases:
        cases = json.loads(pathlib.Path(args.cases).read_text())
        out = [report(spark, args.visit_report, c["csv"], c["tz"], c["period"], c.get("from"), c.get("to"))
               for c in cases]
    else:
        out = report(spark, args.visit_report, args.csv, args.tz, args.period, args.from_, args.to)
    json.dump(out, sys.stdout, separators=(",", ":"))
    print()
    spark.stop()


if __name__ == "__main__":
    main()
