"""Solutions to the exercises (kept out of the notebook; tests check them with `exercises.check`)."""

from __future__ import annotations

from django.db.models import Avg, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, ExtractWeekDay, RowNumber

from workshop.shop.models import Customer, Order, OrderItem, Product


def solution_1() -> QuerySet:
    return (
        OrderItem.objects.filter(order__status__in=["paid", "shipped", "delivered"])
        .values(category=F("product__category__slug"))
        .annotate(revenue=Sum(F("quantity") * F("unit_price")))
    )


def solution_2() -> QuerySet:
    return Customer.objects.annotate(cancelled=Count("orders", filter=Q(orders__status="cancelled"))).values(
        "id", "cancelled"
    )


def solution_3() -> QuerySet:
    return Customer.objects.filter(~Exists(Order.objects.filter(customer=OuterRef("pk")))).values("id")


def solution_4() -> QuerySet:
    return Order.objects.annotate(
        nth=Window(RowNumber(), partition_by=F("customer"), order_by=[F("created_at"), F("id")])
    ).values("id", "nth")


def solution_5() -> QuerySet:
    return Product.objects.annotate(
        rating=Coalesce(Avg("reviews__rating", output_field=FloatField()), Value(0.0))
    ).values("id", "rating")


def solution_6() -> QuerySet:
    return Order.objects.annotate(weekday=ExtractWeekDay("created_at")).values("weekday").annotate(orders=Count("id"))


SOLUTIONS = {1: solution_1, 2: solution_2, 3: solution_3, 4: solution_4, 5: solution_5, 6: solution_6}
