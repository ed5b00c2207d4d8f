"""The split proposal (module groups in dependency order) and the stack builder (the
exercise built on them is tested in test_review_exercises.py)."""

from __future__ import annotations

import pytest

from workshop.review import review, split
from workshop.review.examples import Builder, demo_repository, split_exercise_repository
from workshop.review.git import Repo
from workshop.review.split import ordered
from workshop.review.stack import commit_stack


@pytest.fixture
def shop(tmp_path):
    return split_exercise_repository(tmp_path / "shop")


def test_the_proposal_follows_imports_and_keeps_tests_with_their_code(shop):
    report = review(shop, head="feature/shop")
    order = [[f.path for f in part.files] for part in report.split]
    assert order == [  # taxes before catalog (catalog imports it): dependency order, not alphabetical
        ["shop/taxes.py", "tests/test_taxes.py", "shop/catalog.py", "tests/test_catalog.py"],
        ["shop/orders.py", "tests/test_orders.py", "shop/invoices.py", "tests/test_invoices.py"],
        ["shop/payments.py", "tests/test_payments.py", "shop/reports.py", "tests/test_reports.py"],
    ]


def test_docs_and_project_files_come_last(tmp_path):
    report = review(demo_repository(tmp_path / "demo"), head="feature/everything")
    last = [f.path for f in report.split[-1].files]
    assert {"poetry.lock", "docs/screenshot.png", "notebooks/explore.ipynb"} <= set(last)


def test_modules_that_import_each_other_ship_together(tmp_path):
    b = Builder(tmp_path / "cycle")
    b.commit("base", {"README.md": "x\n"})
    b.branch("feature")
    body = "".join(f"V{i} = {i}\n" for i in range(150))
    b.commit(
        "cycle",
        {
            "pkg/a/__init__.py": "from pkg.b import V1\n" + body,
            "pkg/b/__init__.py": "from pkg.a import V1\n" + body,
            "pkg/c/__init__.py": "from pkg.a import V2\n" + body,
        },
    )
    parts = review(b.repo.root, head="feature").split
    first = {f.path for f in parts[0].files}
    assert first == {"pkg/a/__init__.py", "pkg/b/__init__.py"}  # one group, even above the limit's half
    assert [f.path for f in parts[1].files] == ["pkg/c/__init__.py"]


def test_ordered_merges_cycles():
    assert ordered({"a": {"b"}, "b": {"a"}, "c": {"a"}, "d": set()})[-1] == ["c"]
    assert sorted(map(sorted, ordered({"a": {"b"}, "b": {"a"}}))) == [["a", "b"]]


def test_a_test_goes_with_the_file_it_is_named_after():
    code = ["workshop/anonymize/engine.py", "workshop/anonymize/rules.py", "workshop/review/rules.py"]
    assert split.tested_file("tests/test_anonymize_engine.py", code) == "workshop/anonymize/engine.py"
    assert split.tested_file("tests/test_review_rules.py", code) == "workshop/review/rules.py"
    assert split.tested_file("tests/test_nothing_alike.py", code) is None


def test_commit_stack_leaves_the_working_tree_alone(shop):
    repo = Repo(shop)
    before = repo.git("status", "--porcelain", "--branch")
    names = commit_stack(shop, "feature/shop", [["shop/catalog.py"], ["shop/orders.py"]])
    assert names == ["split/1", "split/2"] and repo.git("status", "--porcelain", "--branch") == before
    files = repo.git("diff", "--name-only", "split/1", "split/2").decode().split()
    assert files == ["shop/orders.py"]
    commit_stack(shop, "feature/shop", [["shop/catalog.py"]])  # a new attempt replaces the old branches
    assert repo.branches() == ["feature/shop", "main", "split/1"]
