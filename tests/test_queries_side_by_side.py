"""Notebook 04 shows each question's code beside its answer: the code is the question's own
source and the rows are the question's rows."""

from __future__ import annotations

import pytest

from workshop import WorkshopError
from workshop.queries import ask
from workshop.queries.compare import to_frame
from workshop.queries.side_by_side import code_of, show

pytestmark = pytest.mark.django_db


def test_the_code_is_the_questions_source_and_the_rows_its_rows():
    answer = show("order_status_by_month", start="2024-01-01", tail=4)
    assert answer.code.startswith("@question(") and "def order_status_by_month" in answer.code
    expected = to_frame(ask("order_status_by_month", start="2024-01-01")).tail(4)
    assert answer.frame.reset_index(drop=True).equals(expected.reset_index(drop=True))
    page = answer._repr_html_()
    assert "def order_status_by_month" in page and "<table" in page


def test_columns_and_head():
    answer = show("best_product_per_category", columns=["category", "title"], head=2)
    assert list(answer.frame.columns) == ["category", "title"] and len(answer.frame) <= 2


def test_an_unknown_question_is_one_line():
    with pytest.raises(WorkshopError, match="Unknown question"):
        code_of("no_such_question")
