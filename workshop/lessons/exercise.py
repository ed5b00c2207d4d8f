"""One exercise interface for every chapter: an answer cell with one placeholder (`...`),
`check(n, answer)` that says what is wrong without giving the answer away, `hint(n)` in
steps (a nudge, then a closer one), and `reveal(n)`, the only way to see the solution's code.

A checker is a function of the answer that returns nothing when the answer is right and
raises `Wrong("what is wrong")` when it is not. It never compares with a value the learner
could copy: it recomputes what it needs from the data, or tests the answer's behaviour.
"""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from workshop.errors import WorkshopError

PLACEHOLDER = ...  # the answer cell's `answer_n = ...`: Python's Ellipsis, impossible to mistake

# The same words in every chapter.
ASK_PLACEHOLDER = "Replace the `...` in the answer cell with your answer, then run the check again"
NOT_YET = "Not yet"
CORRECT = "Correct"
NUDGE = "hint({n}) gives a nudge"
NO_MORE_HINTS = "That was the last hint. reveal({n}) shows the solution's code, when you want it"
MIN_MINUTES = 5  # the room-time model's floor for an exercise


class Wrong(Exception):
    """Raised by a checker: the answer is wrong, and the message says what is wrong (not what is right)."""


@dataclass(frozen=True)
class Verdict:
    """What `check()` shows: true when right. Prints as one sentence; green or orange in a notebook."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color, mark = ("#2e7d32", "✔") if self.ok else ("#b26a00", "✘")
        return f'<div style="color:{color}"><b>{mark}</b> {html.escape(self.message)}</div>'


@dataclass(frozen=True)
class Reveal:
    """The solution's source, shown only on request."""

    title: str
    code: str

    def __str__(self) -> str:
        return f"{self.title}\n\n{self.code}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<b>{html.escape(self.title)}</b><pre>{html.escape(self.code)}</pre>"


@dataclass(frozen=True)
class Exercise:
    number: int
    title: str
    minutes: int  # room time: reading the task, trying, checking (at least MIN_MINUTES)
    checker: Callable[[Any], None]
    hints: tuple[str, ...]  # a nudge first, then closer; never the solution itself
    solution: Callable[[], Any]  # returns a right answer; its source is what reveal() shows
    explain: str = ""  # said once the answer is right: why it matters

    def __post_init__(self) -> None:
        if self.minutes < MIN_MINUTES:
            raise ValueError(f"exercise {self.number}: {self.minutes} min is below the {MIN_MINUTES}-minute floor")
        if len(self.hints) < 2:
            raise ValueError(f"exercise {self.number}: give at least two hint steps (a nudge, then a closer one)")

    def judge(self, answer: Any) -> Verdict:
        """The verdict on an answer, without recording anything."""
        if answer is PLACEHOLDER:
            return Verdict(False, f"{ASK_PLACEHOLDER}.")
        try:
            self.checker(answer)
        except Wrong as wrong:
            return Verdict(False, f"{NOT_YET}: {_sentence(str(wrong))} {NUDGE.format(n=self.number)}.")
        except WorkshopError as problem:
            return Verdict(False, str(problem))
        except Exception as error:  # the learner's own code raised: show it as one line, not a traceback
            first = (str(error).strip().splitlines() or [""])[0][:200]
            return Verdict(
                False,
                f"{NOT_YET}: your answer raised {type(error).__name__}: {first}. "
                f"Fix that first; {NUDGE.format(n=self.number)}.",
            )
        tail = f" {_sentence(self.explain)}" if self.explain else ""
        return Verdict(True, f"{CORRECT}!{tail}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass
class Exercises:
    """A chapter's exercises, with the three calls its notebook uses."""

    chapter: str
    items: Iterable[Exercise]
    by_number: dict[int, Exercise] = field(init=False)
    _hints_shown: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.by_number = {}
        for item in self.items:
            if item.number in self.by_number:
                raise ValueError(f"chapter {self.chapter}: exercise {item.number} declared twice")
            self.by_number[item.number] = item
        self.items = tuple(self.by_number.values())

    def __getitem__(self, number: int) -> Exercise:
        if not isinstance(number, int) or isinstance(number, bool) or number not in self.by_number:
            known = ", ".join(str(n) for n in sorted(self.by_number))
            raise WorkshopError(f"chapter {self.chapter} has no exercise {number!r}", f"use one of {known}")
        return self.by_number[number]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.by_number)

    def check(self, number: int, answer: Any = PLACEHOLDER) -> Verdict:
        """Check an answer; a right one is recorded in the attendee's progress."""
        exercise = self[number]
        verdict = exercise.judge(answer)
        from workshop.lessons import progress

        note = progress.record(self.chapter, number, passed=verdict.ok)
        return Verdict(verdict.ok, f"{verdict.message} ({note})" if note else verdict.message)

    def hint(self, number: int) -> str:
        """The next hint step for an exercise: a nudge first, then closer ones, then where the solution is."""
        exercise = self[number]
        shown = self._hints_shown.get(number, 0)
        self._hints_shown[number] = shown + 1
        from workshop.lessons import progress

        progress.record(self.chapter, number, hints=min(shown + 1, len(exercise.hints)))
        if shown < len(exercise.hints):
            return Hint(f"Hint {shown + 1} of {len(exercise.hints)}: {exercise.hints[shown]}")
        return Hint(f"{NO_MORE_HINTS.format(n=number)}.")

    def reveal(self, number: int) -> Reveal:
        """The solution's code (from the chapter's solutions module), recorded as revealed."""
        exercise = self[number]
        from workshop.lessons import progress

        progress.record(self.chapter, number, revealed=True)
        code = textwrap.dedent(inspect.getsource(exercise.solution))
        return Reveal(f"Exercise {number} ({exercise.title}): a solution", code)


class Hint(str):
    """A hint prints as plain text in a notebook (no quotes around it)."""

    def __repr__(self) -> str:
        return str(self)
