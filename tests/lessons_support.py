"""The one way every chapter's exercises are tested: the solution passes, the placeholder
fails, and each lazy answer a learner would try fails, on the dataset the test runs on."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

from workshop.lessons import PLACEHOLDER, Exercise, Exercises


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


def assert_no_solution_code(exercises: Exercises) -> None:
    """Issue 21: `check(n, None)` printed a hint that was the answer's code. Neither the hints
    nor the verdict on None may hold a call of the solution, arguments included."""
    for exercise in exercises:
        calls = solution_calls(exercise)
        assert calls, f"exercise {exercise.number}: no call found in its solution"
        for text in (*exercise.hints, exercise.judge(None).message):
            assert not code_in(text, calls), f"exercise {exercise.number} gives away {code_in(text, calls)}: {text}"


def solution_calls(exercise: Exercise) -> set[str]:
    """Every call with arguments in the exercise's solution (`Count("id")`, `F("quantity")`...),
    written without spaces and with double quotes, the way `code_in` compares them."""
    source = textwrap.dedent(inspect.getsource(exercise.solution))
    return {
        _compact(ast.get_source_segment(source, node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and (node.args or node.keywords)
    }


def code_in(text: str, calls: set[str]) -> list[str]:
    """The solution's calls that a text (a hint, a verdict) gives away, spelled as code."""
    return sorted(call for call in calls if call in _compact(text))


def _compact(code: str) -> str:
    return "".join(code.split()).replace("'", '"')
