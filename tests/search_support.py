"""Fixtures shared by the search tests that need committed data (a relay in another
connection or process must see it): they write outside pytest-django's transaction and
undo everything they did at the end (rows, triggers, outbox, indexes)."""

from __future__ import annotations

import uuid

import pytest

SKU_PREFIX = "ST-"


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access with autocommit for one test; cleans up after it.

    pytest-django creates the test database only when a collected test has the django_db
    mark; each module using this fixture has one (see `test_..._in_one_transaction`)."""
    with django_db_blocker.unblock():
        from django.db import connection

        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail(
                "no test database: select at least one @pytest.mark.django_db test of this module too "
                f"(else this would write to {connection.settings_dict['NAME']!r})"
            )
        from workshop.search import outbox, pg, signals

        yield
        signals.disconnect()
        outbox.stop()
        from workshop.shop.models import Product

        Product.objects.filter(sku__startswith=SKU_PREFIX).delete()
        outbox.uninstall()
        pg.uninstall()
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("DELETE FROM search_outboxevent")
            cur.execute("DELETE FROM search_productvector")
            cur.execute("DELETE FROM search_reviewvector")


@pytest.fixture
def prefix(es, committed):
    """Index names of this test: the test database's name first, then a random part."""
    from django.db import connection

    from workshop.search import es as es_side

    name = es_side.prefix_for(connection.settings_dict["NAME"], f"t{uuid.uuid4().hex[:8]}")
    es_side.ensure_indexes(es, name)
    yield name
    es_side.drop_indexes(es, name)


@pytest.fixture
def installed(committed):
    """The outbox triggers, an empty dead-letter table, and every current row queued once
    (for the test's fresh indexes)."""
    from django.db import connection

    from workshop.search import outbox

    outbox.install(backfill=False)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM search_outboxevent")
        cur.execute("DELETE FROM search_deadletter")
    outbox.queue_all()
    yield
    with connection.cursor() as cur:
        cur.execute("DELETE FROM search_deadletter")


def es_url(es) -> str:
    return str(es.transport.node_pool.get().base_url)


def make_product(title: str, description: str = "plain", **fields):
    from workshop.shop.models import Category, Product

    values = {
        "sku": f"{SKU_PREFIX}{uuid.uuid4().hex[:12]}",
        "title": title,
        "description": description,
        "brand": "Teststore",
        "category": Category.objects.order_by("pk").first(),
        "price": 10,
        "stock": 1,
        "created_at": "2024-01-01T00:00:00Z",
        **fields,
    }
    return Product.objects.create(**values)
