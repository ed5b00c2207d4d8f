"""Each exercise's check passes with its solution and fails, with its hint, on a wrong answer,
on a placeholder and on a list computed in Python."""

from __future__ import annotations

import pytest
from django.db.models import Avg, Count, F, IntegerField, Q, Sum, Window
from django.db.models.functions import Cast, ExtractIsoWeekDay, Rank

from workshop.queries.exercises import EXERCISES, check
from workshop.queries.solutions import SOLUTIONS
from workshop.shop.models import Customer, Order, OrderItem, Product

pytestmark = pytest.mark.django_db

WRONG = {  # plausible mistakes an attendee makes
    1: lambda: OrderItem.objects.values(category=F("product__category__slug")).annotate(
        revenue=Sum(F("quantity") * F("unit_price"))
    ),  # forgot the status filter
    2: lambda: Customer.objects.filter(orders__status="cancelled").annotate(cancelled=Count("orders")),  # drops zeros
    3: lambda: Customer.objects.filter(orders__status="cancelled").values("id").distinct(),
    4: lambda: Order.objects.annotate(nth=Window(Rank(), partition_by=F("customer"), order_by=F("id").desc())),
    5: lambda: Product.objects.annotate(rating=Avg("reviews__rating")),  # NULL instead of 0
    6: lambda: (
        Order.objects.annotate(weekday=ExtractIsoWeekDay("created_at")).values("weekday").annotate(orders=Count("id"))
    ),
}


def test_six_exercises_with_solutions():
    assert len(EXERCISES) >= 6 and set(SOLUTIONS) == set(EXERCISES) == set(WRONG)


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_solution_passes(number):
    assert check(number, SOLUTIONS[number]()).ok


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_wrong_answer_fails_with_the_hint(number):
    result = check(number, WRONG[number]())
    assert not result.ok
    assert EXERCISES[number].hint in result.message


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_placeholder_and_python_lists_do_not_pass(number, capsys):
    result = check(number, None)
    assert not result.ok and "no answer yet" in result.message
    assert capsys.readouterr().out.startswith("Not yet:")
    as_list = list(SOLUTIONS[number]())  # the right rows, computed outside the database
    assert not check(number, as_list).ok


def test_an_answer_with_many_queries_is_refused():
    class Sneaky(type(Customer.objects.all())):
        def _fetch_all(self):
            list(Customer.objects.all()[:1])  # a query of its own before the real one
            super()._fetch_all()

    answer = SOLUTIONS[3]()
    answer.__class__ = Sneaky
    result = check(3, answer)
    assert not result.ok and "queries; one is enough" in result.message


def test_a_broken_queryset_is_a_hint_not_a_traceback():
    # Fails in PostgreSQL, not in Python: titles are no integers.
    broken = OrderItem.objects.filter(Q(order__status__in=["paid"])).annotate(
        category=Cast("product__title", IntegerField())
    )
    result = check(1, broken)
    assert not result.ok and "the queryset fails" in result.message and "Hint" in result.message
    assert check(1, SOLUTIONS[1]()).ok  # the connection is still usable
