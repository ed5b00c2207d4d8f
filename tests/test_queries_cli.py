"""`workshop queries list | ask | verify`, through the CLI's own entry point."""

from __future__ import annotations

import pytest

from workshop.cli import main

pytestmark = pytest.mark.django_db


def test_verify_agrees_and_exits_0(capsys):
    assert main(["queries", "verify", "--category", "audio"]) == 0
    out = capsys.readouterr().out
    assert "revenue_by_month" in out and "False" not in out


def test_ask_prints_sql_and_rows(capsys):
    assert main(["queries", "ask", "revenue_by_category", "--start", "2024-01-01"]) == 0
    out = capsys.readouterr().out
    assert "SELECT" in out and "FILTER" in out and "slug" in out


def test_list_names_every_question(capsys):
    from workshop.queries.questions import QUESTIONS

    assert main(["queries", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in QUESTIONS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["queries", "ask", "revenue_by_month", "--start", "2025-01-01", "--end", "2024-01-01"], "reversed"),
        (["queries", "ask", "profit_on_mars"], "Unknown question"),
        (["queries", "verify", "--top", "x"], "not a whole number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
