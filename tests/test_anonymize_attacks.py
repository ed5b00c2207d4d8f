"""Red team, blue team: prosecutor vs journalist on a voter roll with non-customers, the
Netflix attack, and what noise on dates and detached authors do to it."""

from __future__ import annotations

import datetime

import pytest

from workshop.anonymize import alias, attacks, build, measure
from workshop.anonymize.measure import Generalization

pytestmark = pytest.mark.django_db
KEY = b"a" * 32
RED = alias.use_copy("anon_red")  # before the test database is set up, so a test may list it


def test_without_non_customers_the_journalist_is_the_prosecutor():
    g = Generalization("year", 3)
    alone = attacks.voter_roll_attack("public", g, non_customers_per_customer=0)
    assert alone.population == alone.records == 400
    assert alone.sample_unique == alone.population_unique == measure.k_anonymity(g).unique_records
    assert alone.journalist_claims == alone.journalist_correct == alone.sample_unique
    assert alone.prosecutor_risk == pytest.approx(alone.journalist_risk)


def test_non_customers_protect_against_the_journalist_only():
    g = Generalization("year", 3)
    town = attacks.voter_roll_attack("public", g, non_customers_per_customer=3)
    assert town.population == 4 * town.records
    assert town.sample_unique == measure.k_anonymity(g).unique_records  # the prosecutor's count is unchanged
    assert town.population_unique < town.sample_unique  # look-alikes share some classes
    assert town.journalist_risk < town.prosecutor_risk
    assert town.journalist_correct == town.sample_unique  # each unique record has its one true voter...
    assert town.journalist_claims > town.journalist_correct  # ...and non-customers claimed wrongly
    assert 0 < town.journalist_precision < 1
    assert list(town.table().columns)[0].startswith("prosecutor")


@pytest.fixture(scope="module")
def copies(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        build(target="anon_red", key=KEY, progress=False)
        build(attacks.tightened_rules(90), target="anon_blue", key=KEY, progress=False)
        yield


def test_netflix_attack_red_then_blue(copies):
    red = attacks.netflix_attack("anon_red", window_days=14)
    assert red.targets >= 3 and red.correct == red.targets  # dates and products kept: everyone found
    blue_naive = attacks.netflix_attack("anon_blue", window_days=14)
    assert blue_naive.correct < red.correct  # dates moved by up to 90 days fall out of a ±14-day window
    blue_informed = attacks.netflix_attack("anon_blue", window_days=14 + 90)
    assert blue_informed.correct >= blue_naive.correct  # an attacker who knows the rules widens the window
    assert attacks.reviews_per_month_error("anon_blue") > attacks.reviews_per_month_error("anon_red") == 0
    moved = attacks.detach_reviews("anon_blue", key=KEY)
    assert moved == 200
    detached = attacks.netflix_attack("anon_blue", window_days=14 + 90)
    assert detached.correct < max(1, blue_informed.correct)


@pytest.mark.django_db(databases=["default", RED])
def test_the_orm_attack_finds_what_the_sql_attack_finds(copies):
    from django.db import connections
    from django.db.models import Count

    from workshop.shop.models import Review

    name = alias.use_copy("anon_red")
    target = (
        Review.objects.values("customer_id")
        .annotate(n=Count("id"))
        .filter(n__gte=3)
        .order_by("customer_id")[0]["customer_id"]
    )
    clues = [
        (r.product_id, r.created_at.date() + datetime.timedelta(days=3))
        for r in Review.objects.filter(customer_id=target).order_by("id")[:3]
    ]
    found = list(attacks.find_by_reviews(clues, using=name).values_list("id", flat=True))
    assert found == [target]
    connections[name].close()
