"""Every business question answered by the database agrees with pandas over the raw rows,
for the whole data, a narrow filtered window and an empty one; bad input is one clear line."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workshop.errors import WorkshopError
from workshop.queries import compare, frames
from workshop.queries.params import Params, empty_reason
from workshop.queries.questions import QUESTIONS, ask

pytestmark = pytest.mark.django_db

PARAMS = {  # parsed in the test: a category name is looked up in the database
    "everything": {},
    "a category in 2023-2024": {
        "start": "2023-01-01",
        "end": "2024-06-30",
        "category": "audio",
        "min_orders": 1,
        "top": 5,
    },
    "one month, another category": {"start": "2024-03-01", "end": "2024-03-31", "category": "Kitchen"},
    "after the data ends": {"start": "2031-01-01"},
}


@pytest.fixture(scope="module")
def raw(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return frames.load()


def test_at_least_twelve_questions_cover_the_expressions():
    assert len(QUESTIONS) >= 12
    features = " ".join(f for q in QUESTIONS.values() for f in q.features)
    for needed in (
        "ExpressionWrapper",
        "Case/When",
        "filter=",
        "Subquery",
        "Exists",
        "Window",
        "Rank",
        "Lag",
        "running total",
        "Coalesce",
        "Greatest",
        "Cast",
        "TruncMonth",
        "Extract",
        "JSON key transforms",
        "custom Func",
        "custom Transform",
        "alias",
        "FilteredRelation",
    ):
        assert needed in features, f"no question shows {needed}"


@pytest.mark.parametrize("label", PARAMS)
@pytest.mark.parametrize("name", QUESTIONS)
def test_database_agrees_with_pandas(name, label, raw):
    verdict = compare.verify(name, Params.parse(**PARAMS[label]), raw)
    assert verdict.agree, str(verdict)


def test_the_comparison_can_fail(raw):
    """A wrong answer (one revenue off by a cent) is caught: the agreement above means something."""
    verdict = compare.verify("revenue_by_month", Params(), raw)
    tampered = verdict.database.copy()
    tampered.loc[0, "revenue"] += 0.01
    assert compare.same_answer(tampered, verdict.pandas)[0] is False
    assert compare.same_answer(verdict.database.iloc[1:], verdict.pandas)[0] is False


def test_filters_really_filter(raw):
    whole = compare.to_frame(ask("revenue_by_category"))
    audio = compare.to_frame(ask("revenue_by_category", category="audio"))
    assert len(audio) == 1 and len(whole) > 1
    assert audio.revenue.iloc[0] == whole.set_index("slug").revenue["audio"]


def test_custom_transform_and_func_in_plain_querysets():
    from workshop.shop.models import Customer

    gmail = Customer.objects.filter(email__domain="gmail.com")
    assert gmail.exists()
    assert all(email.lower().endswith("@gmail.com") for email in gmail.values_list("email", flat=True))
    bands = list(ask("price_histogram"))
    assert sum(b["products"] for b in bands) == 80  # the tiny dataset's products, each in one band


@pytest.mark.parametrize(
    "values, message",
    [
        ({"start": "2024-05-01", "end": "2024-01-01"}, "reversed"),
        ({"category": "spaceships"}, "Unknown category"),
        ({"min_orders": "three"}, "not a whole number"),
        ({"top": "0"}, "at least 1"),
        ({"start": "31/12/2024"}, "not a date"),
    ],
)
def test_bad_input_is_one_line(values, message):
    with pytest.raises(WorkshopError, match=message) as caught:
        Params.parse(**values)
    assert "\n" not in str(caught.value)


def test_unknown_question_is_one_line():
    with pytest.raises(WorkshopError, match="Unknown question"):
        ask("profit_on_mars")


def test_empty_range_is_explained():
    params = Params.parse(start=dt.date(2031, 1, 1), end=dt.date(2031, 2, 1))
    assert not ask("revenue_by_month", params).exists()
    reason = empty_reason(params)
    assert "No rows" in reason and "orders run from" in reason


# --- exact money in the reference, and the order of the rows (issue 18, item 19) ----------------


def _sell(lines, category=None):
    """One paid order of a new customer: [(unit price as text, quantity, product or None)].
    Products are made in `category` (a new one when None) at the line's price."""
    from decimal import Decimal

    from django.utils import timezone

    from workshop.shop.models import Category, Customer, Order, OrderItem, Product

    n = next(_serial)
    when = timezone.now().replace(year=2024, month=6, day=15)
    category = category or Category.objects.create(name=f"Exact {n}", slug=f"exact-{n}")
    customer = Customer.objects.create(
        first_name="Exact",
        last_name=f"Money{n}",
        email=f"exact{n}@example.org",
        phone="0",
        national_id=f"9{n:010d}",
        birth_date=dt.date(1980, 1, 1),
        gender="F",
        street_address="1 Main St",
        city="Town",
        state="CA",
        zip_code="90000",
        created_at=when,
    )
    order = Order.objects.create(customer=customer, status="paid", created_at=when)
    for m, (price, quantity, product) in enumerate(lines):
        product = product or Product.objects.create(
            sku=f"EXACT-{n}-{m}",
            title=f"Exact {n}-{m}",
            description="",
            brand="x",
            category=category,
            price=Decimal(price),
            stock=1,
            created_at=when,
        )
        OrderItem.objects.create(order=order, product=product, quantity=quantity, unit_price=Decimal(price))
    return category, customer


_serial = iter(range(10**6, 10**7))


def test_a_spend_of_exactly_200_is_silver_in_both():
    """29.58 + 150.23 + 3 x 6.73 is 200.00 exactly; added as floats it is 199.99999999999997,
    which a float reference files under bronze (< 200)."""
    _sell([("29.58", 1, None), ("150.23", 1, None), ("6.73", 3, None)])
    verdict = compare.verify("customer_segments", Params(), frames.load())
    assert verdict.agree, str(verdict)


def test_equal_revenues_tie_for_first_place_in_both():
    """0.10 + 0.20 and 0.30 are the same revenue: both products rank first (RANK ties); as
    floats 0.1 + 0.2 > 0.3 and only one would."""
    category, _ = _sell([("0.10", 1, None), ("0.30", 1, None)])
    first = category.products.order_by("id").first()
    _sell([("0.20", 1, first)], category)
    verdict = compare.verify("best_product_per_category", Params.parse(category=category.slug), frames.load())
    assert verdict.agree and verdict.rows == 2, str(verdict)


def test_rows_in_another_order_than_the_question_asks_are_a_difference(raw, monkeypatch):
    """The same rows in the wrong order are a wrong answer for a question that orders them."""
    import dataclasses

    from workshop.queries import questions

    right = questions.QUESTIONS["revenue_by_category"]
    assert compare.verify("revenue_by_category", Params(), raw).agree
    wrong_ways = {
        "ascending": lambda p: right.build(p).order_by("revenue", "slug"),
        "by slug only": lambda p: right.build(p).order_by("slug"),
    }
    for label, build in wrong_ways.items():
        monkeypatch.setitem(questions.QUESTIONS, "revenue_by_category", dataclasses.replace(right, build=build))
        verdict = compare.verify("revenue_by_category", Params(), raw)
        assert not verdict.agree and "order" in verdict.reason, label


def test_ties_may_come_in_any_order():
    """Rows equal on the ordering columns may come either way round."""
    database = pd.DataFrame({"slug": ["b", "a", "c"], "revenue": [5.0, 5.0, 1.0]})
    expected = pd.DataFrame({"slug": ["a", "b", "c"], "revenue": [5.0, 5.0, 1.0]})
    assert compare.same_answer(database, expected, order=("revenue",)) == (True, "")
    assert compare.same_answer(database.iloc[::-1], expected, order=("revenue",))[0] is False
