"""Chapter 03's exercises: `check(n, answer)` says what is wrong, `hint(n)` in steps, `reveal(n)`
shows a solution (from solutions.py).

1. Sticky bucketing: the learner's function is called for thousands of users and judged on its
   behaviour (sticky, the same in another process, the right share, monotonic, salted per flag).
2. Flag debt: the checker reads the exercise's flags and the stale-flag report from the
   database each time; a flag meant to stay (its description says so) is not debt.
3. Expand/contract: the steps of one concrete change, listed out of order; the checker knows
   which step must come before which, and why, never one fixed sequence.
"""

from __future__ import annotations

import builtins
import datetime
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from workshop.flags import solutions
from workshop.lessons import Exercise, Exercises, Wrong

# --- exercise 1: sticky bucketing ------------------------------------------------------------

_USERS = range(1, 5001)
_SHARES = (5, 20, 50)
_TOLERANCE = 1.5  # percentage points: 5,000 users drawn at random rarely miss the share by more


def _answers(in_rollout: Callable, key: str, percentage: float) -> set[int]:
    on = set()
    for user in _USERS:
        answer = in_rollout(key, user, percentage)
        if not isinstance(answer, bool) and type(answer).__name__ != "bool_":  # numpy's bool is fine
            raise Wrong(
                f"in_rollout({key!r}, {user}, {percentage}) returned {type(answer).__name__} {answer!r}, "
                "not True or False"
            )
        if answer:
            on.add(user)
    return on


def _in_another_process(in_rollout: Callable, key: str, percentage: float) -> set[int]:
    """The answers as a process with another hash seed would give them: Python salts hash() of
    str and bytes per process (PYTHONHASHSEED), so builtins.hash is re-salted for the call."""
    salted = builtins.hash
    builtins.hash = lambda value: salted(("another process", value))
    try:
        return _answers(in_rollout, key, percentage)
    finally:
        builtins.hash = salted


def _check_1(in_rollout) -> None:
    from workshop.flags import rules

    if not callable(in_rollout):
        raise Wrong(
            f"the answer is a {type(in_rollout).__name__}: give your function "
            "in_rollout(flag_key, user_id, percentage) itself (answer_1 = in_rollout)"
        )
    on = {p: _answers(in_rollout, "new_checkout", p) for p in _SHARES}
    if _answers(in_rollout, "new_checkout", 20) != on[20]:
        raise Wrong("the same user got different answers for the same flag and percentage: a rollout must be sticky")
    if _in_another_process(in_rollout, "new_checkout", 20) != on[20]:
        raise Wrong(
            "your answers depend on Python's hash(), which is salted per process for strings "
            "(PYTHONHASHSEED): another worker, a cron job or the same server after a restart puts "
            "the user in another bucket. Use a hash that every process computes the same way from the bytes"
        )
    for p, members in on.items():
        share = len(members) / len(_USERS) * 100
        if abs(share - p) > _TOLERANCE:
            raise Wrong(f"at {p}% your function turns on {share:.1f}% of the users")
    if _answers(in_rollout, "new_checkout", 0) or len(_answers(in_rollout, "new_checkout", 100)) < len(_USERS):
        raise Wrong("at 0% someone is on, or at 100% someone is off: check the comparison at the edges")
    if not on[5] <= on[20] <= on[50]:
        raise Wrong("raising the percentage turned some users off: a user who is on must stay on as it grows")
    other = _answers(in_rollout, "dark_mode", 20)
    if len(other & on[20]) > 0.5 * len(on[20]):
        raise Wrong("flag 'dark_mode' at 20% reaches mostly the same users as 'new_checkout' at 20%")
    workshop_own = {u for u in _USERS if rules.bucket("new_checkout", str(u)) < rules.threshold(20)}
    if on[20] == workshop_own:
        raise Wrong(
            "these are exactly the workshop client's own buckets (workshop.flags.rules): the exercise is "
            "to write the bucketing yourself"
        )


# --- exercise 2: flag debt -------------------------------------------------------------------

_FOLDER = "workshop_flags_exercise"
_CODE = """\
from django.shortcuts import render


def checkout(request):
    if not request.flags.is_on("ex_payments_enabled"):
        return render(request, "payments_paused.html")
    if request.flags.is_on("ex_new_checkout"):
        return render(request, "checkout_v2.html")
    return render(request, "checkout.html")


def product_page(request):
    context = {"banner": request.flags.is_on("ex_free_shipping_banner")}
    if request.flags.is_on("ex_dark_mode"):
        context["theme"] = "dark"
    return render(request, "product.html", context)
"""
_PERMANENT = "permanent:"  # a description starting so marks a flag meant to stay (an operations toggle)
# key -> (fields for define(), days on for everyone or None)
_FLAGS = {
    "ex_payments_enabled": (
        {"everyone": True, "description": f"{_PERMANENT} operations kill switch; off stops taking payments"},
        400,
    ),
    "ex_new_checkout": ({"everyone": False, "percentage": 30, "description": "the new checkout"}, None),
    "ex_free_shipping_banner": ({"everyone": True, "description": "spring free-shipping campaign banner"}, 120),
    "ex_dark_mode": ({"everyone": True, "description": "dark mode, released this week"}, 5),
    "ex_holiday_theme": ({"everyone": False, "percentage": 0, "description": "the December theme"}, None),
}
_DAYS = 30  # the stale report's threshold the exercise uses


def stale_exercise() -> Path:
    """Write a small code base, define its `ex_*` flags, and return the folder to scan."""
    from django.utils import timezone

    from workshop.flags.definitions import define
    from workshop.flags.models import FlagDefinition

    folder = Path(tempfile.gettempdir()) / _FOLDER
    folder.mkdir(exist_ok=True)
    (folder / "views.py").write_text(_CODE)
    for key, (fields, days) in _FLAGS.items():
        define(key, enabled=True, **fields)
        since = timezone.now() - datetime.timedelta(days=days) if days is not None else None
        FlagDefinition.objects.filter(key=key).update(fully_on_since=since)
    return folder


def _names(answer) -> set[str]:
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        raise Wrong(f"give a set of flag names, like {{'ex_a', 'ex_b'}}, not a {type(answer).__name__}")
    names = set(answer)
    if not all(isinstance(name, str) for name in names):
        raise Wrong("give the flags by their names (strings)")
    return names


def _check_2(answer) -> None:
    from workshop.flags import stale
    from workshop.flags.models import FlagDefinition

    names = _names(answer)
    flags = {f.key: f for f in FlagDefinition.objects.filter(key__startswith="ex_")}
    if set(_FLAGS) - set(flags):
        raise Wrong("the exercise's flags are not in the database: run the cell with stale_exercise() first")
    outside = sorted(names - set(flags))
    if outside:
        shown = ", ".join(repr(n[:40]) for n in outside[:3])
        raise Wrong(f"{shown} {'is' if len(outside) == 1 else 'are'} not among this exercise's flags (the ex_* flags)")
    report = stale.check(Path(tempfile.gettempdir()) / _FOLDER, days=_DAYS)
    reported = set(report.unused) | set(report.fully_rolled_out)
    debt = {key for key in flags if key in reported and not flags[key].description.startswith(_PERMANENT)}
    for key in sorted(names - debt):
        flag = flags[key]
        if flag.description.startswith(_PERMANENT):
            raise Wrong(
                "one flag you chose is meant to stay (read the flags' descriptions): the detector cannot know "
                "what a flag is for"
            )
        if flag.everyone:
            raise Wrong(
                f"one flag you chose has been on for everyone for {_DAYS} days or less: until the release has "
                "proven itself, the flag is the way back"
            )
        raise Wrong(
            "one flag you chose is still being rolled out: removing it now takes the feature away from the users "
            "who have it, or gives it to everyone at once"
        )
    for key in sorted(debt - names):
        if key in report.unused:
            raise Wrong("a flag that no code reads is missing from your answer: nothing it says can change anything")
        raise Wrong(
            "a flag that has been on for everyone for months is missing from your answer: its other branch is dead code"
        )


# --- exercise 3: expand/contract -------------------------------------------------------------

# The steps as the notebook lists them (A-G), by what each does; the order is for the learner to find.
_STEP = {
    "A": "read new",
    "B": "add column",
    "C": "drop old",
    "D": "dual write",
    "E": "backfill",
    "F": "stop writing old",
    "G": "not null",
}
_BEFORE = [  # (earlier, later, what goes wrong when `later` comes first)
    ("add column", "dual write", "dual writes would write into a column that does not exist yet"),
    ("add column", "backfill", "the backfill would fill a column that does not exist yet"),
    ("dual write", "backfill", "a backfill before dual writes misses every row saved between the two"),
    ("backfill", "read new", "code reading the new column before the backfill shows no price for older rows"),
    ("backfill", "not null", "NOT NULL fails while older rows still have no value"),
    ("dual write", "not null", "NOT NULL fails as soon as code that writes only the old column saves a row"),
    ("read new", "stop writing old", "stopping writes to the old column while code still reads it serves stale prices"),
    ("stop writing old", "drop old", "dropping the old column while deployed code still writes it breaks every save"),
    ("read new", "drop old", "dropping the old column while deployed code still reads it breaks every page"),
]


def _letters(answer) -> list[str]:
    if isinstance(answer, str):
        given = [c for c in answer if c.isalnum()]
    elif isinstance(answer, (list, tuple)) and all(isinstance(a, str) for a in answer):
        given = [a.strip() for a in answer]
    else:
        raise Wrong(f"give the steps' letters in order, as one string of letters, not a {type(answer).__name__}")
    letters = [a.upper() for a in given]
    unknown = [g for g, a in zip(given, letters) if a not in _STEP]
    if unknown:
        raise Wrong(f"{unknown[0][:30]!r} is not a step: the steps are the letters A to G")
    if sorted(letters) != sorted(_STEP):
        missing = sorted(set(_STEP) - set(letters))
        twice = sorted({a for a in letters if letters.count(a) > 1})
        problem = f"missing {', '.join(missing)}" if missing else f"twice: {', '.join(twice)}"
        raise Wrong(f"use every letter A to G exactly once ({problem})")
    return letters


def _check_3(answer) -> None:
    position = {_STEP[letter]: i for i, letter in enumerate(_letters(answer))}
    letter = {step: key for key, step in _STEP.items()}
    for earlier, later, why in _BEFORE:
        if position[later] < position[earlier]:
            raise Wrong(f"in your order {letter[later]} comes before {letter[earlier]}: {why}")


# --- the chapter's exercises ----------------------------------------------------------------------

EXERCISES = Exercises(
    "03",
    [
        Exercise(
            1,
            "Sticky bucketing",
            minutes=6,
            checker=_check_1,
            hints=(
                "The answer must depend only on the flag key, the user id and the percentage, and be the same "
                "in every process on every machine: no randomness, nothing that changes when Python restarts.",
                "Hash the flag key and the user id together with hashlib, turn the digest into a number, take it "
                "modulo 10,000 (a bucket), and let the user in when the bucket is below the percentage times 100.",
            ),
            solution=solutions.solution_1,
            explain="a hash of (flag, user) gives each user the same answer everywhere, and each flag its own users",
        ),
        Exercise(
            2,
            "Flag debt",
            minutes=5,
            checker=_check_2,
            hints=(
                "Run the stale-flag detector on the folder, and look at each ex_* flag's row in the database "
                "(FlagDefinition): its rollout, and its description.",
                "Debt is a flag nothing can change any more, or one whose rollout ended long ago. A report is a "
                "list of suspects, not a verdict: some flags are meant to stay.",
            ),
            solution=solutions.solution_2,
            explain="a detector finds suspects; knowing what a flag is for decides which ones go",
        ),
        Exercise(
            3,
            "Expand, migrate, contract",
            minutes=5,
            checker=_check_3,
            hints=(
                "For each step ask: if it happened now, which code still running would break, or which rows "
                "would be wrong?",
                "A column must exist before anything writes it, hold values before anything reads it, and be "
                "untouched by every deployed version before it is dropped. NOT NULL holds only once no row lacks "
                "a value.",
            ),
            solution=solutions.solution_3,
            explain="every step before the drop can be undone by a flip or a deploy; the drop comes last",
        ),
    ],
)
check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal
