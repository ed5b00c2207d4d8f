"""build(subset=...): a partner's copy holds the rows a Django Q selects and every row that
depends on them, each foreign key pointing inside the copy, and it is anonymized like the
whole copy; the Q's values reach PostgreSQL as parameters."""

from __future__ import annotations

import pytest
from anonymize_support import drop, rows
from django.db.models import Q

from workshop.anonymize import build
from workshop.errors import WorkshopError

KEY = b"subset-test-key-0123456789ab"
pytestmark = pytest.mark.django_db

# Every foreign key of the shop, as (table, column, referenced table).
FOREIGN_KEYS = [
    ("shop_product", "category_id", "shop_category"),
    ("shop_order", "customer_id", "shop_customer"),
    ("shop_orderitem", "order_id", "shop_order"),
    ("shop_orderitem", "product_id", "shop_product"),
    ("shop_review", "product_id", "shop_product"),
    ("shop_review", "customer_id", "shop_customer"),
]


def count(query, params=None) -> int:
    return rows(query, params)[0][0]


def dangling(schema: str) -> dict:
    """Per foreign key, the rows of the copy whose key points at no row of the copy."""
    return {
        (table, column): count(
            f"SELECT count(*) FROM {schema}.{table} t LEFT JOIN {schema}.{ref} r ON r.id = t.{column} "
            f"WHERE t.{column} IS NOT NULL AND r.id IS NULL"
        )
        for table, column, ref in FOREIGN_KEYS
    }


@pytest.fixture(scope="module")
def partner(django_db_setup, django_db_blocker):
    """A copy for the customers of one state (the one with the fewest customers)."""
    with django_db_blocker.unblock():
        state = rows("SELECT state FROM public.shop_customer GROUP BY state ORDER BY count(*), state LIMIT 1")[0][0]
        try:
            build(subset={"shop.Customer": Q(state=state)}, target="anon_partner", key=KEY, progress=False)
            yield state
        finally:
            drop("anon_partner")


def test_the_root_keeps_the_rows_its_q_selects(partner):
    ids = {r[0] for r in rows("SELECT id FROM public.shop_customer WHERE state = %s", [partner])}
    assert 0 < len(ids) < count("SELECT count(*) FROM public.shop_customer")
    assert {r[0] for r in rows("SELECT id FROM anon_partner.shop_customer")} == ids


def test_dependent_rows_follow_and_the_rest_is_whole(partner):
    orders = (
        "SELECT o.id FROM public.shop_order o JOIN public.shop_customer c ON c.id = o.customer_id WHERE c.state = %s"
    )
    assert {r[0] for r in rows("SELECT id FROM anon_partner.shop_order")} == {r[0] for r in rows(orders, [partner])}
    items = f"SELECT count(*) FROM public.shop_orderitem WHERE order_id IN ({orders})"
    assert count("SELECT count(*) FROM anon_partner.shop_orderitem") == count(items, [partner]) > 0
    reviews = (
        "SELECT count(*) FROM public.shop_review r JOIN public.shop_customer c ON c.id = r.customer_id "
        "WHERE c.state = %s"
    )
    assert count("SELECT count(*) FROM anon_partner.shop_review") == count(reviews, [partner])
    for whole in ("shop_product", "shop_category"):  # they reference no customer: copied whole
        assert count(f"SELECT count(*) FROM anon_partner.{whole}") == count(f"SELECT count(*) FROM public.{whole}")


def test_every_foreign_key_points_inside_the_subset(partner):
    assert set(dangling("anon_partner").values()) == {0}


def test_the_subset_is_anonymized(partner):
    originals = rows(
        "SELECT c.email, c.last_name, c.national_id FROM public.shop_customer c WHERE c.state = %s ORDER BY id",
        [partner],
    )
    copied = rows("SELECT email, last_name, national_id FROM anon_partner.shop_customer ORDER BY id")
    assert len(copied) == len(originals)
    for original, copy in zip(originals, copied, strict=True):
        assert copy[0] != original[0] and copy[0].endswith("@example.com")
        assert copy[2] != original[2]
    assert not {c[1] for c in copied} & {o[1] for o in originals} - {None}  # fake names avoid real ones


def test_a_product_root_keeps_its_items_and_reviews_only():
    category = rows("SELECT id FROM public.shop_category ORDER BY id LIMIT 1")[0][0]
    try:
        build(subset={"shop.Product": Q(category_id=category)}, target="anon_products", key=KEY, progress=False)
        products = {r[0] for r in rows("SELECT id FROM public.shop_product WHERE category_id = %s", [category])}
        assert {r[0] for r in rows("SELECT id FROM anon_products.shop_product")} == products
        assert {r[0] for r in rows("SELECT DISTINCT product_id FROM anon_products.shop_review")} <= products
        assert count("SELECT count(*) FROM anon_products.shop_review") == count(
            "SELECT count(*) FROM public.shop_review WHERE product_id = ANY(%s)", [list(products)]
        )
        assert count("SELECT count(*) FROM anon_products.shop_customer") == count(
            "SELECT count(*) FROM public.shop_customer"
        )
        assert set(dangling("anon_products").values()) == {0}
    finally:
        drop("anon_products")


def test_a_hostile_value_is_a_parameter_not_sql():
    hostile = "x'); DROP TABLE shop_customer; --"
    before = count("SELECT count(*) FROM public.shop_customer")
    try:
        build(subset={"shop.Customer": Q(last_name=hostile)}, target="anon_hostile", key=KEY, progress=False)
        assert count("SELECT count(*) FROM anon_hostile.shop_customer") == 0
        assert count("SELECT count(*) FROM anon_hostile.shop_order") == 0
        assert count("SELECT count(*) FROM public.shop_customer") == before
    finally:
        drop("anon_hostile")


def test_an_empty_in_list_selects_nothing():
    try:
        build(subset={"shop.Customer": Q(pk__in=[])}, target="anon_empty", key=KEY, progress=False)
        assert count("SELECT count(*) FROM anon_empty.shop_customer") == 0
        assert count("SELECT count(*) FROM anon_empty.shop_review") == 0
    finally:
        drop("anon_empty")


@pytest.mark.parametrize(
    ("subset", "says"),
    [
        ({"shop.Customer": "state = 'CA'"}, "not a Q"),
        ({"shop.Nobody": Q(pk=1)}, "Unknown model"),
        ({"shop.Customer": Q(no_such_field=1)}, "cannot be compiled"),
        ({}, "non-empty"),
    ],
)
def test_a_bad_subset_is_one_line_and_writes_nothing(subset, says):
    with pytest.raises(WorkshopError, match=says):
        build(subset=subset, target="anon_bad", key=KEY, progress=False)
    assert not rows("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'anon_bad%%'")


def test_a_subset_of_a_table_left_out_is_refused():
    with pytest.raises(WorkshopError, match="not copied"):
        build(subset={"shop.Review": Q(pk=1)}, only=["shop.Customer"], target="anon_bad", key=KEY, progress=False)


def test_a_cycle_of_foreign_keys_through_a_restricted_table_is_refused():
    from workshop.anonymize.catalog import Constraint
    from workshop.anonymize.query import Query
    from workshop.anonymize.subset import Plan
    from workshop.shop.models import Customer

    def key(ref):
        return Constraint(name=f"to_{ref}", kind="f", columns=[f"{ref}_id"], ref_table=ref, ref_columns=["id"])

    cycle = {"a": [key("b")], "b": [key("a")], "c": [key("c")]}  # c refers to itself, restricted by nothing
    plan = Plan({"a": (Customer, Q(pk=1))}, cycle, "public")
    assert plan.restricted == {"a", "b"}
    assert plan.where("c", Query("public", "c", "id", b"k")) is None  # whole, and its own key is not followed
    with pytest.raises(WorkshopError, match="cycle of foreign keys"):
        plan.where("b", Query("public", "b", "id", b"k"))
