"""The shared dataset: deterministic, realistic, consistent, loaded atomically."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.models import Count, Max, Min

from workshop.errors import WorkshopError
from workshop.shop.data import generate, get_size, load
from workshop.shop.models import Customer, Dataset, Order, OrderItem, Product, Review


def generated(size: str, seed: int) -> dict[str, str]:
    gen = generate.ShopGenerator(get_size(size), seed)
    return {t.name: "".join(text for _n, text in t.chunks()) for t in gen.tables()}


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_people():
    first, again, other = generated("tiny", 7), generated("tiny", 7), generated("tiny", 8)
    assert first == again
    assert first["shop_customer"] != other["shop_customer"]
    assert first["shop_category"] == other["shop_category"]  # the catalog's categories are fixed


def test_unknown_size_is_one_line_naming_the_choices():
    with pytest.raises(WorkshopError, match="(?i)choose one of: tiny, workshop, bench"):
        get_size("huge")


@pytest.mark.django_db
def test_tiny_dataset_is_loaded_with_the_promised_sizes():
    spec = get_size("tiny")
    assert Customer.objects.count() == spec.customers
    assert Product.objects.count() == spec.products
    assert Order.objects.count() == spec.orders
    assert Review.objects.count() == spec.reviews
    items_per_order = OrderItem.objects.count() / spec.orders
    assert 1.8 < items_per_order < 3.0
    dataset = load.current()
    assert dataset.size == "tiny" and dataset.row_counts["shop_customer"] == spec.customers


@pytest.mark.django_db
def test_customers_look_real_and_unique_columns_are_unique():
    rows = list(
        Customer.objects.values("first_name", "email", "phone", "national_id", "zip_code", "gender", "birth_date")
    )
    assert len({r["email"] for r in rows}) == len(rows)
    assert len({r["national_id"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+", r["email"]) for r in rows)
    assert all(re.fullmatch(r"\(\d{3}\) 555-\d{4}", r["phone"]) for r in rows)
    assert all(re.fullmatch(r"9\d\d-\d\d-\d{4}", r["national_id"]) for r in rows)  # never-issued SSN area
    assert all(re.fullmatch(r"\d{5}", r["zip_code"]) for r in rows)
    assert {r["gender"] for r in rows} >= {"F", "M"}
    ages = Customer.objects.aggregate(oldest=Min("birth_date"), youngest=Max("birth_date"))
    assert ages["youngest"].year <= 2007 and ages["oldest"].year >= 1930
    assert len({r["first_name"] for r in rows}) > 100  # a vocabulary, not a handful of names


@pytest.mark.django_db
def test_products_and_reviews_read_like_text_not_lorem_ipsum():
    text = " ".join(Product.objects.values_list("description", flat=True)[:50])
    text += " ".join(Review.objects.values_list("body", flat=True)[:50])
    assert "lorem" not in text.lower() and "{" not in text
    assert len(set(Product.objects.values_list("title", flat=True))) > 0.9 * Product.objects.count()
    assert set(Review.objects.values_list("rating", flat=True)) == {1, 2, 3, 4, 5}


@pytest.mark.django_db
def test_relations_are_consistent_reviews_come_from_delivered_orders():
    review = Review.objects.select_related("customer", "product").first()
    assert OrderItem.objects.filter(
        order__customer=review.customer, product=review.product, order__status="delivered"
    ).exists()
    assert not Order.objects.annotate(n=Count("items")).filter(n=0).exists()
    with connection.cursor() as cursor:  # sequences continue after the loaded ids
        cursor.execute("SELECT nextval(pg_get_serial_sequence('shop_customer', 'id'))")
        assert cursor.fetchone()[0] > Customer.objects.aggregate(m=Max("id"))["m"]


@pytest.mark.django_db
def test_loading_again_is_a_no_op_and_force_reloads():
    assert load.load("tiny", progress=False).loaded is False
    result = load.load("tiny", progress=False, force=True)
    assert result.loaded and result.rows > get_size("tiny").customers
    assert Dataset.objects.count() == 1


@pytest.mark.django_db
def test_a_load_that_fails_half_way_leaves_the_previous_dataset_untouched(monkeypatch):
    before = (Customer.objects.count(), Order.objects.count(), load.current().seed)
    original = generate.ShopGenerator.orders

    def orders_then_crash(self):
        yield from original(self)
        raise RuntimeError("power cut")

    monkeypatch.setattr(generate.ShopGenerator, "orders", orders_then_crash)
    with pytest.raises(RuntimeError, match="power cut"):
        load.load("tiny", seed=999, progress=False)
    assert (Customer.objects.count(), Order.objects.count(), load.current().seed) == before


@pytest.mark.django_db
def test_a_load_puts_back_every_index_and_constraint_it_dropped_for_speed():
    from workshop.shop.data import constraints

    tables = [t.name for t in generate.ShopGenerator(get_size("tiny"), 1).tables()]
    with connection.cursor() as cursor:
        before = sorted(constraints._catalog(cursor, tables), key=lambda s: s.name)
        assert {s.kind for s in before} == {"index", "unique", "foreign key"}
        load.load("tiny", seed=5, progress=False)
        after = sorted(constraints._catalog(cursor, tables), key=lambda s: s.name)
    assert after == before
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError, match="foreign key"), transaction.atomic():  # enforced again
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's FKs are deferred
        Order.objects.create(customer_id=10**9, status="paid", created_at="2025-01-01T00:00:00Z")
