"""Solutions to chapter 04's exercises: `reveal(n)` shows one, tests check them with their exercise's check."""

from __future__ import annotations

from django.db.models import Avg, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, ExtractIsoWeekDay, RowNumber

from workshop.shop.models import Customer, Order, OrderItem, Product

COUNTED = ["paid", "shipped", "delivered"]


def solution_1() -> QuerySet:
    return (
        OrderItem.objects.filter(order__status__in=COUNTED)
        .values(brand=F("product__brand"))
        .annotate(revenue=Sum(F("quantity") * F("unit_price")))
    )


def solution_2() -> QuerySet:
    return Customer.objects.annotate(
        placed=Count("orders"),
        cancelled=Count("orders", filter=Q(orders__status="cancelled")),
    ).values("id", "placed", "cancelled")


def solution_3() -> QuerySet:
    return Order.objects.annotate(
        nth=Window(RowNumber(), partition_by=F("customer"), order_by=[F("created_at"), F("id")])
    ).values("id", "nth")


def solution_4() -> QuerySet:
    counted = Order.objects.filter(customer=OuterRef("pk"), status__in=COUNTED)
    return Customer.objects.filter(~Exists(counted)).values("id")


def solution_5() -> QuerySet:
    return Product.objects.annotate(
        rating=Coalesce(Avg("reviews__rating", output_field=FloatField()), Value(0.0))
    ).values("id", "rating")


def solution_6() -> QuerySet:
    return (
        Order.objects.filter(status__in=COUNTED)
        .values(weekday=ExtractIsoWeekDay("created_at"))
        .annotate(orders=Count("id"))
    )
