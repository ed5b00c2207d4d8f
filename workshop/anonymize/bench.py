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
""" % RUNS  # noqa: UP031 (the script is a template of its own)

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
from workshop.anonymize.target import build_to_target
report = build_to_target(shop_target(), schema="anon_target_bench", progress=True)
print(f"  {report}", file=sys.stderr)
s = report.search
print(json.dumps({"search": s.seconds, "suppress": report.suppress_seconds, "rows": s.rows,
                  "suppressed": len(s.suppressed_ids), "chosen": s.describe(), "evaluated": s.evaluated, "nodes": s.nodes,
                  "loss": s.information_loss, "utility": report.utility.to_dict("records")}))
"""

# Copies the 100k database (CREATE DATABASE ... TEMPLATE) so django-scrubber, which works in
# place, never touches the one the other parts measure; the copy is dropped afterwards.
_SCRUBBER = """
import json, sys, time
import psycopg
from workshop import settings as workshop_settings
workshop_settings.INSTALLED_APPS += ["django.contrib.sessions", "django_scrubber"]  # this process only
import workshop
from workshop import config, django_setup
from workshop.services import postgres
from django.conf import settings
from django.db import connections
source, copy = %r, %r
django_setup.configure(postgres.resolve().url)
params = {k: v for k, v in connections["default"].get_connection_params().items() if k in ("host", "port", "user", "password")}
connections.close_all()
with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
    admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
settings.DATABASES["default"]["NAME"] = copy
connections["default"].settings_dict["NAME"] = copy
django_setup.migrate()  # django-scrubber's and the sessions' tables, in the copy only
settings.DEBUG = True  # scrub_data refuses to run otherwise
from django_scrubber import scrubbers
from workshop.shop.models import Customer
field = Customer._meta.get_field
class CustomerScrubbers:  # the shop rules' identifying fields, as django-scrubber's docs show
    first_name = scrubbers.Faker("first_name")
    last_name = scrubbers.Faker("last_name")
    street_address = scrubbers.Faker("street_address")
    email = scrubbers.Hash(field("email"))
    phone = scrubbers.Hash(field("phone"))
    national_id = scrubbers.Hash(field("national_id"))
settings.SCRUBBER_MAPPING = {"shop.Customer": "__main__.CustomerScrubbers"}
from django.core.management import call_command
rows = Customer.objects.count()
started = time.perf_counter()
call_command("scrub_data", model="shop.Customer", verbosity=0)
seconds = time.perf_counter() - started
changed = Customer.objects.exclude(email__contains="@").count()
print(f"  django-scrubber scrub_data: {rows:,} customers in {seconds:.1f} s", file=sys.stderr)
connections.close_all()
with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
print(json.dumps({"seconds": seconds, "rows": rows, "changed": changed}))
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
    target = _child(_TARGET, FULL_DB, "privacy target k=5: lattice search and suppression on 1M customers")
    scrub = _child(_SCRUBBER % (COMPARE_DB, COMPARE_DB + "_scrub"), "postgres", "django-scrubber scrub_data on a copy of the 100k database")
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
        Result("anonymize.target_search_seconds", target["search"] + target["suppress"], "s",
               note=f"k=5 over birth date, ZIP, gender, city, state on {target['rows']:,} customers: lattice search "
                    f"{target['search']:.1f} s ({target['evaluated']} of {target['nodes']} nodes counted, the rest "
                    f"pruned by monotonicity) + suppression in the copy {target['suppress']:.1f} s; chose "
                    f"{target['chosen']}; goal <= 10 s"),
        Result("anonymize.suppressed_share", target["suppressed"] / target["rows"], "share",
               note=f"{target['suppressed']:,} of {target['rows']:,} customers withheld; goal <= 2%; information loss "
                    f"{target['loss']:.2f}"),
        Result("anonymize.utility_max_error", max(u["max relative error"] for u in target["utility"]), "share",
               note="max relative error per aggregate (copy vs source): " + "; ".join(
                   f"{u['aggregate']} {u['max relative error']:.1%} (mean {u['mean relative error']:.1%})"
                   for u in target["utility"])),
        Result("anonymize.vs_django_scrubber_ratio", compare["engine"], "s", baseline=scrub["seconds"],
               ratio=scrub["seconds"] / compare["engine"],
               note=f"django-scrubber 8 scrub_data (Faker first/last name and street address, Hash email, phone, "
                    f"national id) in place on a copy of the {scrub['rows']:,}-customer database: {scrub['seconds']:.1f} s, "
                    f"vs the engine's customer copy (all shop rules for Customer, a superset) {compare['engine']:.2f} s; "
                    f"goal >= 20x"),
    ]
