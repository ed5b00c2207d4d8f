"""`workshop bench anonymize`: the whole bench dataset end to end, and the engine against
a naive ORM loop and bulk_update on the same 100k customers.

Each part runs in a child process on a database of its own (Django binds one database
per process, and the shared `workshop` database stays as the notebooks expect it).
"""

from __future__ import annotations

import os
import time

from workshop.bench import Result, benchmark, run_child

FULL_DB, COMPARE_DB = "workshop_bench", "workshop_bench_100k"
COMPARE_ROWS = 100_000

RUNS = 3  # timed builds after a warm-up; the median is reported (this machine is shared and noisy)

_FULL = """
import json, statistics, sys, workshop
workshop.setup("bench", progress=True)
from workshop.anonymize import build
build(target="anon_bench", progress=True)  # warm-up: pools, caches, a first copy
reports = []
for _ in range(__RUNS__):  # each one replaces the copy the previous one just wrote
    reports.append(build(target="anon_bench", progress=True))
    print(f"  {reports[-1]}", file=sys.stderr)
report = sorted(reports, key=lambda r: r.seconds)[len(reports) // 2]
print(json.dumps({"seconds": report.seconds, "runs": [r.seconds for r in reports], "rows": report.rows,
                  "tables": report.tables, "phases": report.phases}))
""".replace("__RUNS__", str(RUNS))  # a template of its own: no % or {} to escape

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


_TARGET = """
import json, sys, workshop
workshop.setup("bench", progress=True)
from workshop.anonymize.shop_rules import shop_target
from workshop.anonymize.target import build_to_target, search
goal = shop_target()
full = search(goal)  # the whole lattice, every quasi-identifier from its finest level
print(f"  whole lattice: {full.describe()} in {full.seconds:.2f} s ({full.evaluated} of {full.nodes} nodes counted)", file=sys.stderr)
report = build_to_target(goal, schema="anon_target_bench", progress=True)  # above the shop rules' own levels
print(f"  {report}", file=sys.stderr)
s = report.search
print(json.dumps({"full": full.seconds, "full_evaluated": full.evaluated, "full_nodes": full.nodes, "full_chosen": full.describe(),
                  "full_suppressed": len(full.suppressed_ids),
                  "search": s.seconds, "suppress": report.suppress_seconds, "rows": s.rows,
                  "suppressed": len(s.suppressed_ids), "chosen": s.describe(), "evaluated": s.evaluated, "nodes": s.nodes,
                  "loss": s.information_loss, "utility": report.utility.to_dict("records")}))
"""

# Side by side in one process, on the same rows: a copy (CREATE DATABASE ... TEMPLATE) of the
# 100k database, so django-scrubber, which works in place, never touches the one the other
# parts measure (dropped afterwards). First the engine rewrites exactly the fields the
# scrubbers below rewrite, in the customer table only (only=["shop.Customer"]): a warm-up,
# then the median of RUNS builds; once more copying every table (same rules) for context.
# Then django-scrubber's scrub_data on those fields, twice: the first run as a user meets it
# (it generates its Faker table first), the second with that table kept. The headline ratio
# is the conservative one: django-scrubber's faster run against the engine's median.
_SCRUBBER = """
import json, statistics, sys, time
import psycopg
from workshop import settings as workshop_settings
workshop_settings.INSTALLED_APPS += ["django.contrib.sessions", "django_scrubber"]  # this process only
import workshop
from workshop import config, django_setup
from workshop.services import postgres
from django.conf import settings
from django.db import connections
source, copy, runs = %r, %r, %d
django_setup.configure(postgres.resolve().url)
params = {k: v for k, v in connections["default"].get_connection_params().items() if k in ("host", "port", "user", "password")}
connections.close_all()
with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
    admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
settings.DATABASES["default"]["NAME"] = copy
connections["default"].settings_dict["NAME"] = copy
django_setup.migrate()  # django-scrubber's and the sessions' tables, in the copy only
from workshop.anonymize import build
from workshop.anonymize.shop_rules import EMAIL, NATIONAL_ID, PHONE
from workshop.anonymize.strategies import Fake
from workshop.shop.models import Customer
rows = Customer.objects.count()
same = {"shop.Customer": {"first_name": Fake("first_name"), "last_name": Fake("last_name"),
                          "street_address": Fake("street_address"), "email": EMAIL, "phone": PHONE, "national_id": NATIONAL_ID}}
started = time.perf_counter()
build(same, target="anon_scrub_cmp", only=["shop.Customer"], progress=False)  # warm-up: Faker pools
engine_cold = time.perf_counter() - started
engine_runs = []
for _ in range(runs):
    started = time.perf_counter()
    build(same, target="anon_scrub_cmp", only=["shop.Customer"], progress=False)
    engine_runs.append(time.perf_counter() - started)
engine = statistics.median(engine_runs)
started = time.perf_counter()
whole = build(same, target="anon_scrub_cmp", progress=False)
engine_whole = time.perf_counter() - started
print(f"  engine, same 6 fields: {rows:,} customers in {engine:.2f} s (median of {[round(r, 2) for r in engine_runs]}); "
      f"every table copied: {engine_whole:.2f} s ({whole.rows:,} rows)", file=sys.stderr)
settings.DEBUG = True  # scrub_data refuses to run otherwise
from django_scrubber import scrubbers
field = Customer._meta.get_field
class CustomerScrubbers:  # the same fields, as django-scrubber's docs show
    first_name = scrubbers.Faker("first_name")
    last_name = scrubbers.Faker("last_name")
    street_address = scrubbers.Faker("street_address")
    email = scrubbers.Hash(field("email"))
    phone = scrubbers.Hash(field("phone"))
    national_id = scrubbers.Hash(field("national_id"))
settings.SCRUBBER_MAPPING = {"shop.Customer": "__main__.CustomerScrubbers"}
from django.core.management import call_command
scrub_runs = []
for _ in range(2):
    started = time.perf_counter()
    call_command("scrub_data", model="shop.Customer", verbosity=0)
    scrub_runs.append(time.perf_counter() - started)
changed = Customer.objects.exclude(email__contains="@").count()
print(f"  django-scrubber scrub_data: {rows:,} customers in {scrub_runs[0]:.1f} s (first run), "
      f"{scrub_runs[1]:.1f} s (Faker table kept); {changed:,} emails rewritten", file=sys.stderr)
connections.close_all()
with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
print(json.dumps({"engine": engine, "engine_runs": engine_runs, "engine_cold": engine_cold, "engine_whole": engine_whole, "whole_rows": whole.rows,
                  "first": scrub_runs[0], "seconds": scrub_runs[1], "rows": rows, "changed": changed}))
"""


def _child(script: str, db_name: str, label: str) -> dict:
    return run_child(f"anonymize bench: {label}", script, db_name)


@benchmark(
    "anonymize",
    "anonymized copy of the bench dataset; engine vs ORM loop and bulk_update on 100k customers",
    names=(
        "anonymize.bench_seconds",
        "anonymize.rows_per_second",
        "anonymize.vs_naive_ratio",
        "anonymize.vs_bulk_update_ratio",
        "anonymize.target_search_seconds",
        "anonymize.suppressed_share",
        "anonymize.utility_max_error",
        "anonymize.vs_django_scrubber_ratio",
    ),
)
def bench_anonymize() -> list[Result]:
    full = _child(_FULL, FULL_DB, "1M customers and their orders, items, reviews")
    compare = _child(
        _COMPARE % (COMPARE_ROWS, RUNS),
        COMPARE_DB,
        f"engine vs naive loop vs bulk_update on {COMPARE_ROWS:,} customers",
    )
    target = _child(_TARGET, FULL_DB, "privacy target k=5: lattice search and suppression on 1M customers")
    scrub = _child(
        _SCRUBBER % (COMPARE_DB, COMPARE_DB + "_scrub", RUNS),
        "postgres",
        "the engine and django-scrubber scrub_data, same fields, on a copy of the 100k database",
    )
    customers = full["tables"].get("shop_customer", 0)
    phases = ", ".join(f"{k} {v:.1f}" for k, v in full["phases"].items())
    return [
        Result(
            "anonymize.bench_seconds",
            full["seconds"],
            "s",
            note=f"median of {', '.join(f'{s:.1f}' for s in full['runs'])} s: {full['rows']:,} rows "
            f"({customers:,} customers) into a new schema replacing the previous copy, indexes and "
            f"constraints included; {os.cpu_count()} cores; goal <= 20 s. Phases (s): {phases}",
        ),
        Result("anonymize.rows_per_second", full["rows"] / full["seconds"], "rows/s"),
        Result(
            "anonymize.vs_naive_ratio",
            compare["engine"],
            "s",
            baseline=compare["naive"],
            ratio=compare["naive"] / compare["engine"],
            note=f"{COMPARE_ROWS:,} customers: engine {compare['engine']:.2f} s vs obj.save() loop "
            f"{compare['naive']:.1f} s; goal >= 50x",
        ),
        Result(
            "anonymize.vs_bulk_update_ratio",
            compare["engine"],
            "s",
            baseline=compare["bulk"],
            ratio=compare["bulk"] / compare["engine"],
            note=f"bulk_update(batch_size=1000) {compare['bulk']:.1f} s",
        ),
        Result(
            "anonymize.target_search_seconds",
            target["full"] + target["suppress"],
            "s",
            note=f"k=5 over birth date, ZIP, gender, city, state on {target['rows']:,} customers: the whole "
            f"lattice searched {target['full']:.1f} s ({target['full_evaluated']} of {target['full_nodes']} nodes "
            f"counted, the rest pruned by monotonicity; chose {target['full_chosen']}) + suppression in the "
            f"copy {target['suppress']:.1f} s. build_to_target searches only above the shop rules' own "
            f"levels: {target['search']:.1f} s ({target['evaluated']} of {target['nodes']} nodes), chose "
            f"{target['chosen']}; goal <= 10 s",
        ),
        Result(
            "anonymize.suppressed_share",
            target["suppressed"] / target["rows"],
            "share",
            note=f"{target['suppressed']:,} of {target['rows']:,} customers withheld; goal <= 2%; information loss "
            f"{target['loss']:.2f}",
        ),
        Result(
            "anonymize.utility_max_error",
            max(u["max relative error"] for u in target["utility"]),
            "share",
            note="max relative error per aggregate (copy vs source): "
            + "; ".join(
                f"{u['aggregate']} {u['max relative error']:.1%} (mean {u['mean relative error']:.1%})"
                for u in target["utility"]
            ),
        ),
        Result(
            "anonymize.vs_django_scrubber_ratio",
            scrub["engine"],
            "s",
            baseline=min(scrub["first"], scrub["seconds"]),
            ratio=min(scrub["first"], scrub["seconds"]) / scrub["engine"],
            note=f"one run, same {scrub['rows']:,} customers, same 6 fields (Faker first/last name and street "
            f"address; emails, phones, national ids: Hash in django-scrubber 8 = unsalted MD5, keyed "
            f"pseudonyms in the engine): scrub_data in place {scrub['first']:.1f} s on its first run (Faker "
            f"table generated), {scrub['seconds']:.1f} s on a second (table kept) vs the engine writing a new "
            f"customer table with its indexes: median {scrub['engine']:.2f} s of "
            f"{', '.join(f'{r:.2f}' for r in scrub['engine_runs'])} (first, cold run {scrub['engine_cold']:.2f} s: "
            f"cold vs cold {scrub['first'] / scrub['engine_cold']:.1f}x); the engine copying every table "
            f"({scrub['whole_rows']:,} rows) {scrub['engine_whole']:.1f} s. Ratio: django-scrubber's faster run / "
            f"the engine's median; goal >= 20x",
        ),
    ]


LIVE_SCHEMA = "anon_live"


def live(loop_rows: int = 1_000) -> list[Result]:
    """The notebook's small version (chapter 02, "How fast?"): the engine writing an anonymized
    copy of every customer into a schema of its own (dropped afterwards) against the ORM's
    `obj.save()` loop on `loop_rows` of them (rolled back), compared per row."""
    from workshop.anonymize import build, keys
    from workshop.anonymize.baselines import naive_loop
    from workshop.anonymize.measure import _conn
    from workshop.anonymize.ownership import drop_marked
    from workshop.anonymize.shop_rules import shop_rules

    rules = {"shop.Customer": shop_rules()["shop.Customer"]}
    try:
        build(rules, target=LIVE_SCHEMA, only=["shop.Customer"], progress=False)  # warm-up
        started = time.perf_counter()
        report = build(rules, target=LIVE_SCHEMA, only=["shop.Customer"], progress=False)
        engine = time.perf_counter() - started
    finally:
        with _conn(None) as conn, conn.transaction():
            drop_marked(conn, LIVE_SCHEMA)
    customers = report.tables.get("shop_customer", report.rows)
    started = time.perf_counter()
    looped = naive_loop(keys.load_key(), loop_rows)
    loop = time.perf_counter() - started
    engine_rate, loop_rate = customers / engine, looped / loop
    return [
        Result(
            "anonymize.customers_per_second",
            engine_rate,
            "rows/s",
            baseline=loop_rate,
            ratio=engine_rate / loop_rate,
            note=f"engine: {customers:,} customers in {engine:.2f} s (a new table with its indexes); baseline: "
            f"obj.save() loop, {looped:,} customers in {loop:.2f} s (rolled back)",
        )
    ]
