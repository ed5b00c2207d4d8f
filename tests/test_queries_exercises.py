"""Chapter 04's exercises: each solution passes, the placeholder fails, and every lazy or
half-right answer a learner would try fails with a sentence (no pandas dump, no traceback)."""

from __future__ import annotations

import pytest
from django.db.models import Avg, Count, Exists, F, IntegerField, OuterRef, Q, Sum, Window
from django.db.models.functions import Cast, ExtractIsoWeekDay, ExtractWeekDay, Rank, RowNumber

from tests.lessons_support import assert_exercise, assert_no_solution_code, code_in, solution_calls
from workshop.queries.exercises import EXERCISES
from workshop.queries.inspector import record_queries
from workshop.shop.models import Customer, Order, OrderItem, Product

pytestmark = pytest.mark.django_db
COUNTED = ["paid", "shipped", "delivered"]

# The hints `check(n, None)` printed before this interface; for 3 and 6 they were the whole answer.
OLD_HINTS = {
    1: lambda: (
        OrderItem.objects.filter(order__status__in=COUNTED)
        .values(category=F("product__category__slug"))
        .annotate(revenue=Sum(F("quantity") * F("unit_price")))
    ),
    2: lambda: Customer.objects.annotate(cancelled=Count("orders", filter=Q(orders__status="cancelled"))),
    3: lambda: Customer.objects.filter(~Exists(Order.objects.filter(customer=OuterRef("pk")))),
    4: lambda: Order.objects.annotate(
        nth=Window(RowNumber(), partition_by=F("customer"), order_by=[F("created_at"), F("id")])
    ).values("id", "nth", "customer_id"),  # the old exercise 4 is this chapter's exercise 3
    6: lambda: (
        Order.objects.annotate(weekday=ExtractWeekDay("created_at")).values("weekday").annotate(orders=Count("id"))
    ),
}


# The old hints as the learner read them (issue 21: pasted, they were the answer).
OLD_HINT_TEXTS = {
    4: "a window: Window(RowNumber(), partition_by=F('customer'), order_by=[F('created_at'), F('id')])",
    6: "Order.objects.annotate(weekday=ExtractWeekDay('created_at')).values('weekday').annotate(orders=Count('id'))",
}


def _lazy(number, *more):
    """The answers every exercise must refuse: None, what check(n, None) prints and each hint
    pasted, an empty queryset, the solution's rows as a Python list, plus the exercise's own
    half-right answers."""
    exercise = EXERCISES[number]
    model = exercise.solution().model
    return [
        ("None", lambda: None),
        ("what check(n, None) prints, pasted", lambda: exercise.judge(None).message),
        ("an empty queryset", lambda: model.objects.none()),
        ("the right rows as a Python list", lambda: list(exercise.solution())),
        *[(f"hint {i + 1} pasted", lambda text=text: text) for i, text in enumerate(exercise.hints)],
        *more,
    ]


def test_exercise_1_revenue_per_brand():
    assert_exercise(
        EXERCISES,
        1,
        _lazy(
            1,
            ("the old hint (per category)", OLD_HINTS[1]),
            (
                "every order counted",
                lambda: OrderItem.objects.values(brand=F("product__brand")).annotate(
                    revenue=Sum(F("quantity") * F("unit_price"))
                ),
            ),
            (
                "the products' list price instead of the price paid",
                lambda: (
                    OrderItem.objects.filter(order__status__in=COUNTED)
                    .values(brand=F("product__brand"))
                    .annotate(revenue=Sum(F("quantity") * F("product__price")))
                ),
            ),
            (
                "not grouped (one row per line)",
                lambda: OrderItem.objects.filter(order__status__in=COUNTED).annotate(
                    brand=F("product__brand"), revenue=F("quantity") * F("unit_price")
                ),
            ),
        ),
    )


def test_exercise_2_two_counts_per_customer():
    assert_exercise(
        EXERCISES,
        2,
        _lazy(
            2,
            ("the old hint (cancelled only)", OLD_HINTS[2]),
            (
                "a .filter() that drops the zeros",
                lambda: Customer.objects.filter(orders__status="cancelled").annotate(
                    placed=Count("orders"), cancelled=Count("orders")
                ),
            ),
            (
                "a second join that multiplies the counts",
                lambda: Customer.objects.annotate(
                    placed=Count("orders"),
                    cancelled=Count("orders", filter=Q(orders__status="cancelled")),
                    reviewed=Count("reviews"),
                ),
            ),
        ),
    )


def _numbered(order_by):
    return Order.objects.annotate(nth=Window(RowNumber(), partition_by=F("customer"), order_by=order_by))


def test_exercise_3_numbering_needs_a_tie_break():
    assert_exercise(
        EXERCISES,
        3,
        _lazy(
            3,
            ("no tie-break (time only)", lambda: _numbered("created_at")),
            ("no tie-break, ascending written as a list", lambda: _numbered([F("created_at").asc()])),
            (
                "Rank on time (tied orders share a number)",
                lambda: Order.objects.annotate(nth=Window(Rank(), partition_by=F("customer"), order_by="created_at")),
            ),
            ("newest first", lambda: _numbered([F("created_at").desc(), F("id").desc()])),
            ("ties by id, largest first", lambda: _numbered([F("created_at"), F("id").desc()])),
            (
                "ordered by id only, over every order",
                lambda: Order.objects.annotate(nth=Window(RowNumber(), order_by="id")),
            ),
        ),
    )


def test_exercise_3_says_what_a_missing_tie_break_does():
    verdict = EXERCISES[3].judge(_numbered("created_at"))
    assert not verdict.ok and "same moment" in verdict.message and "second key" in verdict.message
    assert Order.objects.filter(created_at="2025-06-01T12:00:00Z").count() == 0  # the tied orders are gone
    backwards = EXERCISES[3].judge(_numbered([F("created_at"), F("id").desc()]))
    assert not backwards.ok and "same moment" in backwards.message and "by id, smallest first" in backwards.message


def test_exercise_3_answers_a_wrong_type_without_reading_the_orders():
    with record_queries() as log:
        verdict = EXERCISES[3].judge(None)
    assert not verdict.ok and "not a QuerySet" in verdict.message and log.count == 0


def test_no_hint_and_no_first_verdict_spells_out_the_solution():
    assert_no_solution_code(EXERCISES)
    # The comparison can fail: the old hints of 'number the orders' and of the weekdays are caught.
    assert code_in(OLD_HINT_TEXTS[4], solution_calls(EXERCISES[3]))
    assert code_in(OLD_HINT_TEXTS[6], solution_calls(EXERCISES[6]))


def test_exercise_4_no_counted_order():
    assert_exercise(
        EXERCISES,
        4,
        _lazy(
            4,
            ("the old hint of 'never ordered' (misses customers with only pending or cancelled orders)", OLD_HINTS[3]),
            (
                "customers with an uncounted order",
                lambda: (
                    Customer.objects.filter(orders__status__in=["pending", "cancelled", "refunded"])
                    .values("id")
                    .distinct()
                ),
            ),
            ("a join that repeats customers", lambda: Customer.objects.filter(orders__status="cancelled").values("id")),
        ),
    )


def test_exercise_5_average_rating():
    assert_exercise(
        EXERCISES,
        5,
        _lazy(
            5,
            ("NULL for unreviewed products", lambda: Product.objects.annotate(rating=Avg("reviews__rating"))),
            (
                "integer division",
                lambda: Product.objects.annotate(
                    rating=Cast(Sum("reviews__rating"), IntegerField()) / Count("reviews")
                ).filter(reviews__isnull=False),
            ),
        ),
    )


def test_exercise_6_iso_weekday():
    assert_exercise(
        EXERCISES,
        6,
        _lazy(
            6,
            ("the old hint (Sunday = 1, every status)", OLD_HINTS[6]),
            (
                "Sunday = 1",
                lambda: (
                    Order.objects.filter(status__in=COUNTED)
                    .values(weekday=ExtractWeekDay("created_at"))
                    .annotate(orders=Count("id"))
                ),
            ),
            (
                "every status",
                lambda: Order.objects.values(weekday=ExtractIsoWeekDay("created_at")).annotate(orders=Count("id")),
            ),
        ),
    )


def test_a_wrong_value_is_a_sentence_not_a_pandas_dump():
    verdict = EXERCISES[1].judge(
        OrderItem.objects.values(brand=F("product__brand")).annotate(revenue=Sum(F("quantity") * F("unit_price")))
    )
    assert not verdict.ok and "column revenue is off in" in verdict.message and "higher than" in verdict.message
    assert "DataFrame" not in verdict.message and "iloc" not in verdict.message and "\n" not in verdict.message
    nulls = EXERCISES[5].judge(Product.objects.annotate(rating=Avg("reviews__rating")))
    assert "empty (NULL)" in nulls.message


def test_the_verdict_never_shows_the_expected_value():
    right = {row["brand"]: row["revenue"] for row in EXERCISES[1].solution()}
    verdict = EXERCISES[1].judge(OrderItem.objects.values(brand=F("product__brand")).annotate(revenue=Sum("quantity")))
    assert not verdict.ok
    assert not any(f"{value:,.2f}".rstrip("0").rstrip(".") in verdict.message for value in right.values())


def test_an_answer_with_many_queries_is_refused():
    class Sneaky(type(Customer.objects.all())):
        def _fetch_all(self):
            list(Customer.objects.all()[:1])  # a query of its own before the real one
            super()._fetch_all()

    answer = EXERCISES[4].solution()
    answer.__class__ = Sneaky
    verdict = EXERCISES[4].judge(answer)
    assert not verdict.ok and "queries; one is enough" in verdict.message


def test_a_broken_queryset_is_a_sentence_and_the_connection_stays_usable():
    # Fails in PostgreSQL, not in Python: titles are no integers.
    broken = OrderItem.objects.filter(order__status__in=COUNTED).annotate(
        brand=Cast("product__title", IntegerField()), revenue=F("quantity")
    )
    verdict = EXERCISES[1].judge(broken)
    assert not verdict.ok and "raised" in verdict.message and "\n" not in verdict.message
    assert EXERCISES[1].judge(EXERCISES[1].solution()).ok
