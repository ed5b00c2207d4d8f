# ruff: noqa: F811  (pytest fixtures imported from search_support are redefined as arguments)
"""Dual writes from signals, kept to show the problem: measured against the real node."""

from __future__ import annotations

import pytest
from django.db import transaction
from search_support import committed, make_product, prefix  # noqa: F401 (fixtures)

from workshop.search import consistency, signals
from workshop.search import es as es_side

pytestmark = pytest.mark.elasticsearch


@pytest.mark.django_db
def test_connecting_twice_keeps_one_handler_per_signal():
    """(Also the django_db test that makes pytest-django create the test database.)"""
    from django.db.models.signals import post_save

    from workshop.shop.models import Product

    before = len(post_save._live_receivers(Product)[0])
    signals.connect(object(), "unused")
    signals.connect(object(), "unused")
    try:
        assert len(post_save._live_receivers(Product)[0]) == before + 2  # its document, its reviews' category
    finally:
        signals.disconnect()
    assert len(post_save._live_receivers(Product)[0]) == before


def test_a_rolled_back_change_stays_searchable_and_an_outage_loses_changes(es, prefix):
    signals.connect(es, prefix)
    try:
        kept = make_product("Signalkept lamp")
        try:
            with transaction.atomic():
                kept.title = "Signalghost lamp"
                kept.save()
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        es.indices.refresh(index=f"{prefix}-product")
        kind = es_side.KINDS["product"]
        from workshop.search.query import parse

        assert es_side.search(es, prefix, kind, parse("signalghost"), size=5)["ids"] == [kept.pk]  # never committed
        lost_before = signals.lost()
        signals._state["es"] = es_side.client("http://127.0.0.1:9")  # the node does not answer
        kept.title = "Signallost lamp"
        kept.save()  # the shop's write succeeds; the handler swallows the error
        assert signals.lost() == lost_before + 1
        signals._state["es"] = es
        es.indices.refresh(index=f"{prefix}-product")
        assert es.get(index=f"{prefix}-product", id=kept.pk)["_source"]["title"] == "Signalghost lamp"
        from workshop.shop.models import Product

        Product.objects.filter(pk=kept.pk).update(title="Signalupdate lamp")  # no signal at all
        assert es.get(index=f"{prefix}-product", id=kept.pk)["_source"]["title"] == "Signalghost lamp"
        assert consistency.compare_elasticsearch(es, prefix).stale >= 1
    finally:
        signals.disconnect()


def test_a_category_rename_and_a_product_move_reach_the_signals_index(es, prefix):
    from workshop.shop.models import Category, Product

    category = Category.objects.filter(products__reviews__isnull=False).order_by("pk").first()
    product = Product.objects.filter(reviews__isnull=False).exclude(category=category).order_by("pk").first()
    old_name, old_category = category.name, product.category_id
    signals.connect(es, prefix)
    try:
        signals.index_all(es, prefix)
        category.name = "Signalrenamed"
        category.save()  # the documents of its products and of their reviews copy the name
        product.category = category
        product.save()  # the product's own handler sends it; its reviews follow the move
        es.indices.refresh(index=f"{prefix}-*")
        assert consistency.compare_elasticsearch(es, prefix).total == 0
        reviews = es.search(index=f"{prefix}-review", query={"term": {"product_id": product.pk}}, size=100)
        assert {h["_source"]["category"] for h in reviews["hits"]["hits"]} == {"Signalrenamed"}
    finally:
        signals.disconnect()
        Category.objects.filter(pk=category.pk).update(name=old_name)
        Product.objects.filter(pk=product.pk).update(category_id=old_category)
