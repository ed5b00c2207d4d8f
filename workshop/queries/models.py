"""The chapter's own tables: where a value is stored twice, once by hand and once by the database.

* `InvoiceLine`: an order item with a discount. `total_by_hand` is the redundant column a team
  keeps up to date in `save()`; `total_generated` is a `GeneratedField` PostgreSQL computes
  itself (stored, `db_persist=True`), so no code path can forget it.
* `OrderTotal`: the classic denormalized table (one row per order with its total), refreshed
  by application code after items change; the expression over the items needs no refresh.

Neither touches the shop's tables: the shop's data load truncates them (CASCADE) with the rest.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from workshop.django_setup import require_setup

require_setup()  # a notebook cell run before the set-up cell: say what to run

from django.db import models  # noqa: E402
from django.db.models import F, Value  # noqa: E402
from django.db.models.functions import Round  # noqa: E402

from workshop.queries.customers import ShopperQuerySet  # noqa: E402
from workshop.shop.models import Customer  # noqa: E402

MONEY = {"max_digits": 12, "decimal_places": 2}


def line_total(quantity: int, unit_price: Decimal, discount_percent: int) -> Decimal:
    """The rule in Python, as the hand-maintained column computes it."""
    # PostgreSQL rounds numeric halves away from zero: ROUND_HALF_UP for these positive amounts.
    return (quantity * unit_price * (100 - discount_percent) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class InvoiceLine(models.Model):
    item = models.OneToOneField("shop.OrderItem", on_delete=models.CASCADE, related_name="invoice_line")
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    discount_percent = models.PositiveSmallIntegerField(default=0)
    # Kept by hand: right as long as every write goes through save().
    total_by_hand = models.DecimalField(**MONEY, default=Decimal("0"))
    # Kept by PostgreSQL on every INSERT and UPDATE, whoever writes.
    total_generated = models.GeneratedField(
        expression=Round(F("quantity") * F("unit_price") * (Value(100) - F("discount_percent")) / Value(100), 2),
        output_field=models.DecimalField(**MONEY),
        db_persist=True,
    )

    def save(self, *args, **kwargs) -> None:
        self.total_by_hand = line_total(self.quantity, Decimal(self.unit_price), self.discount_percent)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"line {self.pk}: {self.quantity} x {self.unit_price} -{self.discount_percent}%"


class OrderTotal(models.Model):
    order = models.OneToOneField("shop.Order", on_delete=models.CASCADE, related_name="stored_total")
    total = models.DecimalField(**MONEY)
    item_count = models.PositiveIntegerField()
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.total} ({self.item_count} items)"


class Shopper(Customer):
    """The shop's customers with the chapter's QuerySet as their manager (`customers.py`): a proxy,
    so the same table and rows, and no change to `shop.Customer`."""

    objects = ShopperQuerySet.as_manager()

    class Meta:
        proxy = True
