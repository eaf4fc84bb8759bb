"""Runs o2okit's generated report SQL (`visit_report --sql DIALECT --json`) and shapes its
rows as `visit_report --json` prints them; shared by duckdb_visits.py and spark_visits.py."""
import datetime
import json
import subprocess

NAMES = {"month": "months", "week": "weeks", "day": "days"}


def generated_sql(visit_report, dialect, tz, period):
    """The two queries o2okit generates for this report."""
    out = subprocess.run([visit_report, "--sql", dialect, "--tz", tz, "--period", period, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def first_label(day, period):
    """The label of the period containing the ISO date `day`."""
    d = datetime.date.fromisoformat(day)
    if period == "month":
        return d.strftime("%Y-%m")
    if period == "day":
        return d.isoformat()
    year, week, _ = d.isocalendar()
    return f"{year:04d}-W{week:02d}"


def shape(period, period_rows, cohort_rows, from_day=None):
    """Rows of the periods query (period, active, new, retained, returning, churned, visits,
    spend_minor, visits_with_spend, avg_ticket_minor) and of the cohorts query (cohort, k,
    members) as visit_report --json shows them."""
    table = [
        {period: label, "active": active, "new": new, "retained": retained, "returning": returning,
         "churned": churned, "visits": visits, "spend_minor": int(spend),
         "avg_ticket_minor": None if avg is None else int(avg)}
        for label, active, new, retained, returning, churned, visits, spend, _paid, avg in period_rows
    ]
    cells = {}
    for cohort, k, members in cohort_rows:
        cells.setdefault(cohort, {})[int(k)] = int(members)
    cohorts = []
    for row in table:
        mine = cells.get(row[period], {})
        length = max(mine, default=-1) + 1
        cohorts.append({"cohort": row[period], "size": mine.get(0, 0),
                        "active": [mine.get(k, 0) for k in range(length)]})
    if from_day:
        first = first_label(from_day, period)
        table = [r for r in table if r[period] >= first]
        cohorts = [c for c in cohorts if c["cohort"] >= first]
    return {NAMES[period]: table, "cohorts": cohorts}
