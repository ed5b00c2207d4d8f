"""The redundant columns drift after QuerySet.update() and raw SQL; the expression and the
GeneratedField stay right; the demo leaves the shared data as it found it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from workshop.queries import stale
from workshop.queries.models import InvoiceLine, line_total
from workshop.shop.models import OrderItem

pytestmark = pytest.mark.django_db

STORED, LIVE = "stored total (OrderTotal)", "expression (Sum over items)"
BY_HAND, GENERATED = "lines by hand (save())", "lines generated (GeneratedField)"


def test_demo_shows_the_drift_step_by_step():
    before = list(OrderItem.objects.order_by("id").values_list("quantity", flat=True))
    steps = stale.demo().set_index("step")
    first, items_updated, lines_updated, raw_sql, refreshed = (steps.iloc[i] for i in range(5))
    assert first[STORED] == first[LIVE] and first[BY_HAND] == first[GENERATED]
    assert items_updated[STORED] != items_updated[LIVE] and items_updated["order total stale?"]
    assert items_updated[LIVE] > first[LIVE]  # every quantity went up by one
    assert lines_updated[BY_HAND] != lines_updated[GENERATED] and lines_updated["hand-kept lines stale?"]
    assert raw_sql[GENERATED] > lines_updated[GENERATED]  # the database recomputed after raw SQL too
    assert refreshed[STORED] == refreshed[LIVE] and not refreshed["order total stale?"]
    # Rolled back: the shared dataset is untouched and the demo rows are gone.
    assert list(OrderItem.objects.order_by("id").values_list("quantity", flat=True)) == before
    assert not InvoiceLine.objects.exists()


def test_generated_field_follows_every_kind_of_write():
    item = OrderItem.objects.order_by("id").first()
    line = InvoiceLine(item=item, quantity=3, unit_price=Decimal("19.99"), discount_percent=15)
    line.save()
    line.refresh_from_db()
    assert line.total_by_hand == line.total_generated == line_total(3, Decimal("19.99"), 15) == Decimal("50.97")
    InvoiceLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + 1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE queries_invoiceline SET discount_percent = 50 WHERE id = %s", [line.pk])
    line.refresh_from_db()
    assert line.total_generated == line_total(4, Decimal("19.99"), 50) == Decimal("39.98")
    assert line.total_by_hand == Decimal("50.97")  # stale: nothing ran save()


def test_an_unknown_order_is_one_line():
    from workshop.errors import WorkshopError

    with pytest.raises(WorkshopError, match="No such order"):
        stale.demo(order_id=10**9)
