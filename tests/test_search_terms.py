"""Search terms composed like Django's Q objects, S("lamp") | S("light") & ~S(...): the same
rows as the typed query, OR distributed correctly over AND, and one-line errors for what the
query language cannot say."""

from __future__ import annotations

import re

import pytest

from workshop.search import QueryError, S, api, parse, pg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def installed():
    pg.install()


def _pks(query) -> set[int]:
    return set(api.products().search(query).values_list("pk", flat=True))


def test_a_composed_search_finds_what_the_typed_one_finds():
    composed = (S("lamp") | S("light")) & ~S("desk")
    assert str(composed) == "lamp OR light -desk"
    assert list(api.products().search(composed).values_list("pk", flat=True)) == list(
        api.products().search("lamp OR light -desk").values_list("pk", flat=True)
    )
    assert _pks(composed)


def _words(title: str) -> list[str]:
    return re.findall(r"[a-z]{4,}", title.lower())


def test_or_of_and_is_the_union_of_both_searches():
    from workshop.shop.models import Product

    first, *others = Product.objects.order_by("pk").values_list("title", flat=True)[:20]
    a, b = _words(first)[:2]
    c = next(w for title in others for w in _words(title) if w not in _words(first))
    both = _pks(S(f"{a} {b}") | S(c))
    assert both == _pks(f"{a} {b}") | _pks(c)
    assert _pks(f"{a} {b}") and _pks(c) - _pks(f"{a} {b}")  # each side adds rows of its own
    phrase = _pks(S(f'"{a} {b}"') | S(c))
    assert phrase == _pks(f'"{a} {b}"') | _pks(c)


def test_the_composed_query_reads_back_as_typed_text():
    composed = (S("a b") | S('"c d"')) & ~(S("e") | S("f"))
    assert parse(str(composed)).groups == composed.groups and parse(str(composed)).excluded == composed.excluded


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda: ~(S("lamp") & S("brass")), "can be excluded"),
        (lambda: (S("lamp") & ~S("desk")) | S("kettle"), "exclude words"),
        (lambda: api.products().search(~S("desk")), "only excludes words"),
        (lambda: S("lamp") & "desk", "not with str"),
        (lambda: S(" ".join(f"w{i}" for i in range(9))) | S(" ".join(f"v{i}" for i in range(9))), "more than"),
    ],
)
def test_what_the_language_cannot_say_is_one_line(make, says):
    with pytest.raises(QueryError, match=says) as raised:
        make()
    assert "\n" not in str(raised.value)
