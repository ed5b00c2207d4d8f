"""The split proposal (module groups in dependency order), the stack builder, and the
exercises: each check passes with its solution and fails, with its hint, on wrong answers."""

from __future__ import annotations

import pytest

from workshop.review import exercises, review, solutions, split
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
    assert order == [
        ["shop/catalog.py", "tests/test_catalog.py"],
        ["shop/orders.py", "tests/test_orders.py"],
        ["shop/payments.py", "tests/test_payments.py"],
        ["shop/reports.py", "tests/test_reports.py"],
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


def test_split_exercise_with_its_solution(shop, capsys):
    assert not exercises.check_split(shop)
    assert "not yet: no split/1" in capsys.readouterr().out
    solutions.split_solution(shop)
    assert exercises.check_split(shop)
    assert capsys.readouterr().out.startswith("well done: 4 pull requests")


@pytest.mark.parametrize(
    "groups, hint",
    [
        (
            [
                [
                    "shop/catalog.py",
                    "shop/orders.py",
                    "shop/payments.py",
                    "shop/reports.py",
                    "tests/test_catalog.py",
                    "tests/test_orders.py",
                    "tests/test_payments.py",
                    "tests/test_reports.py",
                ]
            ],
            "still too large",
        ),
        (
            [
                ["shop/orders.py", "tests/test_orders.py"],
                ["shop/catalog.py", "tests/test_catalog.py"],
                ["shop/payments.py", "tests/test_payments.py"],
                ["shop/reports.py", "tests/test_reports.py"],
            ],
            "imports shop.catalog",
        ),
        (
            [["shop/catalog.py", "tests/test_catalog.py"], ["shop/orders.py", "tests/test_orders.py"]],
            "does not add up to feature/shop",
        ),
    ],
)
def test_split_exercise_wrong_answers_get_their_hint(shop, capsys, groups, hint):
    commit_stack(shop, "feature/shop", groups)
    assert not exercises.check_split(shop)
    out = capsys.readouterr().out
    assert out.startswith("not yet:") and hint in out


def test_description_exercise(tmp_path, capsys):
    demo = demo_repository(tmp_path / "demo")
    assert not exercises.check_description(demo, None)
    template = (demo / ".github/pull_request_template.md").read_text()
    assert not exercises.check_description(demo, template)
    assert "nothing beyond the template" in capsys.readouterr().out
    assert exercises.check_description(demo, solutions.description_solution(demo))
    assert "well done: checklist 100% complete" in capsys.readouterr().out
