"""Per-check cost of every rung of the ladder, measured side by side in one process (the
benchmark's core, also run on a small scale by the notebook). Needs a configured Django."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence

from workshop.flags import ladder

GROUP_FLAG = "recommended_for_groups"  # waffle's group-targeted flag


def per_check_us(
    checks: dict[str, tuple[Callable[[object], object], Sequence]],
    rounds: int = 15,
    chunk: int = 100,
    budget_s: float = 0.05,
) -> dict[str, float]:
    """Median microseconds per check, for several checks measured side by side.

    Each round times one chunk of `chunk` items of every check in turn (interleaved, so a
    burst of load on this shared machine hits them all alike), and the median over many short
    chunks leaves out the chunks the scheduler preempted. A check slower than `budget_s` per
    chunk gets fewer chunks per round. The garbage collector is paused while timing, as
    `timeit` does, so one check does not pay for another's garbage."""
    plans = {}
    for name, (check, items) in checks.items():
        for item in items[:50]:  # warm: caches filled, code paths taken once
            check(item)
        started = time.perf_counter()
        for item in items[:chunk]:
            check(item)
        per_chunk = time.perf_counter() - started
        parts = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        plans[name] = (check, parts[: max(1, min(len(parts), int(budget_s * len(parts) / per_chunk)))])
    times: dict[str, list[float]] = {name: [] for name in plans}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for index in range(max(len(parts) for _, parts in plans.values())):
                for name, (check, parts) in plans.items():
                    if index < len(parts):
                        part = parts[index]
                        started = time.perf_counter()
                        for item in part:
                            check(item)
                        times[name].append((time.perf_counter() - started) / len(part))
    finally:
        gc.enable()
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def queries_per_check(check: Callable[[object], object], items: Sequence) -> float:
    """Queries through Django's connection and membership reads on the flag store's own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workshop.flags.client import get_client

    memberships = get_client().store.memberships
    before = memberships.queries
    with CaptureQueriesContext(connection) as captured:
        for item in items:
            check(item)
    return (len(captured) + memberships.queries - before) / len(items)


def prepare() -> dict:
    """The flags each rung needs, set up the same way every time (idempotent)."""
    from workshop.django_setup import require_setup

    require_setup()
    from django.contrib.auth.models import Group, User
    from waffle.models import Flag, Switch

    from workshop.flags.definitions import define

    group = Group.objects.order_by("id").first()
    user = User.objects.exclude(groups=group).exclude(is_superuser=True).order_by("id").first()
    Switch.objects.update_or_create(name=ladder.RECOMMENDED, defaults={"active": True})
    Flag.objects.update_or_create(name=ladder.RECOMMENDED, defaults={"percent": 50, "everyone": None})
    group_flag, _ = Flag.objects.update_or_create(name=GROUP_FLAG, defaults={"everyone": None, "superusers": False})
    group_flag.groups.set([group])
    define(ladder.RECOMMENDED, enabled=True, everyone=False, percentage=50, groups=[group])
    return {"user": user, "group": group}


def _constant_provider():
    from openfeature.flag_evaluation import FlagResolutionDetails
    from openfeature.provider import AbstractProvider, Metadata

    class ConstantProvider(AbstractProvider):
        def get_metadata(self) -> Metadata:
            return Metadata(name="constant")

        def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
            return FlagResolutionDetails(True)

        resolve_string_details = resolve_integer_details = resolve_float_details = resolve_object_details = (
            resolve_boolean_details
        )

    return ConstantProvider


def checks(user, count: int = 2000) -> dict[str, tuple[Callable, Callable[[], Sequence]]]:
    """name -> (check, make_items): each item is what one request (or job) brings to the
    check; items are made just before their check is measured (a smaller heap meanwhile)."""
    from django.test import RequestFactory
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from waffle import flag_is_active, switch_is_active

    from workshop.flags.client import context_for_user, get_client

    factory = RequestFactory()

    def requests() -> list:
        made = [factory.get("/products/1/") for _ in range(count)]
        for request in made:
            request.user = user
        return made

    flags = get_client()
    flags.store.wait_for(lambda d: ladder.RECOMMENDED in d)
    context = context_for_user(user)
    _ = context.group_ids  # loaded once per request, as the middleware's context does
    flags.is_on(ladder.RECOMMENDED, user)  # a job's first check reads the user's groups
    ladder.use_workshop_provider()
    openfeature = api.get_client("workshop")
    ladder.set_provider(_constant_provider()(), domain="constant")
    floor = api.get_client("constant")
    evaluation_context = EvaluationContext(str(user.pk), {"groups": sorted(context.group_ids)})
    os.environ.setdefault(ladder.ENV_TOGGLE, "1")
    key = ladder.RECOMMENDED
    return {
        "env_toggle": (ladder.env_toggle, requests),
        "waffle_switch": (lambda r: switch_is_active(key), requests),
        "waffle_flag": (lambda r: flag_is_active(r, key), requests),  # 50%, a fresh request each time
        "waffle_group_flag": (lambda r: flag_is_active(r, GROUP_FLAG), requests),
        # a fresh snapshot per check: the full evaluation (kill switch, users, groups, hash) every time
        "recommended": (lambda r: flags.snapshot(context).is_on(key), lambda: range(count)),
        "recommended_repeat": (lambda s: s.is_on(key), lambda: [flags.snapshot(context)] * count),
        # a job: flags.is_on(key, user=u) outside any request, a fresh context per check (the
        # user's groups from the process's membership cache; the first check, in warm(), read them)
        "job": (lambda r: flags.is_on(key, user), lambda: range(count)),
        # the same job before the membership cache: the user's groups read on every check
        "job_uncached": (lambda r: flags.snapshot(_uncached_context(user)).is_on(key), lambda: range(count)),
        "openfeature": (lambda r: openfeature.get_boolean_value(key, False, evaluation_context), lambda: range(count)),
        # the SDK's own cost: the same call through a provider that returns a constant
        "openfeature_floor": (lambda r: floor.get_boolean_value(key, False, evaluation_context), lambda: range(count)),
    }


def _uncached_context(user):
    from workshop.flags.rules import FlagContext

    return FlagContext(str(user.pk), user.pk, load_groups=lambda: user.groups.values_list("id", flat=True))


def run(count: int = 2000, rounds: int = 15, progress: bool = False) -> dict[str, dict[str, float]]:
    """{name: {"us": median microseconds per check, "queries": queries per check}}."""
    from tqdm.auto import tqdm

    setup = prepare()
    made = {}
    queries = {}
    for name, (check, make_items) in tqdm(checks(setup["user"], count).items(), desc="checks", disable=not progress):
        items = make_items()
        queries[name] = queries_per_check(check, items[:200])
        made[name] = (check, items)
    us = per_check_us(made, rounds)
    return {name: {"queries": queries[name], "us": us[name]} for name in made}
