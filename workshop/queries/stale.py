"""The stale-column problem, live: a value stored twice drifts the moment a write skips the code
that was supposed to keep it in step.

`demo()` runs each step on one real order inside a transaction that is rolled back at the end
(the shared dataset is left exactly as it was) and returns what each copy of the total said
after each step:

* `OrderTotal.total`, refreshed by application code (`refresh_order_total`), against the
  expression `Sum(quantity * unit_price)` over the order's items, computed when asked;
* `InvoiceLine.total_by_hand`, set in `save()`, against `InvoiceLine.total_generated`, a
  `GeneratedField` PostgreSQL recomputes on every write.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from workshop.django_setup import require_setup

require_setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import F, OuterRef, Subquery, Sum  # noqa: E402

from workshop.errors import WorkshopError  # noqa: E402
from workshop.queries.models import InvoiceLine, OrderTotal  # noqa: E402
from workshop.queries.questions import LINE_AMOUNT, MONEY  # noqa: E402
from workshop.shop.models import Order, OrderItem  # noqa: E402


def refresh_order_total(order: Order) -> OrderTotal:
    """The hand-maintained way: every code path that changes items must remember to call this."""
    items = list(order.items.all())
    total = sum((item.quantity * item.unit_price for item in items), Decimal("0"))
    stored, _ = OrderTotal.objects.update_or_create(order=order, defaults={"total": total, "item_count": len(items)})
    return stored


def totals(order_id: int) -> dict:
    """Every copy of the order's total, read fresh from the database."""
    live = OrderItem.objects.filter(order=OuterRef("pk")).values("order").annotate(t=Sum(LINE_AMOUNT)).values("t")
    row = (
        Order.objects.filter(pk=order_id)
        .annotate(expression=Subquery(live, output_field=MONEY), stored=F("stored_total__total"))
        .values()
        .get()
    )
    lines = InvoiceLine.objects.filter(item__order_id=order_id).aggregate(
        by_hand=Sum("total_by_hand"), generated=Sum("total_generated")
    )
    return {
        "stored total (OrderTotal)": row["stored"],
        "expression (Sum over items)": row["expression"],
        "lines by hand (save())": lines["by_hand"],
        "lines generated (GeneratedField)": lines["generated"],
    }


@dataclass(frozen=True)
class Step:
    title: str
    code: str


STEPS = (
    Step("saved through the ORM, totals refreshed", "line.save(); refresh_order_total(order)"),
    Step("QuerySet.update() on the items", 'OrderItem.objects.filter(order=order).update(quantity=F("quantity") + 1)'),
    Step(
        "QuerySet.update() on the invoice lines",
        "InvoiceLine.objects.filter(item__order=order).update(discount_percent=20)",
    ),
    Step("raw SQL on the invoice lines", "UPDATE queries_invoiceline SET quantity = quantity * 2 WHERE ..."),
    Step("the team remembers to refresh", "refresh_order_total(order)"),
)


def demo(order_id: int | None = None) -> pd.DataFrame:
    """Run the steps on one order (rolled back afterwards); one row per step, drift flagged."""
    rows = []
    with transaction.atomic():
        order = (Order.objects.filter(pk=order_id) if order_id else Order.objects.order_by("id")).first()
        if order is None:
            raise WorkshopError(
                "No such order" if order_id else "The shop has no orders",
                "pick an existing order id, or run workshop.setup() to load the dataset",
            )
        for item in order.items.all():
            InvoiceLine(item=item, quantity=item.quantity, unit_price=item.unit_price, discount_percent=10).save()
        refresh_order_total(order)
        rows.append(_row(STEPS[0], order.pk))

        OrderItem.objects.filter(order=order).update(quantity=F("quantity") + 1)
        rows.append(_row(STEPS[1], order.pk))
        InvoiceLine.objects.filter(item__order=order).update(discount_percent=20)
        rows.append(_row(STEPS[2], order.pk))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE queries_invoiceline SET quantity = quantity * 2 "
                "WHERE item_id IN (SELECT id FROM shop_orderitem WHERE order_id = %s)",
                [order.pk],
            )
        rows.append(_row(STEPS[3], order.pk))
        refresh_order_total(order)
        rows.append(_row(STEPS[4], order.pk))
        transaction.set_rollback(True)  # leave the shared dataset untouched
    return pd.DataFrame(rows)


def _row(step: Step, order_id: int) -> dict:
    values = totals(order_id)
    lines_right = _line_totals_agree(order_id)
    return {
        "step": step.title,
        "code": step.code,
        **values,
        "order total stale?": values["stored total (OrderTotal)"] != values["expression (Sum over items)"],
        "hand-kept lines stale?": not lines_right,
    }


def _line_totals_agree(order_id: int) -> bool:
    return not InvoiceLine.objects.filter(item__order_id=order_id).exclude(total_by_hand=F("total_generated")).exists()


def styled(frame: pd.DataFrame):
    """The demo's table with stale cells in red."""

    def paint(value):
        return "background-color: #ffd6d6; font-weight: bold" if value is True else ""

    return frame.style.map(paint, subset=["order total stale?", "hand-kept lines stale?"]).hide(axis="index")
