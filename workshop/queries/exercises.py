"""Chapter 04's exercises: write the queryset, `check(n, answer)` says what is wrong.

Each check runs the answer (a QuerySet, one query: the database does the work) and compares its
rows with the same answer computed in pandas from the raw rows, each time (never a stored
value), matched on key columns so the verdict can say which rows or values are off. Exercise 3
adds orders placed at the same moment (in a savepoint, rolled back) so that a numbering without
a tie-break shows itself. Solutions: `workshop/queries/solutions.py`, through `reveal(n)`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from workshop.lessons import Exercise, Exercises, Wrong
from workshop.queries import frames, solutions
from workshop.queries.reference import COUNTED
from workshop.queries.rowdiff import difference


@dataclass(frozen=True)
class _Rows:
    """What an answer's rows must be: columns, the key columns, the pandas reference, the tables it reads."""

    columns: tuple[str, ...]
    keys: tuple[str, ...]
    reference: Callable[[frames.Raw], pd.DataFrame]
    tables: tuple[str, ...]


def _revenue_per_brand(raw: frames.Raw) -> pd.DataFrame:
    orders = raw.orders[raw.orders.status.isin(COUNTED)]
    lines = raw.items.merge(orders[["id"]].rename(columns={"id": "order_id"}), on="order_id")
    lines = lines.merge(raw.products[["id", "brand"]].rename(columns={"id": "product_id"}), on="product_id")
    lines["revenue"] = lines.quantity * lines.unit_price
    return lines.groupby("brand").revenue.sum().reset_index()


def _orders_and_cancelled(raw: frames.Raw) -> pd.DataFrame:
    every = raw.orders.groupby("customer_id").size()
    cancelled = raw.orders[raw.orders.status == "cancelled"].groupby("customer_id").size()
    ids = raw.customers.id
    return pd.DataFrame(
        {
            "id": ids,
            "placed": ids.map(every).fillna(0).astype(int),
            "cancelled": ids.map(cancelled).fillna(0).astype(int),
        }
    )


def _nth_order(raw: frames.Raw) -> pd.DataFrame:
    orders = raw.orders.sort_values(["customer_id", "created_at", "id"])
    return pd.DataFrame({"id": orders.id, "nth": orders.groupby("customer_id").cumcount() + 1})


def _never_counted(raw: frames.Raw) -> pd.DataFrame:
    counted = raw.orders[raw.orders.status.isin(COUNTED)].customer_id
    return raw.customers[~raw.customers.id.isin(counted)][["id"]]


def _average_rating(raw: frames.Raw) -> pd.DataFrame:
    mean = raw.reviews.groupby("product_id").rating.mean()
    return pd.DataFrame({"id": raw.products.id, "rating": raw.products.id.map(mean).fillna(0.0)})


def _counted_per_iso_weekday(raw: frames.Raw) -> pd.DataFrame:
    orders = raw.orders[raw.orders.status.isin(COUNTED)]
    weekday = orders.created_at.dt.tz_convert("UTC").dt.dayofweek + 1  # pandas: Monday = 0
    return weekday.value_counts().rename_axis("weekday").rename("orders").reset_index()


_ROWS = {
    1: _Rows(("brand", "revenue"), ("brand",), _revenue_per_brand, ("items", "orders", "products")),
    2: _Rows(("id", "placed", "cancelled"), ("id",), _orders_and_cancelled, ("customers", "orders")),
    3: _Rows(("id", "nth"), ("id",), _nth_order, ("orders",)),
    4: _Rows(("id",), ("id",), _never_counted, ("customers", "orders")),
    5: _Rows(("id", "rating"), ("id",), _average_rating, ("products", "reviews")),
    6: _Rows(("weekday", "orders"), ("weekday",), _counted_per_iso_weekday, ("orders",)),
}


def _rows_of(answer, columns: tuple[str, ...]) -> pd.DataFrame:
    """The answer's rows, run afresh (never a cached result) in a savepoint, as one query."""
    from django.core.exceptions import FieldError
    from django.db import transaction
    from django.db.models.query import ValuesIterable

    from workshop.queries.compare import to_frame
    from workshop.queries.inspector import record_queries

    _require_queryset(answer)
    try:
        fresh = answer.all() if issubclass(answer._iterable_class, ValuesIterable) else answer.values(*columns)
    except FieldError:
        raise Wrong(_no_column(answer, columns)) from None
    with transaction.atomic(), record_queries() as log:  # a failing query must not abort the caller's transaction
        rows = list(fresh)
    if log.count > 1:
        raise Wrong(f"the answer took {log.count} queries; one is enough (no Python loop over rows)")
    frame = to_frame(rows, None if rows else list(fresh.query.values_select) + list(fresh.query.annotation_select))
    if [c for c in columns if c not in frame.columns]:
        raise Wrong(_no_column(answer, columns, frame.columns))
    return frame


def _require_queryset(answer) -> None:
    from django.db.models import QuerySet

    if not isinstance(answer, QuerySet):
        raise Wrong(
            f"the answer is a {type(answer).__name__}, not a QuerySet: build it with Model.objects... "
            "and let the database compute it"
        )


def _no_column(answer, columns: tuple[str, ...], present=None) -> str:
    present = set(present if present is not None else answer.query.annotation_select)
    absent = [c for c in columns if c not in present and c != "id"] or list(columns)
    return (
        f"the rows have no column {', '.join(absent)}: name it in values() or annotate() "
        f"(the columns wanted: {', '.join(columns)})"
    )


def _compare(number: int, answer, raw: frames.Raw | None = None) -> None:
    spec = _ROWS[number]
    got = _rows_of(answer, spec.columns)
    expected = spec.reference(raw or frames.load(spec.tables)).reset_index(drop=True)
    problem = difference(got, expected, spec.keys)
    if problem:
        raise Wrong(problem)


def _check_rows(number: int) -> Callable[[object], None]:
    def checker(answer) -> None:
        _compare(number, answer)

    checker.__name__ = f"_check_{number}"
    return checker


# --- exercise 3: the ties ------------------------------------------------------------------------

_TIED = 3  # orders one customer places at the same moment, added for the check only
_TIED_AT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@contextmanager
def _tied_orders(descending: bool) -> Iterator[pd.DataFrame]:
    """Add _TIED orders of one customer at one moment, inserted in ascending or descending id order,
    then roll them back; yields them as raw rows. A numbering without a tie-break follows the
    order PostgreSQL reads the rows in: it is wrong in one of the two runs. (Parallel workers
    would make that order random: they are off in the savepoint.)"""
    from django.db import connection, transaction
    from django.db.models import Max

    from workshop.shop.models import Customer, Order

    with transaction.atomic():
        customer = Customer.objects.order_by("id").values_list("id", flat=True).first()
        top = Order.objects.aggregate(top=Max("id"))["top"] or 0
        ids = sorted(range(top + 1, top + 1 + _TIED), reverse=descending)
        status = Order.Status.PAID
        Order.objects.bulk_create(Order(id=i, customer_id=customer, status=status, created_at=_TIED_AT) for i in ids)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        try:
            yield pd.DataFrame(
                {"id": ids, "customer_id": customer, "status": status.value, "created_at": pd.Timestamp(_TIED_AT)}
            )
        finally:
            transaction.set_rollback(True)


def _check_3(answer) -> None:
    _require_queryset(answer)  # before reading 200,000 orders: a wrong type is answered at once
    raw = frames.load(_ROWS[3].tables)
    for descending in (False, True):
        with _tied_orders(descending) as tied:
            with_ties = dataclasses.replace(raw, orders=pd.concat([raw.orders, tied], ignore_index=True))
            try:
                _compare(3, answer, with_ties)
            except Wrong as wrong:
                if any(f"id={i}" in str(wrong) for i in tied.id) and "column nth" in str(wrong):
                    # Said for a missing tie-break and for a tie-break the wrong way round (id descending).
                    raise Wrong(
                        "orders a customer placed at the same moment are not numbered by id, smallest first: "
                        "the time alone leaves them in whichever order PostgreSQL reads them, so the ordering "
                        "needs a second key that is never tied, in the right direction"
                    ) from None
                raise


# --- the chapter's exercises ----------------------------------------------------------------------

EXERCISES = Exercises(
    "04",
    [
        Exercise(
            1,
            "Revenue per brand",
            minutes=5,
            checker=_check_rows(1),
            hints=(
                "Start from the order lines (OrderItem): each line has a quantity, a unit price, an order "
                "with a status and a product with a brand.",
                "Filter on the order's status through the relation; values() on the brand (reached through "
                "the product) makes the groups; annotate each group with a Sum of an expression that "
                "multiplies two of the line's fields.",
            ),
            solution=solutions.solution_1,
            explain="one GROUP BY in PostgreSQL instead of a loop over half a million lines in Python",
        ),
        Exercise(
            2,
            "All orders and cancelled orders, per customer",
            minutes=5,
            checker=_check_rows(2),
            hints=(
                "Every customer must stay in the answer, including those who never cancelled: a .filter() "
                "on the orders' status would drop them, and would change the other count too.",
                "Both counts go in one annotate(). An aggregate takes a filter= argument (a Q object); "
                "PostgreSQL runs it as COUNT(...) FILTER (WHERE ...), so one pass gives both numbers.",
            ),
            solution=solutions.solution_2,
            explain="conditional aggregation keeps the zeros and counts several subsets in one pass",
        ),
        Exercise(
            3,
            "Number each customer's orders",
            minutes=5,
            checker=_check_3,
            hints=(
                "Each order keeps its own row and gets a number computed over the other orders of the same "
                "customer: that is a window function, not an aggregate.",
                "A Window with RowNumber(), partitioned by the customer and ordered by time. Two orders placed at "
                "the same moment need a second ordering key, or their numbers can swap between two runs.",
            ),
            solution=solutions.solution_3,
            explain="a window numbers rows without collapsing them; a tie-break makes the numbering repeatable",
        ),
        Exercise(
            4,
            "Customers without a counted order",
            minutes=6,
            checker=_check_rows(4),
            hints=(
                "Say it as a condition on each customer: there is no order of theirs that brought money. "
                "Customers with no order at all belong in the answer too.",
                "Exists() over the orders, correlated with the customer through OuterRef and narrowed to the "
                "counted statuses, then negated with ~ inside filter().",
            ),
            solution=solutions.solution_4,
            explain="NOT EXISTS answers 'has none' without a join that would repeat or drop customers",
        ),
        Exercise(
            5,
            "Average rating, 0 when unreviewed",
            minutes=5,
            checker=_check_rows(5),
            hints=(
                "The average of no reviews is NULL in SQL, not 0.",
                "Coalesce the average with 0.0; the average of an integer field needs a FloatField "
                "output so that both sides of the Coalesce have the same type.",
            ),
            solution=solutions.solution_5,
            explain="Coalesce turns SQL's NULL into the value the report needs, in the database",
        ),
        Exercise(
            6,
            "Counted orders per ISO weekday",
            minutes=5,
            checker=_check_rows(6),
            hints=(
                "Django has two weekday extractors, and they do not give Monday the same number.",
                "Filter the orders' status first, then values() on the extracted ISO weekday, then annotate a Count.",
            ),
            solution=solutions.solution_6,
            explain="Extract functions group by parts of a date in the database; check which numbering they use",
        ),
    ],
)
check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal
