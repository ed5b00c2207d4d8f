"""Chapter 05's exercises: `check(n, answer)` says what is wrong, `hint(n)` in steps, `reveal(n)`
shows a solution (from solutions.py).

1. A search chained with ORM filters: the checker adds a product that each condition leaves
   out (rolled back after), runs its own search inside the check, and says which condition the
   answer's rows break, never which rows are right.
2. The relay's bulk action: the learner's function is judged on the actions it returns.
3. Trigram similarity in Python: compared with the database's own `search_similarity` on word
   pairs, and refused when it asks the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from workshop.django_setup import require_setup
from workshop.lessons import Exercise, Exercises, Wrong
from workshop.search import solutions

require_setup()

# --- 1. chain a search with ORM filters -------------------------------------------------------

_TEXT, _EXCLUDED = "lamp OR light -desk", "desk"
_CATEGORY, _BELOW = "Lighting", 100


@contextmanager
def _planted() -> Iterator[None]:
    """Products that each condition of the task leaves out (a desk lamp, a lamp no longer sold,
    one at exactly the price limit, a lamp in another category), added for the check only and
    rolled back: whatever the dataset's size, an answer that forgets a condition shows it. The
    postgres backend indexes them in the same transaction (its trigger)."""
    from django.db import transaction
    from django.utils import timezone

    from workshop.shop.models import Category, Product

    lighting = Category.objects.get(name=_CATEGORY)
    other = Category.objects.exclude(pk=lighting.pk).order_by("pk").first()
    rows = [  # (title, category, price, is_active)
        ("Ashgrove desk lamp, brushed brass", lighting, 39, True),
        ("Ashgrove floor lamp, walnut (discontinued)", lighting, 45, False),
        ("Ashgrove arc lamp, linen shade", lighting, _BELOW, True),
        ("Ashgrove reading light for e-readers", other, 25, True),
    ]
    with transaction.atomic():
        Product.objects.bulk_create(
            Product(
                sku=f"EX05-{i}",
                title=title,
                description=f"{title}. A lamp that gives a warm light.",
                brand="Ashgrove",
                category=category,
                price=price,
                stock=10,
                is_active=active,
                created_at=timezone.now(),
            )
            for i, (title, category, price, active) in enumerate(rows)
        )
        try:
            yield
        finally:
            transaction.set_rollback(True)


def _check_1(qs) -> None:
    from workshop.search import api

    if not isinstance(qs, api.SearchQuerySet) or qs.search_state is None:
        raise Wrong("the answer is not a search: start from products().search(...) and chain filters after it")
    state = qs.search_state
    if state.kind.model_label != "shop.Product":
        raise Wrong("the answer searches reviews: the exercise asks for products")
    if state.backend != "postgres":
        raise Wrong(f"the answer uses the {state.backend} backend: use postgres (it runs everywhere)")
    with _planted():
        conditions = {"category__name": _CATEGORY, "price__lt": _BELOW, "is_active": True}
        expected = list(api.products().search(_TEXT).filter(**conditions).values_list("pk", flat=True))
        got = list(qs.values_list("pk", flat=True))
        extra = set(got) - set(expected)
        if extra:
            raise Wrong(_why_extra(extra))
    if set(expected) - set(got):
        raise Wrong(
            f"{len(set(expected) - set(got))} products that match every condition are missing: "
            "check the search text and that no filter is narrower than the task"
        )
    if len(got) != len(expected):
        raise Wrong("some products come more than once: a filter across a relation repeats rows")
    if got != expected:
        raise Wrong("the same products in another order: keep the search's ranking (best score first)")


def _why_extra(extra: set[int]) -> str:
    from workshop.search import api
    from workshop.shop.models import Product

    rows = Product.objects.filter(pk__in=extra)
    if rows.exclude(category__name=_CATEGORY).exists():
        return f"some results are not in the {_CATEGORY} category"
    if rows.filter(price__gte=_BELOW).exists():
        return f"some results cost {_BELOW} or more"
    if rows.filter(is_active=False).exists():
        return "some results are no longer sold (is_active is False)"
    if api.products().search(_EXCLUDED).filter(pk__in=extra).exists():
        return f"some results mention '{_EXCLUDED}'"
    return f"{len(extra)} results do not match the search text"


# --- 2. the outbox relay's bulk action ---------------------------------------------------------


def _check_2(action_for) -> None:
    if not callable(action_for):
        raise Wrong(
            f"the answer is a {type(action_for).__name__}: give your function "
            "action_for(event_id, kind, object_id, op, payload, prefix) itself"
        )
    index = action_for(41, "product", 7, "index", {"title": "Lamp"}, "p")
    delete = action_for(42, "product", 7, "delete", None, "p")
    if not isinstance(index, dict) or not isinstance(delete, dict):
        raise Wrong("return one dict per event, as elasticsearch.helpers.bulk takes them")
    if index.get("_index") != "p-product" or str(index.get("_id")) != "7":
        raise Wrong(
            "the action goes to the wrong place: the index is named after the prefix and the kind, the id after the row"
        )
    if index.get("_op_type", "index") != "index" or (index.get("_source") or {}).get("title") != "Lamp":
        raise Wrong("an index event must send its payload as the document's source")
    if index.get("version_type") != "external" or index.get("version") != 41:
        raise Wrong(
            "a replayed or late event can overwrite a newer document: nothing in your action lets "
            "Elasticsearch refuse an older write"
        )
    if delete.get("_op_type") != "delete":
        raise Wrong("a delete event must delete the document")
    if delete.get("version") != 42 or delete.get("version_type") != "external":
        raise Wrong("an unversioned delete lets an older index event bring the document back")


# --- 3. trigram similarity -----------------------------------------------------------------

_PAIRS = [
    ("lamp", "lamps"),
    ("headphones", "headphnes"),
    ("skillet", "skilet"),
    ("kettle", "kettlebell"),
    ("glass", "grass"),
    ("tent", "tint"),
    ("Lamp", "lamp"),
    ("a", "b"),
]


def _check_3(similarity) -> None:
    from django.db import connection

    from workshop.search import pg

    if not callable(similarity):
        raise Wrong(f"the answer is a {type(similarity).__name__}: give your function similarity(a, b) itself")
    pg.install()
    asked = []
    for a, b in _PAIRS:
        with connection.cursor() as cur:
            cur.execute("SELECT search_similarity(search_trigrams(%s), search_trigrams(%s))", [a, b])
            expected = cur.fetchone()[0]
        with connection.execute_wrapper(lambda execute, sql, *args: asked.append(sql) or execute(sql, *args)):
            got = similarity(a, b)
        if asked:
            raise Wrong("your function asks the database: compute the similarity in Python, from the trigrams")
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise Wrong(f"similarity({a!r}, {b!r}) returned {type(got).__name__} {got!r}, not a number")
        if abs(got - expected) > 1e-9:
            side = "higher" if got > expected else "lower"
            raise Wrong(f"similarity({a!r}, {b!r}) is {got:.4g}, {side} than pg_trgm's definition gives")


# --- the chapter's exercises ----------------------------------------------------------------------

EXERCISES = Exercises(
    "05",
    [
        Exercise(
            1,
            "A search, filtered",
            minutes=5,
            checker=_check_1,
            hints=(
                "A search is a queryset: .search() first, then the ORM's .filter() for everything that is not text.",
                "The query language excludes a word with a minus sign; the category is reached through "
                "the product's relation, the price and is_active are the product's own fields.",
            ),
            solution=solutions.solution_1,
            explain="text search and ordinary filters compose in one SQL query, ranked by the search",
        ),
        Exercise(
            2,
            "The relay's bulk action",
            minutes=5,
            checker=_check_2,
            hints=(
                "Replays and out-of-order batches are harmless when a write can be idempotent (the same id) "
                "and refused when it is older than what the index holds.",
                "Elasticsearch compares versions you supply when the version type is external; the outbox "
                "event's id only grows. Deletes need it as much as index actions.",
            ),
            solution=solutions.solution_2,
            explain="external versions let Elasticsearch itself refuse stale writes, so the relay needs no ordering",
        ),
        Exercise(
            3,
            "Trigram similarity",
            minutes=6,
            checker=_check_3,
            hints=(
                "A word's trigrams are every run of 3 characters of the lower-cased word padded with two "
                "spaces in front and one behind.",
                "The similarity of two words is the number of trigrams they share divided by the number of "
                "distinct trigrams of both together: sets, not lists.",
            ),
            solution=solutions.solution_3,
            explain="the typo tolerance ranks candidate words by exactly this number, computed in the database",
        ),
    ],
)
check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal
