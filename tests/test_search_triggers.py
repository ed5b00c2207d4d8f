"""The triggers of both transactional backends (the tsvectors and the outbox): a category
renamed or a product moved to another category rebuilds every document that carries the
category, and an update of a column no document reads (stock) writes nothing. Every test
runs in pytest-django's transaction, so the triggers roll back with it."""

from __future__ import annotations

import pytest
from django.db import connection

from workshop.search import api, consistency, outbox, pg
from workshop.search.models import OutboxEvent
from workshop.shop.models import Category, Product, Review

pytestmark = pytest.mark.django_db


@pytest.fixture
def both():
    pg.install()
    outbox.install(backfill=False)
    OutboxEvent.objects.all().delete()


def events() -> list[tuple[str, int, str]]:
    return sorted((e.kind, e.object_id, e.payload["category"]) for e in OutboxEvent.objects.all())


def a_category_with_reviews() -> Category:
    return Category.objects.filter(products__reviews__isnull=False).order_by("pk").first()


def test_a_category_rename_reaches_the_vectors_and_the_outbox(both):
    category = a_category_with_reviews()
    products = set(category.products.values_list("pk", flat=True))
    reviews = set(Review.objects.filter(product__category=category).values_list("pk", flat=True))
    assert products and reviews
    Category.objects.filter(pk=category.pk).update(name="Zephyrware", slug="zephyrware")
    # postgres: the category is in the products' vectors (B) and the reviews' (C)
    assert api.products().search("zephyrware").ids() == products
    assert api.reviews().search("zephyrware").ids() == reviews
    assert consistency.compare_postgres().total == 0
    # outbox: one index event per document that carries the category, with the new name
    assert events() == sorted(
        [("product", p, "Zephyrware") for p in products] + [("review", r, "Zephyrware") for r in reviews]
    )
    assert all(e.payload["category_slug"] == "zephyrware" for e in OutboxEvent.objects.all())


def test_a_product_moved_to_another_category_takes_its_reviews_along(both):
    product = Product.objects.filter(reviews__isnull=False).order_by("pk").first()
    target = Category.objects.exclude(pk=product.category_id).order_by("pk").first()
    Category.objects.filter(pk=target.pk).update(name="Quorvalith")
    OutboxEvent.objects.all().delete()
    reviews = set(product.reviews.values_list("pk", flat=True))
    product.category = target
    product.save()
    assert api.products().search("quorvalith").filter(pk=product.pk).exists()
    assert reviews <= api.reviews().search("quorvalith").ids()
    assert consistency.compare_postgres().total == 0
    assert events() == sorted([("product", product.pk, "Quorvalith")] + [("review", r, "Quorvalith") for r in reviews])


def vector_ctid(product) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT ctid::text FROM search_productvector WHERE product_id = %s", [product.pk])
        return cur.fetchone()[0]


def test_an_update_of_columns_no_document_reads_writes_nothing(both):
    product = Product.objects.order_by("pk").first()
    vector_row = vector_ctid(product)
    product.stock += 1
    product.save()  # Django's save() sets every column: the values decide, not the SET list
    Product.objects.filter(pk=product.pk).update(stock=7, is_active=False)
    Category.objects.filter(pk=product.category_id).update(name=product.category.name)  # the same name
    assert OutboxEvent.objects.count() == 0
    assert vector_ctid(product) == vector_row  # the vector was not rewritten either (a new version moves)
    Product.objects.filter(pk=product.pk).update(price=product.price + 1)  # the document has the price
    assert [(e.kind, e.object_id) for e in OutboxEvent.objects.all()] == [("product", product.pk)]


def test_the_triggers_sit_on_the_category_table_too(both):
    tables = {(table, name) for table, name in pg.triggers()}
    assert {("shop_category", "search_vector_product_dep"), ("shop_category", "search_outbox_review_dep")} <= tables
    assert ("shop_product", "search_outbox_review_dep") in tables
    pg.uninstall()
    outbox.uninstall()
    assert pg.triggers() == []
