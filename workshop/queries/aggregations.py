"""The benchmark's aggregations, each written three ways over the same slice of rows:

* `db`: one queryset, the database aggregates;
* `models`: what a Django developer often writes, a loop over model instances
  (`.iterator(chunk_size=...)` so memory stays flat, `select_related` so it is not also N+1);
* `values`: the same loop over `values_list` tuples, the usual first optimization.

All three return the same dict (checked by the tests and by the benchmark before it times
anything), so the timings compare equal work. `limit` bounds the rows: customers and orders
by primary key, order items by their order's id (the items of the first `limit` orders), which
lets PostgreSQL walk both tables in id order (a merge join) instead of hashing every order.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractYear, TruncMonth

from workshop.queries.questions import COUNTED, LINE_AMOUNT
from workshop.shop.models import Customer, Order, OrderItem

CHUNK = 5000


def _month(moment: dt.datetime) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


# --- revenue by month: items joined to their order --------------------------------------------


def revenue_by_month_db(limit: int) -> dict:
    rows = (
        OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED)
        .annotate(month=TruncMonth("order__created_at"))
        .values("month")
        .annotate(revenue=Sum(LINE_AMOUNT))
    )
    return {row["month"].date(): row["revenue"] for row in rows}


def revenue_by_month_models(limit: int) -> dict:
    totals: dict = defaultdict(Decimal)
    items = OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED).select_related("order")
    for item in items.iterator(chunk_size=CHUNK):
        totals[_month(item.order.created_at)] += item.quantity * item.unit_price
    return dict(totals)


def revenue_by_month_values(limit: int) -> dict:
    totals: dict = defaultdict(Decimal)
    rows = OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED).values_list(
        "quantity", "unit_price", "order__created_at"
    )
    for quantity, price, created in rows.iterator(chunk_size=CHUNK):
        totals[_month(created)] += quantity * price
    return dict(totals)


# --- orders and lost orders by month: conditional counting ------------------------------------


def lost_orders_by_month_db(limit: int) -> dict:
    rows = (
        Order.objects.filter(id__lte=limit)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(orders=Count("id"), lost=Count("id", filter=Q(status__in=("cancelled", "refunded"))))
    )
    return {row["month"].date(): (row["orders"], row["lost"]) for row in rows}


def lost_orders_by_month_models(limit: int) -> dict:
    orders: Counter = Counter()
    lost: Counter = Counter()
    for order in Order.objects.filter(id__lte=limit).iterator(chunk_size=CHUNK):
        month = _month(order.created_at)
        orders[month] += 1
        if order.status in ("cancelled", "refunded"):
            lost[month] += 1
    return {month: (n, lost[month]) for month, n in orders.items()}


def lost_orders_by_month_values(limit: int) -> dict:
    orders: Counter = Counter()
    lost: Counter = Counter()
    for status, created in (
        Order.objects.filter(id__lte=limit).values_list("status", "created_at").iterator(chunk_size=CHUNK)
    ):
        month = _month(created)
        orders[month] += 1
        if status in ("cancelled", "refunded"):
            lost[month] += 1
    return {month: (n, lost[month]) for month, n in orders.items()}


# --- top customers by spend: items grouped by the order's customer ----------------------------

TOP = 10


def _top(spend: dict) -> dict:
    return dict(sorted(spend.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP])


def top_spenders_db(limit: int) -> dict:
    rows = (
        OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED)
        .values("order__customer_id")
        .annotate(spend=Sum(LINE_AMOUNT))
        .order_by("-spend", "order__customer_id")[:TOP]
    )
    return {row["order__customer_id"]: row["spend"] for row in rows}


def top_spenders_models(limit: int) -> dict:
    spend: dict = defaultdict(Decimal)
    items = OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED).select_related("order")
    for item in items.iterator(chunk_size=CHUNK):
        spend[item.order.customer_id] += item.quantity * item.unit_price
    return _top(spend)


def top_spenders_values(limit: int) -> dict:
    spend: dict = defaultdict(Decimal)
    rows = OrderItem.objects.filter(order_id__lte=limit, order__status__in=COUNTED).values_list(
        "order__customer_id", "quantity", "unit_price"
    )
    for customer, quantity, price in rows.iterator(chunk_size=CHUNK):
        spend[customer] += quantity * price
    return _top(spend)


# --- customers by sign-up year and gender -------------------------------------------------------


def signups_db(limit: int) -> dict:
    rows = (
        Customer.objects.filter(id__lte=limit)
        .annotate(year=ExtractYear("created_at"))
        .values("year", "gender")
        .annotate(n=Count("id"))
    )
    return {(row["year"], row["gender"]): row["n"] for row in rows}


def signups_models(limit: int) -> dict:
    counts: Counter = Counter()
    for customer in Customer.objects.filter(id__lte=limit).iterator(chunk_size=CHUNK):
        counts[(customer.created_at.year, customer.gender)] += 1
    return dict(counts)


def signups_values(limit: int) -> dict:
    counts: Counter = Counter()
    for created, gender in (
        Customer.objects.filter(id__lte=limit).values_list("created_at", "gender").iterator(chunk_size=CHUNK)
    ):
        counts[(created.year, gender)] += 1
    return dict(counts)


@dataclass(frozen=True)
class Aggregation:
    name: str
    rows: str  # what is counted
    model: type
    bound: str  # the column `limit` bounds: "id", or "order_id" for items
    db: Callable[[int], dict]
    models: Callable[[int], dict]
    values: Callable[[int], dict]


AGGREGATIONS = (
    Aggregation(
        "revenue_by_month",
        "order items",
        OrderItem,
        "order_id",
        revenue_by_month_db,
        revenue_by_month_models,
        revenue_by_month_values,
    ),
    Aggregation(
        "lost_orders_by_month",
        "orders",
        Order,
        "id",
        lost_orders_by_month_db,
        lost_orders_by_month_models,
        lost_orders_by_month_values,
    ),
    Aggregation(
        "top_spenders", "order items", OrderItem, "order_id", top_spenders_db, top_spenders_models, top_spenders_values
    ),
    Aggregation("signups_by_year_gender", "customers", Customer, "id", signups_db, signups_models, signups_values),
)


def bound_for(aggregation: Aggregation, rows: int) -> tuple[int, int]:
    """(limit, rows covered): the limit that makes the aggregation cover about `rows` rows."""
    model = aggregation.model
    if aggregation.bound == "id":
        limit = rows
    else:  # the order id of the rows-th item (items are numbered order by order)
        ids = model.objects.order_by("id").values_list(aggregation.bound, flat=True)
        limit = ids[rows - 1] if ids[rows - 1 : rows].exists() else (ids.last() or 0)
    return limit, model.objects.filter(**{f"{aggregation.bound}__lte": limit}).count()
