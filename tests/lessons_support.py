"""The one way every chapter's exercises are tested: the solution passes, the placeholder
fails, and each lazy answer a learner would try fails, on the dataset the test runs on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from workshop.lessons import PLACEHOLDER, Exercises


def assert_exercise(exercises: Exercises, number: int, lazy: Iterable[tuple[str, Callable[[], Any]]]) -> None:
    """`lazy`: (what the learner tried, a function making that answer) pairs; each must fail
    with a sentence that is neither the solution's code nor a traceback."""
    exercise = exercises[number]
    verdict = exercise.judge(exercise.solution())
    assert verdict.ok, f"exercise {number}'s solution fails its own check: {verdict.message}"
    placeholder = exercise.judge(PLACEHOLDER)
    assert not placeholder.ok and "..." in placeholder.message
    tried = 0
    for label, make in lazy:
        tried += 1
        verdict = exercise.judge(make())
        assert not verdict.ok, f"exercise {number} passes with a lazy answer: {label}"
        assert "Traceback" not in verdict.message, f"exercise {number}, {label}: {verdict.message}"
    assert tried >= 2, f"exercise {number}: test at least two lazy answers (None, empty, the tool's own proposal...)"
