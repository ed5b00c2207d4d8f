"""`workshop bench anonymize`: the whole bench dataset end to end, and the engine against
a naive ORM loop and bulk_update on the same 100k customers.

Each part runs in a child process on a database of its own (Django binds one database
per process, and the shared `workshop` database stays as the notebooks expect it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from workshop import config
from workshop.bench import Result, benchmark

FULL_DB, COMPARE_DB = "workshop_bench", "workshop_bench_100k"
COMPARE_ROWS = 100_000

RUNS = 3  # timed builds after a warm-up; the median is reported (this machine is shared and noisy)

_FULL = """
import json, statistics, sys, workshop
workshop.setup("bench", progress=True)
from workshop.anonymize import build
build(target="anon_bench", progress=True)  # warm-up: pools, caches, a first copy
reports = []
for _ in range(%d):  # each one replaces the copy the previous one just wrote
    reports.append(build(target="anon_bench", progress=True))
    print(f"  {reports[-1]}", file=sys.stderr)
report = sorted(reports, key=lambda r: r.seconds)[len(reports) // 2]
print(json.dumps({"seconds": report.seconds, "runs": [r.seconds for r in reports], "rows": report.rows,
                  "tables": report.tables, "phases": report.phases}))
""" % RUNS

_COMPARE = """
import json, sys, time, workshop
workshop.setup("workshop", progress=True)
from workshop.anonymize import build, keys, baselines
from workshop.anonymize.shop_rules import shop_rules
from workshop.shop.models import Customer
limit = %d
assert Customer.objects.count() == limit, "the workshop dataset has %%d customers" %% Customer.objects.count()
master = keys.load_key()
rules = {"shop.Customer": shop_rules()["shop.Customer"]}
build(rules, target="anon_compare", only=["shop.Customer"], progress=False)  # warm-up
runs = []
for _ in range(%d):
    started = time.perf_counter()
    build(rules, target="anon_compare", only=["shop.Customer"], progress=False)
    runs.append(time.perf_counter() - started)
engine = sorted(runs)[len(runs) // 2]
print(f"  engine: {limit:,} customers in {engine:.2f} s (median of {[round(r, 2) for r in runs]})", file=sys.stderr)
started = time.perf_counter()
baselines.bulk(master, limit)
bulk = time.perf_counter() - started
print(f"  bulk_update: {limit:,} customers in {bulk:.1f} s", file=sys.stderr)
started = time.perf_counter()
baselines.naive_loop(master, limit)
naive = time.perf_counter() - started
print(f"  naive loop: {limit:,} customers in {naive:.1f} s", file=sys.stderr)
print(json.dumps({"engine": engine, "bulk": bulk, "naive": naive}))
"""


def _child(script: str, db_name: str, label: str) -> dict:
    env = {**os.environ, config.ENV_DB_NAME: db_name}
    env.pop(config.ENV_SIZE, None)
    print(f"anonymize bench: {label} (database {db_name})", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=None, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the anonymize benchmark ({label}) failed; see the output above")
    return json.loads(done.stdout.strip().splitlines()[-1])


@benchmark("anonymize", "anonymized copy of the bench dataset; engine vs ORM loop and bulk_update on 100k customers")
def bench_anonymize() -> list[Result]:
    full = _child(_FULL, FULL_DB, "1M customers and their orders, items, reviews")
    compare = _child(_COMPARE % (COMPARE_ROWS, RUNS), COMPARE_DB, f"engine vs naive loop vs bulk_update on {COMPARE_ROWS:,} customers")
    customers = full["tables"].get("shop_customer", 0)
    phases = ", ".join(f"{k} {v:.1f}" for k, v in full["phases"].items())
    return [
        Result("anonymize.bench_seconds", full["seconds"], "s",
               note=f"median of {', '.join(f'{s:.1f}' for s in full['runs'])} s: {full['rows']:,} rows "
                    f"({customers:,} customers) into a new schema replacing the previous copy, indexes and "
                    f"constraints included; {os.cpu_count()} cores; goal <= 20 s. Phases (s): {phases}"),
        Result("anonymize.rows_per_second", full["rows"] / full["seconds"], "rows/s"),
        Result("anonymize.vs_naive_ratio", compare["engine"], "s", baseline=compare["naive"],
               ratio=compare["naive"] / compare["engine"],
               note=f"{COMPARE_ROWS:,} customers: engine {compare['engine']:.2f} s vs obj.save() loop "
                    f"{compare['naive']:.1f} s; goal >= 50x"),
        Result("anonymize.vs_bulk_update_ratio", compare["engine"], "s", baseline=compare["bulk"],
               ratio=compare["bulk"] / compare["engine"],
               note=f"bulk_update(batch_size=1000) {compare['bulk']:.1f} s"),
    ]
