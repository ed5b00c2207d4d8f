"""The notebook's exercises. Each check prints "well done: ..." or "not yet: <hint>" (it never
raises on a missing or wrong answer) and returns True or False. Solutions: solutions.py."""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Callable
from pathlib import Path

PHASES = ("expand", "dual write", "backfill", "read new", "contract")


def _verdict(ok: bool, message: str) -> bool:
    print(("well done: " if ok else "not yet: ") + message)
    return ok


# --- exercise 1: sticky bucketing ------------------------------------------------------------


def check_in_rollout(in_rollout: Callable[[str, int, float], bool] | None, users: int = 5000) -> bool:
    """in_rollout(flag_key, user_id, percentage) -> bool: right share, sticky, monotonic, salted."""
    if in_rollout is None:
        return _verdict(False, "write in_rollout(flag_key, user_id, percentage) -> bool and pass it to this check")
    ids = range(1, users + 1)
    try:
        if in_rollout("new_checkout", 1, 50) is None:
            return _verdict(False, "in_rollout returns None: write its body (hash, bucket, compare)")
        on = {p: {u for u in ids if in_rollout("new_checkout", u, p)} for p in (5, 20, 50)}
        again = {u for u in ids if in_rollout("new_checkout", u, 20)}
        other = {u for u in ids if in_rollout("dark_mode", u, 20)}
    except Exception as error:  # the attendee's code: show what went wrong, as a hint
        return _verdict(False, f"in_rollout raised {type(error).__name__}: {error}")
    if again != on[20]:
        return _verdict(
            False,
            "the same user got different answers for the same flag: use a hash of the flag key "
            "and the user id (hashlib), not random",
        )
    for p, members in on.items():
        share = len(members) / users * 100
        if abs(share - p) > 1.5:
            return _verdict(
                False,
                f"at {p}% your function turns on {share:.1f}% of users: compare the hash's bucket "
                f"(0..9999) with percentage * 100",
            )
    if not on[5] <= on[20] <= on[50]:
        return _verdict(
            False,
            "raising the percentage turned some users off: a user must be on when its bucket is "
            "below the threshold, so a higher threshold keeps everyone who was on",
        )
    if len(other & on[20]) > 0.5 * len(on[20]):
        return _verdict(
            False,
            "flag 'dark_mode' at 20% reaches the same users as 'new_checkout': put the flag key "
            "into the hash, so each flag draws its own users",
        )
    return _verdict(True, "sticky, monotonic, the right share, and each flag has its own users")


# --- exercise 2: flag debt -------------------------------------------------------------------

STALE_CODE = """
from workshop import flags

def product_page(request):
    if request.flags.is_on("recommended_for_you"):
        ...
    if request.flags.is_on("ex_free_shipping_banner"):
        ...
"""
STALE_FLAGS = {"ex_free_shipping_banner": 120, "ex_holiday_theme": None}  # key -> days fully on (None: not)


def stale_exercise() -> Path:
    """A small code base and its flags in the database; returns the folder to scan."""
    from django.utils import timezone

    from workshop.flags.definitions import define
    from workshop.flags.models import FlagDefinition

    folder = Path(tempfile.gettempdir()) / "workshop_flags_exercise"
    folder.mkdir(exist_ok=True)
    (folder / "views.py").write_text(STALE_CODE)
    for key, days in STALE_FLAGS.items():
        define(key, everyone=days is not None, percentage=0, enabled=True)
        since = timezone.now() - datetime.timedelta(days=days) if days is not None else None
        FlagDefinition.objects.filter(key=key).update(fully_on_since=since)
    return folder


def check_stale(answer: set[str] | None) -> bool:
    """answer: the exercise flags (ex_*) that should be removed (from the database and the code)."""
    if answer is None:
        return _verdict(
            False, "set answer_2 to the set of ex_* flag names to remove; stale.check(folder) tells you what is stale"
        )
    expected = {"ex_free_shipping_banner", "ex_holiday_theme"}
    answer = {a for a in answer if a.startswith("ex_")}
    if "ex_holiday_theme" not in answer:
        return _verdict(False, "one flag is defined but used nowhere in the code: nothing can turn it on, remove it")
    if "ex_free_shipping_banner" not in answer:
        return _verdict(
            False,
            "one flag has been on for everyone for months: its `else` branch is dead code; "
            "remove the flag and keep the `if` body",
        )
    if answer != expected:
        return _verdict(False, f"{sorted(answer - expected)} are not stale")
    return _verdict(True, "one unused flag and one fully rolled out for 120 days: both are flag debt")


# --- exercise 3: expand/contract ------------------------------------------------------------


def check_phases(answer: list[str] | None) -> bool:
    """answer: the phases of a flag-gated column split, in order (from PHASES)."""
    if answer is None:
        return _verdict(False, f"set answer_3 to a list ordering {list(PHASES)}")
    answer = [a.strip().lower() for a in answer]
    if sorted(answer) != sorted(PHASES):
        return _verdict(False, f"use each of {list(PHASES)} exactly once")
    if answer[-1] != "contract":
        return _verdict(False, "contract drops the old column: it comes last, when no running code reads it")
    if answer[0] != "expand":
        return _verdict(False, "nothing can be written to columns that do not exist yet: expand first")
    if answer.index("backfill") < answer.index("dual write"):
        return _verdict(
            False, "a backfill before dual writes misses every row written between the two: turn dual writes on first"
        )
    if answer.index("read new") < answer.index("backfill"):
        return _verdict(False, "reading the new columns before the backfill shows empty names for old rows")
    return _verdict(True, "every step can be rolled back by a flag until the contract")
