"""The chapter's custom QuerySet (`Shopper.objects...`): each method gives what the same rule
computed in Python over the rows gives, in one query, and the methods chain."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from workshop.queries.inspector import record_queries
from workshop.queries.models import Shopper
from workshop.shop.models import Customer, OrderItem

pytestmark = pytest.mark.django_db
COUNTED = ("paid", "shipped", "delivered")


def _spend_in_python() -> dict[int, Decimal]:
    spend = {c: Decimal("0") for c in Customer.objects.values_list("id", flat=True)}
    for customer, quantity, price in OrderItem.objects.filter(order__status__in=COUNTED).values_list(
        "order__customer_id", "quantity", "unit_price"
    ):
        spend[customer] += quantity * price
    return spend


def test_spend_is_the_counted_orders_total_and_zero_without():
    expected = _spend_in_python()
    with record_queries() as log:
        got = dict(Shopper.objects.with_spend().values_list("id", "spend"))
    assert log.count == 1 and got == expected and Decimal("0") in got.values()


def test_big_spenders_chain_with_other_methods():
    threshold = sorted(_spend_in_python().values())[-10]  # the top ten (ties included)
    rows = list(Shopper.objects.big_spenders(at_least=threshold).with_short_name().values("id", "spend", "short_name"))
    assert len(rows) >= 10 and all(r["spend"] >= threshold for r in rows)
    assert [r["spend"] for r in rows] == sorted((r["spend"] for r in rows), reverse=True)


def test_active_since_repeats_no_customer():
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    ids = list(Shopper.objects.active_since(since).values_list("id", flat=True))
    assert ids and len(ids) == len(set(ids))
    assert set(ids) == set(Customer.objects.filter(orders__created_at__gte=since).values_list("id", flat=True))


def test_short_name_and_phone_digits_match_the_rule_in_python():
    for row in (
        Shopper.objects.with_short_name()
        .with_phone_digits()
        .values("first_name", "last_name", "phone", "short_name", "phone_digits")
    ):
        assert row["short_name"] == f"{row['first_name'][0].upper()}. {row['last_name']}"
        assert row["phone_digits"] == re.sub(r"[-\s.()+]", "", row["phone"])


def test_email_duplicates_differing_by_case():
    assert not Shopper.objects.email_duplicates().exists()
    original = Customer.objects.order_by("id").first()
    twin = Customer.objects.get(pk=original.pk)
    twin.pk, twin.email, twin.national_id = None, original.email.upper(), "X" + original.national_id[1:]
    twin.save()
    (row,) = Shopper.objects.email_duplicates()
    assert row == {"email_key": original.email.lower(), "accounts": 2}


def test_the_chapters_reset_never_empties_the_table_behind_the_proxy():
    """Shopper is a proxy of shop.Customer: emptying the queries app's tables must not touch
    shop_customer (the proxy reports it as its table)."""
    from workshop.lessons.app_tables import truncate_app

    before = Customer.objects.count()
    emptied = truncate_app("queries")
    assert "shop_customer" not in emptied and Customer.objects.count() == before > 0
