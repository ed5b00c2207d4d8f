"""The privacy target: the lattice search on a hand-checkable fixture and against an
exhaustive count, the copy it builds recounted independently, the copy as a Django alias."""

from __future__ import annotations

import itertools

import pytest
from anonymize_support import PEOPLE

from workshop.anonymize import alias, db
from workshop.anonymize import target as T
from workshop.errors import WorkshopError

pytestmark = pytest.mark.django_db
# Registered before pytest-django sets the test database up (it then mirrors default), so a
# test may list it in its databases; use_copy() in the test points it at the copy again.
ALIAS = alias.use_copy("anon_alias")

KEY = b"k" * 32
QIS = ("birth_date", "zip_code", "gender")
# PEOPLE (six people: id, birth date, ZIP, gender). With k=2 and nothing suppressed the least lossy
# node is birth year + 4-digit ZIP without gender: {1, 2} and {3, 4, 5, 6}. Allowing one
# suppressed record, gender stays and person 6 (the only 1990 woman) is withheld.


@pytest.fixture
def people():
    with db.connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS tfix CASCADE; CREATE SCHEMA tfix")
        conn.execute("CREATE TABLE tfix.shop_customer (id int, birth_date date, zip_code text, gender text)")
        with conn.cursor().copy("COPY tfix.shop_customer FROM STDIN") as copy:
            for row in PEOPLE:
                copy.write_row(row)
    yield "tfix"
    with db.connect() as conn:
        conn.execute("DROP SCHEMA tfix CASCADE")


def test_search_by_hand(people):
    strict = T.search(T.Target(k=2, quasi_identifiers=QIS, max_suppressed=0), schema=people)
    assert strict.describe() == "birth_date year, zip_code 4 digits, gender hidden"
    assert (strict.suppressed_ids, strict.k_reached, strict.classes) == ([], 2, 2)
    lenient = T.search(T.Target(k=2, quasi_identifiers=QIS, max_suppressed=0.2), schema=people)
    assert lenient.describe() == "birth_date year, zip_code 4 digits, gender kept"
    assert lenient.suppressed_ids == [6]
    assert lenient.evaluated < lenient.nodes  # monotonicity spared some counts


@pytest.mark.parametrize("k,l", [(3, 1), (5, 1), (2, 2)])
def test_search_finds_the_least_lossy_node_an_exhaustive_count_finds(k, l):  # noqa: E741
    target = T.Target(k=k, l=l, sensitive="top_category" if l > 1 else None, max_suppressed=0.03)
    found = T.search(target)
    ids, codes, sensitive = T.load_codes(target)
    every = T.Evaluator(target, codes, sensitive)
    limit = int(target.max_suppressed * len(ids))
    meeting = [
        n
        for n in itertools.product(*(range(len(T.LEVELS[q])) for q in target.quasi_identifiers))
        if every.violating(n).sum() <= limit
    ]
    assert found.information_loss == pytest.approx(min(T.information_loss(target, n) for n in meeting))
    assert found.chosen in meeting
    assert len(found.suppressed_ids) <= limit


@pytest.mark.parametrize("l,dense", [(1, True), (1, False), (2, True), (2, False)])  # noqa: E741
def test_roll_up_counts_every_node_as_the_records_do(l, dense, monkeypatch):  # noqa: E741
    """The search counts coarser nodes from finer nodes' class sizes; in any order (so from
    whichever sources happen to be cached), with or without the dense-key shortcut, every
    node's count equals a count on the records themselves."""
    import random

    if not dense:
        monkeypatch.setattr(T.RollUp, "DENSE", 0)
    target = T.Target(k=4, l=l, sensitive="top_category" if l > 1 else None)
    _ids, codes, sensitive = T.load_codes(target)
    by_records = T.Evaluator(target, codes, sensitive)
    rolled = T.RollUp(target, codes, sensitive)
    nodes = list(itertools.product(*(range(len(T.LEVELS[q])) for q in target.quasi_identifiers)))
    random.Random(7).shuffle(nodes)
    counts = {n: rolled.violating_count(n) for n in nodes}
    assert len(rolled.tables) > 1  # some nodes were counted from a finer node's table
    assert counts == {n: int(by_records.violating(n).sum()) for n in nodes}
    assert len(set(counts.values())) > 3  # the nodes differ: the comparison can fail


def test_the_copy_meets_the_target_recounted_on_its_own_values():
    goal = T.Target(k=4, max_suppressed=0.05)
    report = T.build_to_target(goal, schema="anon_target", key=KEY)
    assert T.recount(goal, "anon_target") >= 4
    with db.connect() as conn:
        kept = conn.execute("SELECT count(*) FROM anon_target.shop_customer").fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM anon_target.shop_order o LEFT JOIN anon_target.shop_customer c "
            "ON c.id = o.customer_id WHERE c.id IS NULL"
        ).fetchone()[0]
        withheld = conn.execute(
            "SELECT count(*) FROM anon_target.shop_customer WHERE id = ANY(%s)", [report.search.suppressed_ids]
        ).fetchone()[0]
    assert kept == report.search.rows - len(report.search.suppressed_ids)
    assert (orphans, withheld) == (0, 0)
    assert report.search.suppressed_share <= 0.05
    assert set(report.utility["aggregate"]) == set(T.AGGREGATES)
    assert (report.utility["max relative error"] >= 0).all()
    assert "reached" in report._repr_html_()


@pytest.mark.django_db(databases=["default", ALIAS])
def test_the_copy_is_a_django_alias():
    from django.db import connections
    from django.db.models import Count

    from workshop.anonymize import build
    from workshop.shop.models import Customer

    build(
        {"shop.Customer": {"first_name": T.level_strategy("city", 1)}},
        target="anon_alias",
        key=KEY,
        progress=False,
        only=["shop.Customer"],
    )
    name = alias.use_copy("anon_alias")
    assert name == "anon_alias"
    assert set(Customer.objects.using(name).values_list("first_name", flat=True)) == {""}
    assert Customer.objects.using(name).count() == Customer.objects.count()
    assert alias.use_copy("anon_alias") == name  # idempotent
    sizes = Customer.objects.using(name).values("gender").annotate(n=Count("id"))
    assert sum(row["n"] for row in sizes) == Customer.objects.count()
    connections[name].close()  # or the test database cannot be dropped at the end


@pytest.mark.parametrize("bad", [{"k": 0}, {"l": 2}, {"quasi_identifiers": ("shoe_size",)}, {"max_suppressed": 1.5}])
def test_bad_targets_are_one_line_errors(bad):
    with pytest.raises(WorkshopError):
        T.Target(**bad)


def test_bad_alias_names_are_refused():
    for name in ("anon; DROP", "default", "Anon"):
        with pytest.raises(WorkshopError):
            alias.use_copy("anon", name) if name == "default" else alias.use_copy(name)


def test_the_search_starts_from_what_the_base_rules_already_write():
    """The shop's rules generalize the birth date to the year, keep 3 ZIP digits and blank the
    city: build_to_target never reports a node finer than the copy it writes."""
    from workshop.anonymize.shop_rules import shop_rules, shop_target

    goal = shop_target()
    floor = T.floor_levels(goal, shop_rules())
    assert floor == (1, 2, 0, 1, 0)
    found = T.search(goal, floor=floor)
    assert all(level >= low for level, low in zip(found.chosen, floor))
    assert "city kept" not in found.describe() and found.nodes == 4 * 4 * 2 * 1 * 2
    assert T.floor_levels(goal, {}) == (0, 0, 0, 0, 0)
