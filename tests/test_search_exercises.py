"""Chapter 05's exercises: each solution passes, the placeholder fails, and every lazy or
half-right answer fails with a sentence (issue 21's row: the old public
`expected_affordable_lighting()` is gone, and its value fails the new task)."""

from __future__ import annotations

import difflib

import pytest

from tests.lessons_support import assert_exercise, assert_no_solution_code
from workshop.search import api, exercises, pg, solutions
from workshop.search.exercises import EXERCISES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def installed():
    pg.install()


def _hints(number):
    return [(f"hint {i + 1} pasted", lambda text=text: text) for i, text in enumerate(EXERCISES[number].hints)]


def _old_answer():
    """What the old public helper `expected_affordable_lighting()` returned (the old exercise's answer)."""
    return api.products().search("lamp OR light").filter(category__name="Lighting", price__lt=100)


def test_exercise_1_a_search_filtered():
    assert_exercise(
        EXERCISES,
        1,
        [
            ("None", lambda: None),
            ("what check(1, None) prints, pasted", lambda: EXERCISES[1].judge(None).message),
            ("the plain queryset, no search", lambda: api.products().filter(category__name="Lighting")),
            ("the old public helper's value", _old_answer),
            ("the cell above's `cheap`", lambda: api.products().search("lamp OR light").filter(price__lt=60)),
            ("the search without filters", lambda: api.products().search("lamp OR light -desk")),
            (
                "desk left in",
                lambda: (
                    api.products()
                    .search("lamp OR light")
                    .filter(category__name="Lighting", price__lt=100, is_active=True)
                ),
            ),
            (
                "products no longer sold left in",
                lambda: api.products().search("lamp OR light -desk").filter(category__name="Lighting", price__lt=100),
            ),
            (
                "100 itself let in",
                lambda: (
                    api.products()
                    .search("lamp OR light -desk")
                    .filter(category__name="Lighting", price__lte=100, is_active=True)
                ),
            ),
            ("ordered by id, not by score", lambda: solutions.solution_1().order_by("pk")),
            ("the right rows as a list", lambda: list(solutions.solution_1())),
            ("reviews instead of products", lambda: api.reviews().search("lamp OR light -desk")),
            *_hints(1),
        ],
    )


def test_exercise_1_has_no_public_answer():
    public = [
        name
        for name, value in vars(exercises).items()
        if callable(value) and getattr(value, "__module__", "") == exercises.__name__ and not name.startswith("_")
    ]
    assert public == [] and not hasattr(exercises, "expected_affordable_lighting")


def test_no_hint_and_no_first_verdict_spells_out_the_solution():
    assert_no_solution_code(EXERCISES)


def test_exercise_1_leaves_no_planted_product_behind():
    from workshop.shop.models import Product

    before = Product.objects.count()
    EXERCISES[1].judge(_old_answer())
    assert Product.objects.count() == before and not Product.objects.filter(sku__startswith="EX05-").exists()


def test_exercise_1_says_which_condition_a_row_breaks():
    assert (
        "mention 'desk'"
        in EXERCISES[1]
        .judge(api.products().search("lamp OR light").filter(category__name="Lighting", price__lt=100, is_active=True))
        .message
    )
    assert (
        "no longer sold"
        in EXERCISES[1]
        .judge(api.products().search("lamp OR light -desk").filter(category__name="Lighting", price__lt=100))
        .message
    )


def test_exercise_2_the_relay_bulk_action():
    def unversioned(event_id, kind, object_id, op, payload, prefix):
        action = solutions.solution_2()(event_id, kind, object_id, op, payload, prefix)
        del action["version"], action["version_type"]
        return action

    def versioned_index_only(event_id, kind, object_id, op, payload, prefix):
        action = solutions.solution_2()(event_id, kind, object_id, op, payload, prefix)
        if op == "delete":
            del action["version"], action["version_type"]
        return action

    assert_exercise(
        EXERCISES,
        2,
        [
            ("None", lambda: None),
            (
                "the old notebook stub",
                lambda: (
                    lambda event_id, kind, object_id, op, payload, prefix: {
                        "_index": f"{prefix}-{kind}",
                        "_id": object_id,
                        "_source": payload,
                    }
                ),
            ),
            ("an empty action", lambda: lambda *args: {}),
            ("no versions", lambda: unversioned),
            ("deletes unversioned", lambda: versioned_index_only),
            ("a crash", lambda: lambda *args: 1 / 0),
            *_hints(2),
        ],
    )


def test_exercise_3_trigram_similarity():
    def unpadded(a, b):
        ta = {a[i : i + 3] for i in range(len(a) - 2)}
        tb = {b[i : i + 3] for i in range(len(b) - 2)}
        return len(ta & tb) / max(len(ta | tb), 1)

    def from_the_database(a, b):
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT search_similarity(search_trigrams(%s), search_trigrams(%s))", [a, b])
            return cur.fetchone()[0]

    assert_exercise(
        EXERCISES,
        3,
        [
            ("None", lambda: None),
            ("the old stub", lambda: lambda a, b: 0.0),
            ("unpadded trigrams", lambda: unpadded),
            ("difflib's ratio", lambda: lambda a, b: difflib.SequenceMatcher(None, a, b).ratio()),
            ("the database's own function", lambda: from_the_database),
            ("a string", lambda: lambda a, b: "0.5"),
            *_hints(3),
        ],
    )
