"""Each exercise: the solution passes, a wrong answer fails with its hint, the notebook's
placeholder fails without raising."""

from __future__ import annotations

import pytest

from workshop.search import api, exercises, pg, solutions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def installed():
    pg.install()


def test_affordable_lighting(capsys):
    assert exercises.check_affordable_lighting(solutions.affordable_lighting())
    assert capsys.readouterr().out.strip() == "correct"
    assert not exercises.check_affordable_lighting(None)
    assert "not yet" in capsys.readouterr().out
    assert not exercises.check_affordable_lighting(api.products().search("lamp OR light").filter(price__lt=100))
    assert "category__name" in capsys.readouterr().out
    reordered = solutions.affordable_lighting().order_by("pk")
    if list(reordered) != list(solutions.affordable_lighting()):
        assert not exercises.check_affordable_lighting(reordered)
        assert "order" in capsys.readouterr().out


def test_bulk_action(capsys):
    assert exercises.check_bulk_action(solutions.action_for)
    assert capsys.readouterr().out.strip() == "correct"

    def internal_versions(event_id, kind, object_id, op, payload, prefix):
        action = solutions.action_for(event_id, kind, object_id, op, payload, prefix)
        del action["version"], action["version_type"]
        return action

    assert not exercises.check_bulk_action(internal_versions)
    assert "external version" in capsys.readouterr().out
    assert not exercises.check_bulk_action(None)
    assert "not yet" in capsys.readouterr().out


def test_similarity(capsys):
    assert exercises.check_similarity(solutions.similarity)
    assert capsys.readouterr().out.strip() == "correct"

    def unpadded(a, b):
        ta = {a[i : i + 3] for i in range(len(a) - 2)}
        tb = {b[i : i + 3] for i in range(len(b) - 2)}
        return len(ta & tb) / max(len(ta | tb), 1)

    assert not exercises.check_similarity(unpadded)
    assert "pad the word" in capsys.readouterr().out
    assert not exercises.check_similarity(lambda a, b: None)
    assert "not yet" in capsys.readouterr().out
