"""k-anonymity and the linkage attack on hand-checkable fixtures, plus the notebook's widgets."""

from __future__ import annotations

import pytest
from anonymize_support import PEOPLE

from workshop.anonymize import db, measure, widgets
from workshop.anonymize.measure import Generalization
from workshop.anonymize.rules import column_for, get_model
from workshop.anonymize.strategies import STRATEGIES

pytestmark = pytest.mark.django_db

# PEOPLE (six people: id, birth date, ZIP, gender). Exact: all unique. By birth year, ZIP3 and gender:
#   {1, 2} (1980, 021, F), {3, 4, 5} (1990, 100, M), {6} (1990, 100, F)  -> k = 1, 1 unique.
# Without gender: {1, 2}, {3, 4, 5, 6}  -> k = 2, none unique.


@pytest.fixture
def fixture_schema():
    with db.connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS kfix CASCADE; CREATE SCHEMA kfix")
        conn.execute(
            "CREATE TABLE kfix.shop_customer (id int, first_name text, last_name text, birth_date date, "
            "zip_code text, gender text)"
        )
        with conn.cursor().copy("COPY kfix.shop_customer (id, birth_date, zip_code, gender) FROM STDIN") as copy:
            for row in PEOPLE:
                copy.write_row(row)
    yield "kfix"
    with db.connect() as conn:
        conn.execute("DROP SCHEMA kfix CASCADE")


def test_k_anonymity_by_hand(fixture_schema):
    exact = measure.k_anonymity(Generalization(), schema=fixture_schema)
    assert (exact.rows, exact.k, exact.unique_records, exact.classes) == (6, 1, 6, 6)
    coarse = measure.k_anonymity(Generalization("year", 3), schema=fixture_schema)
    assert (coarse.k, coarse.unique_records, coarse.classes) == (1, 1, 3)
    assert coarse.class_sizes == {1: 1, 2: 2, 3: 3}
    no_gender = measure.k_anonymity(Generalization("year", 3, gender=False), schema=fixture_schema)
    assert (no_gender.k, no_gender.unique_share, no_gender.class_sizes) == (2, 0.0, {2: 2, 4: 4})
    assert measure.k_anonymity(Generalization("hidden", 0, gender=False), schema=fixture_schema).k == 6


def test_linkage_attack_by_hand(fixture_schema):
    # The fixture is both the voter roll (all six: 100%) and the release.
    exact = measure.linkage_attack(fixture_schema, source=fixture_schema, percent=100)
    assert (exact.voters, exact.linked, exact.correct) == (6, 6, 6)
    coarse = measure.linkage_attack(fixture_schema, Generalization("year", 3), source=fixture_schema, percent=100)
    assert (coarse.linked, coarse.correct) == (1, 1)  # only person 6 stands alone


def test_bad_generalization_is_a_clear_error():
    with pytest.raises(measure.WorkshopError, match="Unknown birth date level"):
        Generalization("fortnight")


def test_every_widget_default_is_valid_for_the_fields_it_is_offered_on():
    customer = get_model("shop.Customer")
    accepted = {}
    for field in ("first_name", "email", "phone", "national_id", "birth_date", "zip_code", "created_at"):
        column = column_for(customer, field)
        accepted[field] = {name for name in STRATEGIES if widgets.default_strategy(name, column).check(column) is None}
    assert {"pseudonymize", "shuffle"} <= accepted["national_id"] and "mask" not in accepted["national_id"]
    assert {"mask", "fake", "pseudonymize", "static", "suppress"} <= accepted["first_name"]
    assert {"generalize_date", "noise", "static", "shuffle"} <= accepted["birth_date"]


def test_widgets_show_what_their_controls_ask_for(capsys):
    """The rule preview names the strategy picked; the explorer's k-anonymity line follows the ZIP
    slider, and its unique share is the one an independent ORM count gives."""
    from django.db.models import Count
    from django.db.models.functions import ExtractYear, Substr

    from workshop.shop.models import Customer

    box = widgets.rule_preview()
    model, field, strategy = box.children[0].children
    field.value = "phone"
    strategy.value = "mask"
    assert "Mask(" in box.children[1].value and "digits" in box.children[1].value, box.children[1].value

    explorer = widgets.generalization_explorer()
    birth, zip_digits, _gender = explorer.children[0].children[:3]
    birth.value = "year"
    capsys.readouterr()
    zip_digits.value = 1
    line = capsys.readouterr().out
    assert "birth year, ZIP 1 digits, gender" in line, line
    classes = (
        Customer.objects.annotate(year=ExtractYear("birth_date"), zip1=Substr("zip_code", 1, 1))
        .values("year", "zip1", "gender")
        .annotate(n=Count("id"))
    )
    unique = sum(1 for c in classes if c["n"] == 1)
    total = Customer.objects.count()
    assert 0 < unique < total  # a share that says something on the tiny dataset
    assert f"{unique / total:.1%} of {total:,} records are unique" in line, line


def test_modules_import_without_django_and_say_which_cell_to_run():
    """`workshop bench` and the CLI import these without a configured Django; a notebook cell
    run before the set-up cell gets the one-line "run the first code cell" error."""
    import os
    import subprocess
    import sys

    modules = (
        "measure",
        "widgets",
        "target",
        "attacks",
        "dp",
        "coverage",
        "alias",
        "exercises",
        "solutions",
        "shop_rules",
        "bench",
        "cli",
        "timeline",
        "query",
    )
    script = (
        f"import importlib\nfor m in {modules!r}:\n    importlib.import_module('workshop.anonymize.' + m)\n"
        "from workshop.anonymize import measure, widgets, attacks\n"
        "from workshop.errors import WorkshopError\n"
        "for call in (measure.k_anonymity, widgets.generalization_explorer, widgets.rule_preview,\n"
        "             lambda: attacks.find_by_reviews([])):\n"
        "    try:\n        call()\n    except WorkshopError as e:\n        print('ERR', e)\n"
        "    else:\n        print('NO ERROR')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("ERR") and "first code cell" in line for line in lines), done.stdout
