#!/usr/bin/env python3
"""Checks that the campaign lift report equals a DuckDB recomputation, figure for figure.

  check_lift.py CAMPAIGN_EXAMPLE_BINARY

Runs `examples/campaign.rs` with `--out DIR --json` on several seeds, sizes and true lifts
(one small enough that every row is too small to estimate), then recomputes every row from
the CSVs it wrote (assignments.csv and visits.csv): the per-member tallies, counts, sums,
means and sample variances in DuckDB SQL, and the intervals from them in Python, with the
definitions of `src/campaign/lift.rs`. Integers must be equal; floats within 1e-9 relative.
"""
import datetime
import json
import math
import pathlib
import subprocess
import sys
import tempfile

import duckdb

Z95 = 1.959963984540054
MIN_ARM_MEMBERS = 100

TALLIES = """
CREATE TABLE a AS SELECT * FROM read_csv($assignments, header = true, columns = {
    'campaign': 'UINTEGER', 'member': 'UBIGINT', 'home_store': 'UINTEGER', 'arm': 'VARCHAR',
    'voucher': 'UBIGINT'});
CREATE TABLE v AS SELECT * FROM read_csv($visits, header = true, columns = {
    'member': 'UBIGINT', 'store': 'UINTEGER', 'at_micros': 'BIGINT', 'spend_minor': 'UBIGINT',
    'voucher': 'UBIGINT', 'campaign': 'UINTEGER', 'discount_minor': 'UBIGINT'});
CREATE TABLE t AS
SELECT a.campaign, a.member, a.home_store, a.arm, a.voucher,
       count(v.member) AS visits,
       coalesce(sum(v.spend_minor), 0) AS spend,
       coalesce(bool_or(v.voucher = a.voucher AND v.campaign = a.campaign), false) AS redeemed,
       coalesce(sum(CASE WHEN v.voucher = a.voucher AND v.campaign = a.campaign
                         THEN v.discount_minor ELSE 0 END), 0) AS discount
FROM a LEFT JOIN v
  ON v.member = a.member AND v.at_micros >= $from AND v.at_micros < $until
GROUP BY a.campaign, a.member, a.home_store, a.arm, a.voucher;
"""

ARMS = """
SELECT campaign, store, arm,
       count(*) AS members,
       count(*) FILTER (WHERE visits > 0) AS visiting_members,
       sum(visits)::UBIGINT AS visits,
       sum(spend)::UBIGINT AS spend_minor,
       avg(visits) AS visits_per_member,
       avg(spend) AS spend_per_member,
       coalesce(var_samp(visits), 0) AS visits_variance,
       coalesce(var_samp(spend), 0) AS spend_variance,
       count(voucher) AS issued,
       count(*) FILTER (WHERE redeemed) AS redeemed,
       sum(discount)::UBIGINT AS discount_minor
FROM (SELECT *, NULL::UINTEGER AS store FROM t
      UNION ALL SELECT *, home_store AS store FROM t)
GROUP BY campaign, store, arm
ORDER BY campaign, store NULLS FIRST, arm
"""

FIGURES = ["members", "visiting_members", "visits", "spend_minor", "visits_per_member",
           "spend_per_member", "visits_variance", "spend_variance"]


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# The example's campaign instant and its 28-day window: the check's own, not the report's.
WINDOW = (datetime.datetime(2026, 9, 1, 2, tzinfo=datetime.timezone.utc),
          datetime.datetime(2026, 9, 29, 2, tzinfo=datetime.timezone.utc))


def micros(instant):
    return (instant - EPOCH) // datetime.timedelta(microseconds=1)


def parse(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def around(estimate, se):
    return {"estimate": estimate, "low": estimate - Z95 * se, "high": estimate + Z95 * se}


def scaled(e, by, minus):
    return {k: v * by - minus for k, v in e.items()}


def reference(directory):
    con = duckdb.connect()
    params = {"assignments": str(directory / "assignments.csv"),
              "visits": str(directory / "visits.csv"),
              "from": micros(WINDOW[0]), "until": micros(WINDOW[1])}
    for statement in TALLIES.split(";"):
        if statement.strip():
            keys = {k: v for k, v in params.items() if "$" + k in statement}
            con.execute(statement, keys)
    result = con.execute(ARMS)
    names = [d[0] for d in result.description]
    groups = {}
    for values in result.fetchall():
        row = dict(zip(names, values))
        groups.setdefault((row["campaign"], row["store"]), {})[row["arm"]] = row
    rows = []
    empty = {f: 0 for f in FIGURES + ["issued", "redeemed", "discount_minor"]}
    for (campaign, store), arms in groups.items():
        t, h = arms.get("treatment", empty), arms.get("holdout", empty)
        issued, redeemed = t["issued"] + h["issued"], t["redeemed"] + h["redeemed"]
        discount = t["discount_minor"] + h["discount_minor"]
        row = {
            "campaign": campaign, "store": store,
            "treatment": {f: t[f] for f in FIGURES}, "holdout": {f: h[f] for f in FIGURES},
            "visiting_difference": None, "visits_difference": None, "spend_difference": None,
            "visit_lift": None,
            "issued": issued, "redeemed": redeemed,
            "redemption_rate": redeemed / issued if issued else 0.0,
            "discount_minor": discount,
            "incremental_spend_minor": None, "return_minor": None, "verdict": "measured",
        }
        if t["members"] < MIN_ARM_MEMBERS or h["members"] < MIN_ARM_MEMBERS:
            row.update(verdict="too_small", treatment_members=t["members"],
                       holdout_members=h["members"], needed=MIN_ARM_MEMBERS)
            rows.append(row)
            continue
        nt, nh = t["members"], h["members"]
        pt, ph = t["visiting_members"] / nt, h["visiting_members"] / nh
        row["visiting_difference"] = around(pt - ph, math.sqrt(pt * (1 - pt) / nt + ph * (1 - ph) / nh))
        for figure, key in [("visits", "visits_difference"), ("spend", "spend_difference")]:
            mt, mh = t[f"{figure}_per_member"], h[f"{figure}_per_member"]
            vt, vh = t[f"{figure}_variance"], h[f"{figure}_variance"]
            row[key] = around(mt - mh, math.sqrt(vt / nt + vh / nh))
        mt, mh = t["visits_per_member"], h["visits_per_member"]
        if mt > 0 and mh > 0:
            ratio = mt / mh
            se = math.sqrt(t["visits_variance"] / (nt * mt * mt) + h["visits_variance"] / (nh * mh * mh))
            row["visit_lift"] = {"estimate": ratio - 1, "low": ratio * math.exp(-Z95 * se) - 1,
                                 "high": ratio * math.exp(Z95 * se) - 1}
        row["incremental_spend_minor"] = scaled(row["spend_difference"], nt, 0)
        row["return_minor"] = scaled(row["incremental_spend_minor"], 1, discount)
        rows.append(row)
    return rows


def differences(ours, theirs, path=""):
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if ours.keys() != theirs.keys():
            return [f"{path}: keys {sorted(ours)} vs {sorted(theirs)}"]
        return [d for k in ours for d in differences(ours[k], theirs[k], f"{path}.{k}")]
    if isinstance(ours, float) or isinstance(theirs, float):
        if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and \
                math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9):
            return []
        return [f"{path}: o2okit {ours} duckdb {theirs}"]
    return [] if ours == theirs else [f"{path}: o2okit {ours!r} duckdb {theirs!r}"]


def main():
    campaign = sys.argv[1]
    cases = [("20000", "1", "0.15"), ("20000", "2", "0.0"), ("30000", "3", "0.3"),
             ("3000", "4", "0.1")]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for members, seed, lift in cases:
            out = pathlib.Path(tmp) / f"run-{seed}"
            report = json.loads(subprocess.run(
                [campaign, "--members", members, "--seed", seed, "--true-lift", lift,
                 "--out", str(out), "--json"], check=True, capture_output=True, text=True).stdout)
            theirs = reference(out)
            problems = [] if len(report["rows"]) == len(theirs) else \
                [f"{len(report['rows'])} rows vs {len(theirs)}"]
            window = (parse(report["window"]["from"]), parse(report["window"]["until"]))
            if window != WINDOW:
                problems.append(f"window {window} is not the example's {WINDOW}")
            for ours, ref in zip(report["rows"], theirs):
                problems += differences(ours, ref, f"campaign {ours['campaign']} store {ours['store']}")
            verdicts = sorted({r["verdict"] for r in report["rows"]})
            name = f"{members} members, seed {seed}, true lift {lift}: {len(theirs)} rows ({', '.join(verdicts)})"
            if problems:
                failed += 1
                print(f"DIFF  {name}")
                for p in problems[:10]:
                    print(f"  {p}")
            else:
                passed += 1
                print(f"same  {name}")
    print(f"lift report vs DuckDB: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
