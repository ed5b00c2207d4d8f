"""Chapter 02's exercises: each solution passes, the placeholder fails, and every lazy answer a
learner would try fails with a sentence (issue 21's trivial answers included); and the
free-text leak detector the planted-leaks exercise relies on."""

from __future__ import annotations

import datetime
import itertools
import re

import pytest

from tests.lessons_support import assert_exercise
from workshop.anonymize import alias, build, db, exercises, measure, solutions
from workshop.anonymize.measure import Generalization
from workshop.anonymize.shop_rules import shop_rules
from workshop.anonymize.strategies import Shuffle, Suppress
from workshop.anonymize.target import merge_rules
from workshop.lessons import PLACEHOLDER

pytestmark = pytest.mark.django_db
KEY = b"e" * 32
COPY = alias.use_copy("anon")  # registered before the test database is set up (see test_anonymize_target)
EXERCISES = exercises.EXERCISES
# Section 1's ladder: the worked examples a learner sees just above the exercise.
LADDER = [
    Generalization("date", 5),
    Generalization("year", 5),
    Generalization("year", 3),
    Generalization("10 years", 3),
    Generalization("10 years", 1),
]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", KEY.decode())


def _message(number, answer):
    verdict = EXERCISES[number].judge(answer)
    assert not verdict.ok, answer
    return verdict.message


def test_exercise_1():
    assert_exercise(
        EXERCISES,
        1,
        [
            ("None", lambda: None),
            ("a level's name", lambda: "year"),
            ("nothing generalized", lambda: Generalization()),
            ("everything hidden", lambda: Generalization("hidden", 0, gender=False)),
            *((f"section 1's {g.describe()}", lambda g=g: g) for g in LADDER),
        ],
    )
    assert "coarser than needed" in _message(1, Generalization("hidden", 0, gender=False))


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield exercises.plant_leaks()


def test_exercise_4(planted):
    assert planted >= 4
    assert_exercise(
        EXERCISES,
        4,
        [
            ("None", lambda: None),
            ("no rules", lambda: {}),
            ("the shop's rules as they are", shop_rules),
            ("only the new rule", lambda: {"shop.Review": {"body": Suppress()}}),
            ("the bodies shuffled", lambda: merge_rules(shop_rules(), {"shop.Review": {"body": Shuffle()}})),
            ("a list of rules", lambda: [shop_rules()]),
            # What the free-text verdict of the answer above named, blanked: names, phones and
            # national ids would still be copied as they are.
            ("the body and the columns the scan named, blanked", lambda: _blank_what_the_scan_named()),
            ("the body blanked, the names shuffled", lambda: _shop_rules_with({"first_name": Shuffle()})),
            ("the body blanked, the birth dates kept", lambda: _shop_rules_without("birth_date")),
        ],
    )
    assert "still in the copy's free text (shop_review.body)" in _message(4, shop_rules())
    only_new = _message(4, {"shop.Review": {"body": Suppress()}})
    assert "shop.Customer.first_name as it is" in only_new and "shop_rules()" in only_new
    assert "keep the shop's rule" in _message(4, _shop_rules_with({"first_name": Shuffle()}))


def _blank_what_the_scan_named():
    return {
        "shop.Review": {"body": Suppress()},
        "shop.Customer": {"email": shop_rules()["shop.Customer"]["email"], "street_address": Suppress()},
    }


def _shop_rules_with(customer_rules):
    return merge_rules(shop_rules(), {"shop.Review": {"body": Suppress()}, "shop.Customer": customer_rules})


def _shop_rules_without(field):
    rules = _shop_rules_with({})
    del rules["shop.Customer"][field]
    return rules


def test_exercise_4_without_the_planting_cell_says_which_cell_to_run(planted):
    with db.connect() as conn:
        conn.execute("DROP SCHEMA planted CASCADE")
    try:
        message = _message(4, solutions.solution_4())
        assert "exercises.plant_leaks()" in message and "setup" not in message
    finally:
        exercises.plant_leaks()


def test_a_fake_street_address_is_not_a_leaked_name(planted):
    """Fake street addresses come from the same Faker vocabulary as the customers' names: at
    the room's 100,000 customers some match a "First Last" by chance (issue 21: 309 of them).
    Here one customer is given the name a fake address of the copy holds."""
    build(target="anon_ex2", source="planted", progress=False)
    _name_a_customer_after("anon_ex2", "min")  # a fake address of the copy
    _name_a_customer_after("planted", "max")  # a real (source) address, for the copy that keeps it
    found = measure.free_text_leaks("anon_ex2", source="planted")
    assert "shop_customer.street_address" not in set(found["found in"])
    assert "shop_review.body" in set(found["found in"])  # the planted names and emails still are
    # A column copied as it is stays scanned: with only the names faked, the addresses are the source's.
    build(shop_rules_without_street(), target="anon_ex2", source="planted", progress=False)
    kept = measure.free_text_leaks("anon_ex2", source="planted", rules=shop_rules_without_street())
    assert "shop_customer.street_address" in set(kept["found in"])
    assert EXERCISES[4].judge(solutions.solution_4()).ok


def _name_a_customer_after(schema, which):
    """Give one source customer the "First Last" that a street address in `schema` holds."""
    with db.connect() as conn:
        streets = [s for (s,) in conn.execute(f"SELECT street_address FROM {schema}.shop_customer ORDER BY id")]
        first, last = next(m.groups() for s in streets for m in [re.search(r"([A-Z][a-z]+) ([A-Z][a-z'-]+)", s)] if m)
        conn.execute(
            "UPDATE planted.shop_customer SET first_name = %s, last_name = %s "
            f"WHERE id = (SELECT {which}(id) FROM planted.shop_customer)",
            [first, last],
        )


def shop_rules_without_street():
    rules = shop_rules()
    del rules["shop.Customer"]["street_address"]
    return rules


def test_exercise_2():
    assert_exercise(
        EXERCISES,
        2,
        [
            ("None", lambda: None),
            ("no recipient", set),
            ("every recipient", lambda: set(exercises.RECIPIENTS)),
            ("the old single answer 'b'", lambda: "b"),
            ("only the contractor with the voter roll", lambda: {"b"}),
            ("everyone without the key", lambda: {"b", "c", "d"}),
            ("only the key holder", lambda: {"a"}),
            ("a list of every letter", lambda: list(exercises.RECIPIENTS)),
            ("a letter that is not offered", lambda: {"a", "e"}),
            ("the letters as one string", lambda: "abd"),
        ],
    )
    listed = EXERCISES[2].judge(["B", "c"])  # a list gets a verdict, never a TypeError
    assert not listed.ok and "left out" in listed.message
    assert EXERCISES[2].judge(sorted(solutions.solution_2())).ok


def test_exercise_2_verdicts_say_which_way_an_answer_errs_never_which_recipient():
    """Issue 21: each wrong letter explained why, so reading the verdicts was enough. Now every
    one of the 15 wrong sets gets one of two sentences: something left out, or something counted."""
    letters = sorted(exercises.RECIPIENTS)
    every_set = [set(itertools.compress(letters, bits)) for bits in itertools.product((0, 1), repeat=len(letters))]
    verdicts = {frozenset(s): EXERCISES[2].judge(s) for s in every_set}
    assert sum(v.ok for v in verdicts.values()) == 1
    wrong = {v.message for v in verdicts.values() if not v.ok}
    assert len(wrong) == 2 and not any(re.search(r"\d+ of the", m) for m in wrong)


@pytest.mark.django_db(databases=["default", COPY])
def test_exercise_3():
    from django.db import connections

    from workshop.shop.models import Customer, Order

    build(target="anon", progress=False)
    assert not hasattr(exercises, "netflix_target")  # the id is no public helper's return value
    clues = exercises.netflix_clues()
    assert len(clues) == 3 and all(isinstance(c, exercises.Clue) for c in clues)
    target, _ = exercises._netflix_target()
    week = datetime.timedelta(days=7)

    def all_in_one_filter():  # the three conditions on the same review: nobody
        from django.db.models import Q

        same_review = Q()
        for clue in clues:
            same_review &= Q(
                reviews__product_id=clue.product_id,
                reviews__created_at__date__range=(clue.around - week, clue.around + week),
            )
        return Order.objects.using(COPY).filter(customer__in=Customer.objects.using(COPY).filter(same_review))

    assert_exercise(
        EXERCISES,
        3,
        [
            ("None", lambda: None),
            ("the customer's id", lambda: target),
            ("every order of the copy", lambda: Order.objects.using(COPY).all()),
            ("no order", lambda: Order.objects.using(COPY).none()),
            ("the source's orders of that customer", lambda: Order.objects.filter(customer_id=target)),
            ("the customer, not the orders", lambda: Customer.objects.using(COPY).filter(pk=target)),
            ("one filter() with every clue", all_in_one_filter),
        ],
    )
    assert "reads the 'default' database" in _message(3, Order.objects.filter(customer_id=target))
    assert EXERCISES[3].judge(PLACEHOLDER).message.startswith("Replace the `...`")
    connections[COPY].close()
