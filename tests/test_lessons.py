"""The exercise interface every chapter uses, and the progress it records."""

from __future__ import annotations

import json

import pytest

from workshop.errors import WorkshopError
from workshop.lessons import PLACEHOLDER, Exercise, Exercises, Wrong, progress


def _even_checker(answer):
    if not isinstance(answer, int):
        raise Wrong(f"the answer should be a whole number, not {type(answer).__name__}")
    if answer % 2:
        raise Wrong("that number is odd")


def _solution():
    return 2 * 21


@pytest.fixture
def chapter(monkeypatch, state_home):
    monkeypatch.setenv("WORKSHOP_HOME", str(state_home))
    return Exercises(
        "99",
        [Exercise(1, "An even number", 5, _even_checker, ("think of pairs", "any multiple of two"), _solution)],
    )


def test_verdicts_say_what_is_wrong_and_never_show_a_traceback(chapter):
    assert not chapter.check(1, PLACEHOLDER) and "`...`" in str(chapter.check(1))
    odd = chapter.check(1, 3)
    assert not odd and "odd" in odd.message and "hint(1)" in odd.message
    crashed = chapter.check(1, type("Boom", (), {"__mod__": lambda self, _: 1 / 0})())
    assert not crashed  # not an int: the checker's own sentence
    assert chapter.check(1, 4) and chapter.check(1, 4).message.startswith("Correct")


def test_an_answer_that_raises_is_one_line(monkeypatch, state_home):
    monkeypatch.setenv("WORKSHOP_HOME", str(state_home))

    def checker(answer):
        answer()

    chapter = Exercises("99", [Exercise(1, "t", 5, checker, ("a", "b"), _solution)])
    verdict = chapter.check(1, lambda: {}["missing"])
    assert not verdict and "KeyError" in verdict.message and "\n" not in verdict.message


def test_hints_come_in_steps_then_point_to_reveal(chapter):
    first, second, third = chapter.hint(1), chapter.hint(1), chapter.hint(1)
    assert first.startswith("Hint 1 of 2") and "pairs" in first
    assert second.startswith("Hint 2 of 2")
    assert "reveal(1)" in third and "multiple" not in third
    shown = chapter.reveal(1)
    assert "def _solution" in shown.code and "2 * 21" in shown.code


def test_progress_records_passes_hints_and_reveals(chapter):
    chapter.check(1, 3)
    chapter.hint(1)
    chapter.check(1, 8)
    chapter.reveal(1)
    (row,) = progress.table()
    assert row == {"chapter": "99", "exercise": 1, "passed": True, "attempts": 2, "hints": 1, "revealed": True}
    progress.reset("99")
    assert progress.table() == []


def test_a_broken_progress_file_never_hides_the_verdict(chapter):
    progress.path().write_text("{not json")
    verdict = chapter.check(1, 4)
    assert verdict.ok and "progress not saved" in verdict.message
    with pytest.raises(WorkshopError, match="not valid JSON"):
        progress.load()
    progress.path().write_text(json.dumps({}))


def test_unknown_exercise_and_bad_declarations_are_refused(chapter):
    with pytest.raises(WorkshopError, match="has no exercise 7.*[Uu]se one of 1"):
        chapter.check(7, 1)
    with pytest.raises(ValueError, match="floor"):
        Exercise(2, "t", 2, _even_checker, ("a", "b"), _solution)
    with pytest.raises(ValueError, match="two hint steps"):
        Exercise(2, "t", 5, _even_checker, ("a",), _solution)


def test_progress_command_shows_the_table(chapter, capsys):
    from workshop import cli

    chapter.check(1, 4)
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "99" in out and "1 of 1 exercises tried are passed" in out
    assert cli.main(["progress", "--forget", "all"]) == 0
    assert progress.table() == []


def test_the_room_time_model_counts_prose_code_runs_exercises_and_widgets(tmp_path):
    from workshop.lessons import roomtime

    words = " ".join(["word"] * 300)  # two minutes at 150 words a minute
    cells = [
        {"cell_type": "markdown", "source": "# Title\n\nIntro."},
        {"cell_type": "markdown", "source": f"## 1 · First (4 min)\n\n{words}"},
        {"cell_type": "code", "id": "a", "source": "x = 1", "metadata": {}},
        {"cell_type": "code", "id": "w", "source": "widget()", "metadata": {"workshop": {"widget_minutes": 2}}},
        {"cell_type": "markdown", "source": "## Exercises (6 min)\n\n### Exercise 1: t (6 min)"},
        {"cell_type": "code", "id": "c", "source": "answer_1 = ...\ncheck(1, answer_1)", "metadata": {}},
        {"cell_type": "markdown", "source": "## Later: more\n\n" + words},
    ]
    path = tmp_path / "07_demo.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    chapter = roomtime.model(path, {"a": 60.0, "c": 30.0})
    first, exercises, later = chapter.sections[1:]
    # prose (and the heading's few words), a code cell, its minute of run, the widget cell (1 + 2)
    assert first.minutes == pytest.approx(2.0 + 1 + 1.0 + (1 + 2), abs=0.05)
    assert first.stated == 4 and not first.fits  # stated below the model: reported
    assert exercises.minutes == pytest.approx(6 + 0.5, abs=0.1)  # declared minutes + the check's run
    assert later.later and later.minutes == pytest.approx(2.0, abs=0.05)
    assert any("First" in p for p in chapter.problems())
    assert chapter.main_path < 35 and not any("main path" in p for p in chapter.problems())


def test_lessons_time_markdown_lists_every_chapters_main_path(capsys):
    from workshop import cli

    assert cli.main(["lessons", "time", "--markdown"]) == 0
    table = capsys.readouterr().out
    for key in ("00", "01", "02", "03", "04", "05"):
        assert f"| **{key}** | **main path**" in table
