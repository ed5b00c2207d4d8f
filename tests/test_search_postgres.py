"""The postgres backend on the tiny dataset: relevance, chaining with ORM filters, facets,
highlights, typo tolerance without pg_trgm, transactions, hostile input. Every test runs in
pytest-django's transaction, so the triggers it installs roll back with it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from workshop.search import api, pg
from workshop.shop.models import Category, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed():
    pg.install()


def test_no_contrib_extension_is_needed(installed):
    with connection.cursor() as cur:
        cur.execute("SELECT extname FROM pg_extension WHERE extname IN ('pg_trgm', 'unaccent', 'fuzzystrmatch')")
        assert cur.fetchall() == []  # typo tolerance works without them


def make(title: str, description: str = "plain", sku: str | None = None) -> Product:
    return Product.objects.create(
        sku=sku or f"ST-{abs(hash(title)) % 10**9}",
        title=title,
        description=description,
        brand="Teststore",
        category=Category.objects.order_by("pk").first(),
        price=10,
        stock=1,
        created_at="2024-01-01T00:00:00Z",
    )


def test_title_matches_rank_above_description_matches(installed):
    in_title = make("Zorblax desk lamp")
    in_description = make("Desk lamp", "a lamp that glows like a zorblax at night, zorblax zorblax")
    elsewhere = make("Desk lamp without it")
    qs = api.products().search("zorblax")
    assert list(qs) == [in_title, in_description]
    assert in_title.pk in qs.ids() and elsewhere.pk not in qs.ids()
    assert qs[0].score > qs[1].score > 0
    # stemming (the english configuration): the plural finds the singular
    assert api.products().search("zorblaxes").ids() == {in_title.pk, in_description.pk}


def test_chaining_with_orm_filters_and_facets(installed):
    qs = api.products().search("lamp OR glass OR steel")
    lighting = qs.filter(category__name="Lighting")
    assert lighting.ids() == {p.pk for p in qs if p.category.name == "Lighting"}
    assert qs.facets()["Lighting"] == lighting.count()
    assert sum(qs.facets().values()) == qs.count()
    cheap = qs.filter(price__lt=50)
    assert all(p.price < 50 for p in cheap) and cheap.count() < qs.count()


def test_phrases_and_exclusions(installed):
    frosted = make("Quuxlight lamp, frosted glass shade")
    clear = make("Quuxlight lamp", "the glass is clear and not frosted")
    plain = make("Quuxlight lamp in oak")
    assert api.products().search("quuxlight glass").ids() == {frosted.pk, clear.pk}
    assert api.products().search("quuxlight -glass").ids() == {plain.pk}
    assert api.products().search('quuxlight "frosted glass"').ids() == {frosted.pk}  # words in this order
    assert api.products().search('quuxlight -"frosted glass"').ids() == {clear.pk, plain.pk}
    assert api.products().search("quuxlight oak OR frosted").ids() == {frosted.pk, clear.pk, plain.pk}


def test_highlights_mark_the_matched_words_and_escape_the_rest(installed):
    rows = api.products().search("lamp").results(5)
    assert rows
    for row in rows:
        marked = " ".join(row["highlights"].values())
        assert "<mark>" in marked.lower()
        assert "<mark>lamp" in marked.lower()
    product = Product.objects.get(pk=rows[0]["id"])
    Product.objects.filter(pk=product.pk).update(title=product.title + " <script>alert(1)</script> lamp")
    row = api.products().search("lamp").filter(pk=product.pk).results(1)[0]
    assert "<script>" not in row["highlights"]["title"]  # dropped by ts_headline or escaped, never markup


def test_a_typo_finds_the_word_it_meant(installed):
    product = make("Marmalade jar", "a jar for marmalade")
    pg.refresh_vocabulary()
    for typo in ("mramalade", "marmelade", "marmlade"):  # swapped, wrong, missing letter
        assert product.pk not in api.products().search(typo).ids()
        fuzzy = api.products().search(typo, fuzzy=True)
        assert fuzzy.search_state.corrections == {typo: "marmalade"}
        assert product.pk in fuzzy.ids()
    assert api.products().search("marmalade", fuzzy=True).search_state.corrections == {}  # known words stay


def test_short_words_with_swapped_letters_are_corrected_by_edit_distance(installed):
    lamp = make("Zinc lamp")
    pg.refresh_vocabulary()
    fuzzy = api.products().search("lmap zicn", fuzzy=True)  # share 1 trigram of 9 with the words meant
    assert fuzzy.search_state.corrections == {"lmap": "lamp", "zicn": "zinc"}
    assert lamp.pk in fuzzy.ids()
    assert pg.edit_distance("lmap", "lamp") == 1 and pg.edit_distance("lamp", "lamps") == 1
    assert pg.edit_distance("kitten", "sitting") == 3


def test_trigram_similarity_in_plain_sql_matches_pg_trgm_definition(installed):
    with connection.cursor() as cur:
        cur.execute("SELECT search_trigrams('word')")
        assert sorted(cur.fetchone()[0]) == sorted(["  w", " wo", "wor", "ord", "rd "])
        cur.execute("SELECT search_similarity(search_trigrams('lamp'), search_trigrams('lamps'))")
        # lamp: 5 trigrams, lamps: 6, shared 4 ("  l", " la", "lam", "amp") -> 4 / 7
        assert cur.fetchone()[0] == pytest.approx(4 / 7)


def test_a_rolled_back_write_is_never_searchable_and_a_committed_one_is_at_once(installed):
    try:
        with transaction.atomic():
            make("Zyxwvut rollback lamp", "gone")
            assert api.products().search("zyxwvut").count() == 1  # visible inside its transaction
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert api.products().search("zyxwvut").count() == 0
    created = make("Qwertyuio lamp", "here")
    assert api.products().search("qwertyuio").ids() == {created.pk}
    created.title = "Asdfghjk lamp"
    created.save()
    assert not api.products().search("qwertyuio").exists()
    assert api.products().search("asdfghjk").ids() == {created.pk}
    created.delete()
    assert not api.products().search("asdfghjk").exists()


@pytest.mark.parametrize(
    "hostile",
    [
        "'; DROP TABLE shop_product; --",
        "lamp') OR 1=1 --",
        "lamp & !glass | x:*",
        "lamp <-> glass",
        "\"lamp' || pg_sleep(5) || '\"",
    ],
)
def test_hostile_strings_reach_postgresql_only_as_parameters(installed, hostile, django_assert_max_num_queries):
    from workshop.search.query import QueryError

    before = Product.objects.count()
    try:
        qs = api.products().search(hostile, fuzzy=True)
        list(qs)
    except QueryError:
        return
    sql, params = qs.query.sql_with_params()
    assert "DROP" not in sql and "pg_sleep" not in sql and "1=1" not in sql  # the words are parameters
    assert Product.objects.count() == before


def test_search_before_install_says_what_to_run():
    from workshop.errors import WorkshopError

    pg.uninstall()
    with pytest.raises(WorkshopError, match=r'search\.install\("postgres"\)'):
        api.products().search("lamp")


def test_an_unknown_backend_is_named():
    from workshop.errors import WorkshopError

    with pytest.raises(WorkshopError, match="Choose one of postgres, outbox, signals, zombodb"):
        api.products().search("lamp", backend="solr")


def test_reviews_search_with_category_facets(installed):
    qs = api.reviews().search("great OR perfect")
    assert qs.exists()
    facets = qs.facets()
    assert sum(facets.values()) == qs.count()
    assert set(facets) <= set(Category.objects.values_list("name", flat=True))
