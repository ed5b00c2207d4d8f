"""Every exercise check: the solution passes, a placeholder and a wrong answer fail with
their hint, and nothing raises."""

from __future__ import annotations

import pytest

from workshop.anonymize import alias, build, exercises, solutions
from workshop.anonymize.measure import Generalization
from workshop.anonymize.shop_rules import shop_rules

pytestmark = pytest.mark.django_db
KEY = b"e" * 32
COPY = alias.use_copy("anon_ex")  # registered before the test database is set up (see test_anonymize_target)


def test_exercise_1(capsys):
    assert exercises.check_1(None) is False and "Not yet" in capsys.readouterr().out
    answer = solutions.solution_1()
    assert exercises.check_1(answer) is True and "Well done" in capsys.readouterr().out
    assert exercises.check_1(Generalization()) is False and "coarsen" in capsys.readouterr().out
    assert exercises.check_1(Generalization("hidden", 0, gender=False)) is False
    assert "coarser than needed" in capsys.readouterr().out


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        changed = exercises.plant_leaks()
        yield changed


def test_exercise_2(planted, capsys, monkeypatch):
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", KEY.decode())
    assert planted >= 4
    assert exercises.check_2(None) is False and "Not yet" in capsys.readouterr().out
    assert exercises.check_2(shop_rules()) is False  # the shop's rules leave the bodies as they are
    assert "still in the copy's free text" in capsys.readouterr().out
    assert exercises.check_2(solutions.solution_2()) is True and "Well done" in capsys.readouterr().out


def test_exercise_3(capsys):
    assert exercises.check_3(None) is False and "Not yet" in capsys.readouterr().out
    assert exercises.check_3("a") is False and "C-413/23 P" in capsys.readouterr().out
    assert exercises.check_3(solutions.solution_3) is True


@pytest.mark.django_db(databases=["default", COPY])
def test_exercise_4(capsys, monkeypatch):
    from django.db import connections

    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", KEY.decode())
    build(target="anon_ex", progress=False)
    assert exercises.check_4(None, copy="anon_ex") is False and "Not yet" in capsys.readouterr().out
    answer = solutions.solution_4(copy="anon_ex")
    assert exercises.check_4(answer, copy="anon_ex") is True and "Well done" in capsys.readouterr().out
    assert exercises.check_4(answer + 1, copy="anon_ex") is False and "chain one .filter()" in capsys.readouterr().out
    connections[COPY].close()
