"""`workshop bench flags`: the cost of one flag check on every rung of the ladder and on a
job's path, side by side in one process (median microseconds and queries per check, warm), and flip propagation
from the committed flip until 4 worker processes all see it (median and p95 over 50 flips).

Runs in a child process on a database of its own (the shop's staff and groups of the tiny
dataset are all it needs), so the notebooks' database is left as it is."""

from __future__ import annotations

import os

from workshop.bench import Result, benchmark, run_child

BENCH_DB = "workshop_flags_bench"
CHECKS, ROUNDS, WORKERS, FLIPS = 2000, 15, 4, 50

_CHILD = """
import json, sys, workshop
workshop.setup("tiny", progress=False)
from workshop.flags import ladder, measure, processes
from workshop.flags.client import conninfo
count, rounds, workers, flips = map(int, sys.argv[1:])
checks = measure.run(count, rounds)
print("  checks measured", file=sys.stderr, flush=True)
propagation = processes.measure_propagation(conninfo(), ladder.RECOMMENDED, workers, flips, progress=True)
print(json.dumps({"checks": checks, "propagation": propagation}))
"""


def _child() -> dict:
    return run_child("flags bench: checks and propagation", _CHILD, BENCH_DB, (CHECKS, ROUNDS, WORKERS, FLIPS))


@benchmark(
    "flags",
    "one flag check on every rung (us, queries), and flip propagation to 4 processes",
    names=(
        "flags.env_toggle_us",
        "flags.waffle_switch_us",
        "flags.waffle_flag_us",
        "flags.waffle_group_flag_us",
        "flags.recommended_us",
        "flags.recommended_queries_per_check",
        "flags.job_check_us",
        "flags.job_queries_per_check",
        "flags.openfeature_us",
        "flags.propagation_p50_ms",
        "flags.propagation_p95_ms",
    ),
)
def bench_flags() -> list[Result]:
    data = _child()
    c, p = data["checks"], data["propagation"]
    us = {name: values["us"] for name, values in c.items()}
    waffle = us["waffle_flag"]
    cores = os.cpu_count()
    return [
        Result(
            "flags.env_toggle_us", us["env_toggle"], "us", note="os.environ lookup: on/off for everybody, per deploy"
        ),
        Result(
            "flags.waffle_switch_us",
            us["waffle_switch"],
            "us",
            note=f"waffle.switch_is_active, warm LocMem cache; {c['waffle_switch']['queries']:.2f} queries/check",
        ),
        Result(
            "flags.waffle_flag_us",
            waffle,
            "us",
            note=f"waffle.flag_is_active, 50% flag, a fresh request per check (random roll); "
            f"{c['waffle_flag']['queries']:.2f} queries/check",
        ),
        Result(
            "flags.waffle_group_flag_us",
            us["waffle_group_flag"],
            "us",
            baseline=None,
            note=f"waffle flag targeting one group: {c['waffle_group_flag']['queries']:.2f} queries/check "
            f"(user.groups is read on every check)",
        ),
        Result(
            "flags.recommended_us",
            us["recommended"],
            "us",
            baseline=waffle,
            ratio=waffle / us["recommended"],
            note=f"workshop client: a fresh request snapshot per check (kill switch, users, groups, blake2b "
            f"bucket); a repeated check in the same request {us['recommended_repeat']:.2f} us; "
            f"goal <= 2 us; {cores} cores",
        ),
        Result(
            "flags.recommended_queries_per_check",
            c["recommended"]["queries"],
            "queries",
            baseline=c["waffle_group_flag"]["queries"],
            note="goal 0 (definitions in memory)",
        ),
        Result(
            "flags.job_check_us",
            us["job"],
            "us",
            baseline=us["job_uncached"],
            ratio=us["job_uncached"] / us["job"],
            note="flags.is_on(key, user=u) outside a request (a job): a fresh context per check, the user's "
            "groups from the process's membership cache (cleared by NOTIFY when memberships change); "
            f"baseline: the same check reading user.groups every time (before the cache); a request's fresh "
            f"snapshot {us['recommended']:.2f} us",
        ),
        Result(
            "flags.job_queries_per_check",
            c["job"]["queries"],
            "queries",
            baseline=c["job_uncached"]["queries"],
            note="goal 0 after the user's first check (Django's connection and the membership reads counted); "
            "baseline: reading user.groups every time",
        ),
        Result(
            "flags.openfeature_us",
            us["openfeature"],
            "us",
            baseline=us["openfeature_floor"],
            note=f"OpenFeature get_boolean_value through WorkshopProvider; the SDK alone with a provider that "
            f"returns a constant: {us['openfeature_floor']:.1f} us (baseline); goal <= 20 us",
        ),
        Result(
            "flags.propagation_p50_ms",
            p["p50"] * 1000,
            "ms",
            note=f"{FLIPS} committed flips; each until all {WORKERS} worker processes saw it (LISTEN/NOTIFY)",
        ),
        Result(
            "flags.propagation_p95_ms",
            p["p95"] * 1000,
            "ms",
            note="goal <= 100 ms; max "
            f"{max(p['all']) * 1000:.1f} ms; clock starts before the committing UPDATE is sent",
        ),
    ]


def live(count: int = 300):
    """The notebook's small version (chapter 03, "how fast?"): every rung's check, `count`
    checks each, side by side in the attendee's kernel on the chapter's own flags."""
    import pandas as pd

    from workshop.flags import measure

    return pd.DataFrame(measure.run(count=count, rounds=3)).T
