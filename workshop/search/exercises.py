"""Three exercises that check themselves. Each check prints "correct" or "not yet: <hint>"
and returns True/False; it never raises on a wrong or missing answer. Solutions are in
workshop/search/solutions.py (look only after trying)."""

from __future__ import annotations

from workshop.django_setup import require_setup

require_setup()


def _verdict(problem: str | None) -> bool:
    print("correct" if problem is None else f"not yet: {problem}")
    return problem is None


# --- 1. chain a search with ORM filters -------------------------------------------------------


def expected_affordable_lighting():
    from workshop.search import api

    return api.products().search("lamp OR light").filter(category__name="Lighting", price__lt=100)


def check_affordable_lighting(qs) -> bool:
    """Exercise 1: the products matching `lamp OR light` (postgres backend), in the
    Lighting category, under 100, best first."""
    if qs is None or not hasattr(qs, "search_state"):
        return _verdict("return products().search(...) with .filter(...) chained after it")
    state = qs.search_state
    if state is None:
        return _verdict("the queryset has no search: start from products().search('lamp OR light')")
    if state.backend != "postgres":
        return _verdict("use the postgres backend (it runs everywhere)")
    expected = list(expected_affordable_lighting().values_list("pk", flat=True))
    got = list(qs.values_list("pk", flat=True))
    if set(got) != set(expected):
        return _verdict(f"{len(got)} rows instead of {len(expected)}: filter on category__name and price__lt")
    if got != expected:
        return _verdict("same rows, other order: keep the search's ordering (best score first)")
    return _verdict(None)


# --- 2. the outbox relay's bulk action ---------------------------------------------------------


def check_bulk_action(action_for) -> bool:
    """Exercise 2: action_for(event_id, kind, object_id, op, payload, prefix) -> the bulk
    action that makes replays and out-of-order batches harmless."""
    if not callable(action_for):
        return _verdict("define a function action_for(event_id, kind, object_id, op, payload, prefix)")
    try:
        index = action_for(41, "product", 7, "index", {"title": "Lamp"}, "p")
        delete = action_for(42, "product", 7, "delete", None, "p")
    except Exception as exc:  # noqa: BLE001 (an exercise: show the problem, do not crash)
        return _verdict(f"it raised {type(exc).__name__}: {exc}")
    if not isinstance(index, dict) or not isinstance(delete, dict):
        return _verdict("return a dict per event, as elasticsearch.helpers.bulk takes them")
    if index.get("_index") != "p-product" or str(index.get("_id")) != "7":
        return _verdict("the document id is the row's id (idempotent), the index is f'{prefix}-{kind}'")
    if index.get("version_type") != "external" or index.get("version") != 41:
        return _verdict("give the event id as an external version: Elasticsearch then refuses anything older")
    if index.get("_op_type", "index") != "index" or (index.get("_source") or {}).get("title") != "Lamp":
        return _verdict("an index event sends its payload as _source")
    if delete.get("_op_type") != "delete" or delete.get("version") != 42 or delete.get("version_type") != "external":
        return _verdict("a delete is versioned too, or an older index event could bring the document back")
    return _verdict(None)


# --- 3. trigram similarity -----------------------------------------------------------------


WORD_PAIRS = [
    ("lamp", "lamps"),
    ("headphones", "headphnes"),
    ("skillet", "skilet"),
    ("kettle", "kettlebell"),
    ("glass", "grass"),
    ("tent", "tint"),
    ("a", "b"),
]


def check_similarity(similarity) -> bool:
    """Exercise 3: similarity(a, b) in Python, equal to the SQL search_similarity on
    search_trigrams (pg_trgm's definition: padded trigrams, shared / all)."""
    from django.db import connection

    from workshop.search import pg

    if not callable(similarity):
        return _verdict("define a function similarity(a, b) -> float")
    pg.install()
    with connection.cursor() as cur:
        for a, b in WORD_PAIRS:
            cur.execute("SELECT search_similarity(search_trigrams(%s), search_trigrams(%s))", [a, b])
            expected = cur.fetchone()[0]
            try:
                got = similarity(a, b)
            except Exception as exc:  # noqa: BLE001
                return _verdict(f"similarity({a!r}, {b!r}) raised {type(exc).__name__}: {exc}")
            if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
                return _verdict(
                    f"similarity({a!r}, {b!r}) = {got!r}, expected {expected:.4f}: pad the word as "
                    f"'  ' + word + ' ', take every 3 characters, |A & B| / |A | B|"
                )
    return _verdict(None)
