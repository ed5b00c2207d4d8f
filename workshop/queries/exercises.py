"""Exercises: write the queryset, `check(n, answer)` says right or wrong, with a hint.

The expected answer is computed in pandas from the raw rows each time (never a stored value),
and compared with what your queryset returns in the database, as a set of rows on the named
columns. The answer must be a QuerySet that runs as one query: the point is to let the
database do the work. Solutions are in `workshop/queries/solutions.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from workshop.queries import frames
from workshop.queries.compare import same_answer, to_frame
from workshop.queries.reference import COUNTED


@dataclass(frozen=True)
class Exercise:
    number: int
    task: str
    columns: tuple[str, ...]
    hint: str
    expected: Callable[[frames.Raw], pd.DataFrame]
    tables: tuple[str, ...]  # the raw tables the pandas answer reads


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color = "#2e7d32" if self.ok else "#b26a00"
        return f'<div style="color:{color}">{self.message}</div>'


def _revenue_per_category(raw: frames.Raw) -> pd.DataFrame:
    lines = raw.items.merge(raw.orders[raw.orders.status.isin(COUNTED)], left_on="order_id", right_on="id")
    lines = lines.merge(raw.products, left_on="product_id", right_on="id", suffixes=("", "_p"))
    lines = lines.merge(raw.categories, left_on="category_id", right_on="id", suffixes=("", "_c"))
    lines["revenue"] = lines.quantity * lines.unit_price
    return lines.groupby("slug").revenue.sum().rename_axis("category").reset_index()


def _cancelled_per_customer(raw: frames.Raw) -> pd.DataFrame:
    cancelled = raw.orders[raw.orders.status == "cancelled"].groupby("customer_id").size()
    return pd.DataFrame({"id": raw.customers.id, "cancelled": raw.customers.id.map(cancelled).fillna(0).astype(int)})


def _customers_without_orders(raw: frames.Raw) -> pd.DataFrame:
    return raw.customers[~raw.customers.id.isin(raw.orders.customer_id)][["id"]]


def _nth_order(raw: frames.Raw) -> pd.DataFrame:
    orders = raw.orders.sort_values(["customer_id", "created_at", "id"])
    return pd.DataFrame({"id": orders.id, "nth": orders.groupby("customer_id").cumcount() + 1})


def _average_rating(raw: frames.Raw) -> pd.DataFrame:
    mean = raw.reviews.groupby("product_id").rating.mean()
    return pd.DataFrame({"id": raw.products.id, "rating": raw.products.id.map(mean).fillna(0.0)})


def _orders_per_weekday(raw: frames.Raw) -> pd.DataFrame:
    # Django's ExtractWeekDay: 1 = Sunday ... 7 = Saturday; pandas' dayofweek: 0 = Monday.
    weekday = (raw.orders.created_at.dt.dayofweek + 1) % 7 + 1
    return weekday.value_counts().rename_axis("weekday").rename("orders").reset_index()


EXERCISES = {
    e.number: e
    for e in (
        Exercise(
            1,
            "Revenue (quantity x unit price) per category slug, counting paid, shipped and delivered orders. "
            "Columns: category, revenue.",
            ("category", "revenue"),
            "start from OrderItem, filter order__status__in=[...], then values(category=F('product__category__slug'))"
            ".annotate(revenue=Sum(F('quantity') * F('unit_price')))",
            _revenue_per_category,
            ("items", "orders", "products", "categories"),
        ),
        Exercise(
            2,
            "Every customer with the number of their cancelled orders, 0 for those without. Columns: id, cancelled.",
            ("id", "cancelled"),
            "a .filter() would drop customers without cancellations: put the condition inside the aggregate, "
            "Count('orders', filter=Q(orders__status='cancelled'))",
            _cancelled_per_customer,
            ("customers", "orders"),
        ),
        Exercise(
            3,
            "Customers who never placed an order. Column: id.",
            ("id",),
            "Customer.objects.filter(~Exists(Order.objects.filter(customer=OuterRef('pk'))))",
            _customers_without_orders,
            ("customers", "orders"),
        ),
        Exercise(
            4,
            "Number each customer's orders in time: 1 for their first order, 2 for the second... (ties by id). "
            "Columns: id, nth.",
            ("id", "nth"),
            "a window: Window(RowNumber(), partition_by=F('customer'), order_by=[F('created_at'), F('id')])",
            _nth_order,
            ("orders",),
        ),
        Exercise(
            5,
            "Every product with its average review rating, 0.0 when it has no review. Columns: id, rating.",
            ("id", "rating"),
            "Avg('reviews__rating') is NULL without reviews: wrap it in Coalesce(..., 0.0) with a FloatField output",
            _average_rating,
            ("products", "reviews"),
        ),
        Exercise(
            6,
            "Number of orders (all statuses) per weekday, as ExtractWeekDay numbers it (1 = Sunday). "
            "Columns: weekday, orders.",
            ("weekday", "orders"),
            "Order.objects.annotate(weekday=ExtractWeekDay('created_at')).values('weekday').annotate(orders=Count('id'))",
            _orders_per_weekday,
            ("orders",),
        ),
    )
}


def check(number: int, answer) -> CheckResult:
    """Compare your queryset with the pandas answer; prints and returns the verdict."""
    result = _check(number, answer)
    print(("Right! " if result.ok else "Not yet: ") + result.message)
    return result


def _check(number: int, answer) -> CheckResult:
    from django.db.models import QuerySet

    from workshop.queries.inspector import record_queries

    exercise = EXERCISES.get(number)
    if exercise is None:
        return CheckResult(False, f"there is no exercise {number}; they are numbered {min(EXERCISES)}-{max(EXERCISES)}")
    if answer is None:
        return CheckResult(False, f"exercise {number} has no answer yet. Hint: {exercise.hint}")
    if not isinstance(answer, QuerySet):
        return CheckResult(
            False,
            f"the answer is a {type(answer).__name__}, not a QuerySet: let the database compute "
            f"it. Hint: {exercise.hint}",
        )
    from django.db import transaction

    try:  # a savepoint: a failing query must not leave the caller's transaction aborted
        with transaction.atomic(), record_queries() as log:
            rows = list(answer.values(*exercise.columns)) if not _is_values(answer) else list(answer)
    except Exception as error:  # the attendee's queryset: any database or field error becomes a hint
        return CheckResult(False, f"the queryset fails: {' '.join(str(error).split())[:200]}. Hint: {exercise.hint}")
    if log.count > 1:
        return CheckResult(False, f"the answer took {log.count} queries; one is enough. Hint: {exercise.hint}")
    expected = exercise.expected(frames.load(exercise.tables)).reset_index(drop=True)
    got = to_frame(rows)
    agree, reason = same_answer(got, to_frame(expected.to_dict("records"), list(expected.columns)))
    if not agree:
        return CheckResult(False, f"{reason}. Hint: {exercise.hint}")
    return CheckResult(True, f"exercise {number}: {len(got)} rows, the same as pandas computes from the raw rows.")


def _is_values(queryset) -> bool:
    from django.db.models.query import ValuesIterable

    return issubclass(queryset._iterable_class, ValuesIterable)
