"""`workshop.reset(chapter)`: each chapter starts from the same state, whatever ran before."""

from __future__ import annotations

import pytest
from django.db import connection

import workshop
from workshop.errors import WorkshopError

pytestmark = pytest.mark.django_db


def _figures() -> dict:
    """What chapters compute from the dataset: counts, a revenue total, titles and categories."""
    from django.db.models import F, Sum

    from workshop.shop.models import OrderItem, Product, Review

    return {
        "products": Product.objects.count(),
        "reviews": Review.objects.count(),
        "titles": tuple(Product.objects.order_by("id").values_list("title", "category_id")),
        "revenue": OrderItem.objects.aggregate(total=Sum(F("quantity") * F("unit_price")))["total"],
    }


def _search_triggers() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'search\\_%%'")
        return cursor.fetchone()[0]


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {name for (name,) in cursor.fetchall()}


def _chapter_05_runs():
    """What notebook 05 does to the shared data: its triggers, renames, a move, a new product."""
    from workshop.search import api
    from workshop.shop.models import Category, Product

    api.install("postgres")
    other = Category.objects.order_by("-id").first()
    Product.objects.filter(id__in=list(Product.objects.order_by("id").values_list("id", flat=True)[:5])).update(
        title="Renamed in chapter 05", category=other
    )
    first = Product.objects.order_by("id").first()
    first.pk = None
    first.sku = "CH05-NEW"
    first.save()


def _chapter_02_runs():
    from workshop.anonymize.engine import MARKER

    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA anon_reset_test")
        cursor.execute(f"COMMENT ON SCHEMA anon_reset_test IS 'anonymized copy of public {MARKER}'")
        cursor.execute("CREATE TABLE anon_reset_test.t (id int)")


def _chapter_03_runs():
    from workshop.flags import definitions

    definitions.define("ch03_left_over", enabled=True, everyone=True)


def test_chapter_05_then_04_twice_gives_04_the_same_figures():
    before = _figures()
    for _ in range(2):
        _chapter_05_runs()
        assert _figures() != before and _search_triggers() > 0
        report = workshop.reset("04")
        assert "shop_product" in report.dataset
        assert _figures() == before
        assert _search_triggers() > 0  # chapter 04's reset leaves chapter 05's own objects alone
    workshop.reset("05")
    assert _search_triggers() == 0 and _figures() == before


def test_chapter_02_then_03_twice_leaves_03_no_flag_and_keeps_foreign_schemas():
    from workshop.flags.models import FlagDefinition

    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA someone_elses")  # not made by the engine: never dropped
    before = _figures()
    for _ in range(2):
        _chapter_02_runs()
        _chapter_03_runs()
        workshop.reset("03")
        assert not FlagDefinition.objects.exists()
        assert "anon_reset_test" in _schemas()  # 03's reset is 03's only
        workshop.reset("02")
        assert "anon_reset_test" not in _schemas()
        assert _figures() == before
    assert "someone_elses" in _schemas()


def test_a_reset_of_an_unchanged_dataset_restores_nothing():
    workshop.reset()
    report = workshop.reset()
    assert report.dataset.startswith("dataset unchanged")
    assert set(report.chapters) == {"01", "02", "03", "04", "05"}


def test_unknown_chapter_is_one_line():
    with pytest.raises(WorkshopError, match="no chapter '7'.*01, 02"):
        workshop.reset("7")
    with pytest.raises(WorkshopError, match="no chapter"):
        workshop.reset("../etc")


def test_chapter_01_resets_where_no_postgresql_answers(tmp_path):
    """Chapter 01 works on git repositories and local files: `workshop reset 01` and
    workshop.reset("01") succeed with no server on the URL's socket folder, without importing
    Django; a chapter that needs the database still says, in one line, that it does not answer."""
    import os
    import subprocess
    import sys

    no_server = tmp_path / "no-server"
    no_server.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    env.update(
        WORKSHOP_HOME=str(tmp_path / "state"),
        WORKSHOP_NO_DOCKER="1",
        WORKSHOP_DATABASE_URL=f"postgresql://workshop@/workshop?host={no_server}",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)

    command = run("-m", "workshop.cli", "reset", "01")
    assert command.returncode == 0 and "chapter 01" in command.stdout and "no database" in command.stdout, command
    in_kernel = run(
        "-c", "import sys, workshop; workshop.reset(1); print(sorted(m for m in sys.modules if m.startswith('django')))"
    )
    assert in_kernel.returncode == 0 and in_kernel.stdout.strip() == "[]", in_kernel
    other = run("-m", "workshop.cli", "reset", "02")
    assert other.returncode == 2 and "does not answer" in other.stderr and "Traceback" not in other.stderr, other
    assert not list(no_server.iterdir())
