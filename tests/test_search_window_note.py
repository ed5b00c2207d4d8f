"""The search box says when an Elasticsearch backend matched more than its window: facets and
filters then count the best `window` hits only (postgres has no window: nothing to say)."""

from __future__ import annotations

import pytest

from workshop.search import api, pg
from workshop.search.widgets import window_note

pytestmark = pytest.mark.django_db


def test_the_note_says_how_many_of_how_many():
    note = window_note(12_345, 1_000)
    assert "best 1,000 of 12,345 matches" in note and "never reach beyond" in note


def test_no_note_when_everything_matched_was_returned():
    assert window_note(800, 800) == "" and window_note(None, 50) == ""


def test_postgres_searches_have_no_window():
    pg.install()
    qs = api.products().search("lamp OR light")
    assert qs.search_state.total is None
    assert window_note(qs.search_state.total, sum(qs.facets().values())) == ""
