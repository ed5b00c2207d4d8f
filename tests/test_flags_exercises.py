"""Chapter 03's exercises: each solution passes, the placeholder fails, and every lazy or
half-right answer fails with a sentence that says what is wrong (issue 21's rows included)."""

from __future__ import annotations

import hashlib
import random

import pytest

from tests.lessons_support import assert_exercise
from workshop.flags import rules, solutions
from workshop.flags.exercises import EXERCISES

pytestmark = pytest.mark.django_db

# The phases as the old exercise 3 listed them, which was also its answer (and `exercises.PHASES`).
OLD_PHASES = ["expand", "dual write", "backfill", "read new", "contract"]


def _blake(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _hints(number):
    return [(f"hint {i + 1} pasted", lambda text=text: text) for i, text in enumerate(EXERCISES[number].hints)]


# --- exercise 1 -------------------------------------------------------------------------------


def test_exercise_1_sticky_bucketing():
    assert_exercise(
        EXERCISES,
        1,
        [
            ("None", lambda: None),
            ("the function the old placeholder defined (returns None)", lambda: lambda key, user, p: None),
            ("everyone on", lambda: lambda key, user, p: True),
            ("a die per call", lambda: lambda key, user, p: random.uniform(0, 100) < p),
            ("Python's hash() of (key, user)", lambda: lambda key, user, p: hash((key, user)) % 10_000 < p * 100),
            ("Python's hash() of a string", lambda: lambda key, user, p: hash(f"{key}{user}") % 100 < p),
            (
                "a die seeded by hash()",
                lambda: lambda key, user, p: random.Random(hash((key, user))).random() * 100 < p,
            ),
            ("the user id alone", lambda: lambda key, user, p: _blake(str(user)) % 10_000 < p * 100),
            ("half the share", lambda: lambda key, user, p: _blake(f"{key}:{user}") % 10_000 < p * 50),
            ("a new draw per percentage", lambda: lambda key, user, p: _blake(f"{key}{p}:{user}") % 10_000 < p * 100),
            (
                "the workshop client's own buckets",
                lambda: lambda key, user, p: rules.bucket(key, str(user)) < rules.threshold(p),
            ),
            ("a number instead of a bool", lambda: lambda key, user, p: _blake(f"{key}:{user}") % 10_000),
            ("a crash", lambda: lambda key, user, p: 1 / 0),
            *_hints(1),
        ],
    )


def test_exercise_1_says_what_is_wrong_with_hash():
    verdict = EXERCISES[1].judge(lambda key, user, p: hash((key, user)) % 10_000 < p * 100)
    assert not verdict.ok and "salted per process" in verdict.message and "PYTHONHASHSEED" in verdict.message
    assert "flag key" not in verdict.message  # the old check said "put the flag key into the hash"


def test_exercise_1_leaves_python_hash_alone():
    import builtins

    real = builtins.hash
    EXERCISES[1].judge(lambda key, user, p: hash((key, user)) % 10_000 < p * 100)
    EXERCISES[1].judge(lambda key, user, p: 1 / 0 if hash(key) else True)  # raises inside the check
    assert builtins.hash is real


# --- exercise 2 -------------------------------------------------------------------------------


def _every_ex_flag():
    from workshop.flags.exercises import stale_exercise
    from workshop.flags.models import FlagDefinition

    stale_exercise()
    return set(FlagDefinition.objects.filter(key__startswith="ex_").values_list("key", flat=True))


def _detector_report():
    from workshop.flags import stale
    from workshop.flags.exercises import stale_exercise

    report = stale.check(stale_exercise(), days=30)
    return {k for k in [*report.unused, *report.fully_rolled_out] if k.startswith("ex_")}


def test_exercise_2_flag_debt():
    assert_exercise(
        EXERCISES,
        2,
        [
            ("None", lambda: None),
            ("an empty set", set),
            ("every ex_* flag ticked", _every_ex_flag),
            ("the detector's report copied", _detector_report),
            ("one name as a string", lambda: "ex_holiday_theme"),
            ("the right set plus a made-up name", lambda: solutions.solution_2() | {"ex_made_up"}),
            (
                "the right set plus a real flag outside the exercise",
                lambda: solutions.solution_2() | {"recommended_for_you"},
            ),
            ("half of the right set", lambda: set(sorted(solutions.solution_2())[:1])),
            *_hints(2),
        ],
    )


def test_exercise_2_refuses_names_outside_the_exercise_with_a_sentence():
    verdict = EXERCISES[2].judge(solutions.solution_2() | {"ex_made_up"})
    assert not verdict.ok and "'ex_made_up' is not among this exercise's flags" in verdict.message
    ticked = EXERCISES[2].judge(_every_ex_flag())
    assert not ticked.ok and "one flag you chose" in ticked.message


def test_exercise_2_the_answer_follows_the_database():
    """The checker reads the flags each time: a flag whose rollout ended 5 days ago becomes debt
    when it has been fully on for longer than the 30 days the exercise uses."""
    import datetime

    from django.utils import timezone

    from workshop.flags.models import FlagDefinition

    right = solutions.solution_2()
    assert "ex_dark_mode" not in right
    FlagDefinition.objects.filter(key="ex_dark_mode").update(
        fully_on_since=timezone.now() - datetime.timedelta(days=90)
    )
    assert not EXERCISES[2].judge(right).ok
    assert EXERCISES[2].judge(right | {"ex_dark_mode"}).ok


# --- exercise 3 -------------------------------------------------------------------------------


def test_exercise_3_ordering_the_steps():
    assert_exercise(
        EXERCISES,
        3,
        [
            ("None", lambda: None),
            ("empty", lambda: ""),
            ("the order the text lists the steps in", lambda: "ABCDEFG"),
            ("that order backwards", lambda: "GFEDCBA"),
            ("the old exercise's phases (and its PHASES constant)", lambda: OLD_PHASES),
            ("backfill before dual writes", lambda: "BEDGAFC"),
            ("read before the backfill", lambda: "BDAEGFC"),
            ("drop before the last writer is gone", lambda: "BDEGACF"),
            ("NOT NULL before the backfill", lambda: "BDGEAFC"),
            ("a letter twice", lambda: "BDEGAFF"),
            *_hints(3),
        ],
    )


@pytest.mark.parametrize("order", ["BDEGAFC", "BDEAGFC", "BDEAFGC", "BDEAFCG", "b, d, e, a, f, c, g", list("BDEAFGC")])
def test_exercise_3_accepts_every_safe_order(order):
    assert EXERCISES[3].judge(order).ok


def test_exercise_3_says_why_an_order_breaks():
    verdict = EXERCISES[3].judge("BEDGAFC")
    assert "misses every row saved between the two" in verdict.message
    assert "'expand' is not a step" in EXERCISES[3].judge(OLD_PHASES).message
