"""The query inspector catches a planted N+1 and names the line that caused it; it works as an
assertion in tests; shapes group queries that differ only in their literals."""

from __future__ import annotations

import pytest

from workshop.queries import pages
from workshop.queries.inspector import assert_max_queries, record_queries, shape_of
from workshop.shop.models import Order

pytestmark = pytest.mark.django_db


def test_planted_n_plus_one_is_flagged_with_its_line():
    with record_queries() as log:
        for order in Order.objects.order_by("id")[:10]:
            order.customer.email  # the planted N+1: one query per order  # noqa: B018
    assert log.count == 11
    suspects = log.suspects()
    assert len(suspects) == 1
    row = suspects.iloc[0]
    assert row["count"] == 10
    assert row["origin"].startswith("test_queries_inspector.py:")
    assert "order.customer.email" in row["code"]
    assert "N+1 suspect: 10 x" in log.summary()


def test_the_page_fix_needs_at_most_three_queries():
    with record_queries() as naive:
        slow = pages.order_page_naive(10)
    with assert_max_queries(3) as fixed:
        fast = pages.order_page_fixed(10)
    assert slow == fast
    assert naive.count > 20 and fixed.count == 2
    assert {s.split(":")[0] for s in naive.suspects()["origin"]} == {"pages.py"}
    assert fixed.suspects().empty


def test_assert_max_queries_fails_with_the_queries():
    with pytest.raises(AssertionError, match="expected at most 3 queries, got 11"):
        with assert_max_queries(3):
            for order in Order.objects.order_by("id")[:10]:
                order.customer.email  # noqa: B018


def test_shapes_ignore_literals_and_list_lengths():
    assert shape_of("SELECT * FROM t WHERE id = 1") == shape_of("SELECT  *\nFROM t WHERE id = 42")
    assert shape_of("SELECT * FROM t WHERE id IN (%s, %s)") == shape_of("SELECT * FROM t WHERE id IN (%s, %s, %s)")
    assert shape_of("SELECT * FROM t WHERE name = 'a'") == shape_of("SELECT * FROM t WHERE name = 'it''s'")
    assert shape_of('SELECT "t1"."id" FROM "t1"') != shape_of('SELECT "t2"."id" FROM "t2"')


def test_the_log_renders_as_html():
    with record_queries() as log:
        list(Order.objects.all()[:3])
    html = log._repr_html_()
    assert "1 queries" in html and "shop_order" in html


def test_cell_magic_records_the_cell():
    from IPython.testing.globalipapp import start_ipython

    from workshop.queries.inspector import register_magic

    shell = start_ipython()
    if shell is None:  # already started in this process
        from IPython import get_ipython

        shell = get_ipython()
    register_magic()
    log = shell.run_cell_magic("queries", "", "from workshop.shop.models import Order\nlist(Order.objects.all()[:2])\n")
    assert log.count == 1
    with pytest.raises(AssertionError, match="at most 0"):
        shell.run_cell_magic("queries", "0", "from workshop.shop.models import Order\nlist(Order.objects.all()[:2])\n")
