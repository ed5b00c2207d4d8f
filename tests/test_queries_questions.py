"""Every business question answered by the database agrees with pandas over the raw rows,
for the whole data, a narrow filtered window and an empty one; bad input is one clear line."""

from __future__ import annotations

import datetime as dt

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
