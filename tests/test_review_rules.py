"""Each rule of the review on a small real repository made for it: pass, warn or fail, and why."""

from __future__ import annotations

import json

import pytest
from review_support import small_repository

from workshop.review import review
from workshop.review.examples import PR_TEMPLATE, Builder, demo_repository


@pytest.fixture
def repo(tmp_path):
    return small_repository(tmp_path / "repo")


def rule(b: Builder, name: str, **kwargs):
    return review(b.repo.root, head="change", **kwargs).result(name)


def test_size_counts_lines_and_files_but_not_lock_generated_vendored_files(repo):
    repo.commit(
        "big",
        {
            "app/big.py": "".join(f"A{i} = {i}\n" for i in range(450)),
            "poetry.lock": "x\n" * 5000,
            "static/app.min.js": "x\n" * 5000,
            "vendor/lib/thing.py": "x = 1\n" * 5000,
        },
    )
    result = rule(repo, "size")
    assert result.status == "warn" and "450 changed lines" in result.reason and "in 1 files" in result.reason
    assert "not counted: 3" in result.reason


def test_size_thresholds_can_be_changed(repo):
    repo.commit("small", {"app/a.py": "A = 1\nB = 2\n"})
    assert rule(repo, "size").status == "pass"
    assert rule(repo, "size", thresholds={"lines_warn": 1, "lines_fail": 1}).status == "fail"


def test_code_without_tests_warns_and_with_tests_passes(repo):
    repo.commit("code", {"app/views.py": "def view():\n    return 1\n"})
    untested = rule(repo, "tests")
    assert untested.status == "warn" and untested.findings[0][0] == "app/views.py"
    repo.commit(
        "test", {"tests/test_views.py": "from app.views import view\n\n\ndef test_view():\n    assert view() == 1\n"}
    )
    assert rule(repo, "tests").status == "pass"


def test_ruff_reports_only_added_lines(repo):
    # models.py already has an unused import on line 1: it is not this change's finding.
    repo.commit("touch", {"app/models.py": "import os\n\nX = 1\nimport sys\n"})
    result = rule(repo, "lint")
    assert result.status == "fail"
    assert [(path, line) for path, line, _ in result.findings] == [("app/models.py", 4), ("app/models.py", 4)]
    assert {message.split()[0] for *_, message in result.findings} == {"E402", "F401"}


def test_ruff_uses_the_configuration_of_the_branch(repo):
    repo.commit(
        "relax",
        {"pyproject.toml": "[tool.ruff.lint]\nselect = ['E']\n", "app/models.py": "import os\n\nX = 1\nimport sys\n"},
    )
    assert [m.split()[0] for *_, m in rule(repo, "lint").findings] == ["E402"]


def test_debug_leftovers(repo):
    repo.commit(
        "debug",
        {
            "app/views.py": "def view():\n    breakpoint()\n    print('here')\n    return 1\n",
            "app/cli.py": "def main():\n    print('usage')\n",
        },
    )
    result = rule(repo, "debug")
    assert result.status == "fail"
    assert [(p, n, m.split()[0]) for p, n, m in result.findings] == [
        ("app/views.py", 2, "T100"),
        ("app/views.py", 3, "T201"),
    ]


def test_a_print_alone_is_a_warning(repo):
    repo.commit("print", {"app/views.py": "def view():\n    print('here')\n"})
    assert rule(repo, "debug").status == "warn"


def test_migrations_without_tests(repo):
    migration = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = []\n"
    repo.commit("migration", {"app/migrations/__init__.py": "", "app/migrations/0001_initial.py": migration})
    assert rule(repo, "migrations").status == "warn"
    repo.commit("test it", {"tests/test_migrations.py": "def test_it():\n    assert 1\n"})
    assert rule(repo, "migrations").status == "pass"


def test_large_binaries(repo):
    repo.commit("small image", {"static/icon.png": b"\x00PNG" * 1000})
    assert rule(repo, "binaries").status == "pass"
    repo.commit("big image", {"static/hero.png": b"\x00PNG" * 400_000})
    result = rule(repo, "binaries")
    assert result.status == "fail" and result.findings == [("static/hero.png", 0, "1,600,000 bytes")]


def test_secrets_fail_and_are_not_printed_whole(repo):
    token = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    repo.commit("oops", {"app/settings.py": f"GITHUB = '{token}'\n"})
    result = rule(repo, "secrets")
    assert result.status == "fail" and "GitHub token" in result.findings[0][2]
    assert token not in result.reason + result.findings[0][2]


def test_notebooks_count_sources_not_outputs(repo):
    def notebook(source: str, outputs: int) -> str:
        cell = {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "source": [source],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["x\n"] * 500}] * outputs,
        }
        return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)

    repo.commit("nb", {"notebooks/a.ipynb": notebook("print(1)", 0)})
    repo.branch("change2", "change")
    repo.commit("outputs", {"notebooks/a.ipynb": notebook("print(2)", 3)})
    report = review(repo.repo.root, base="change", head="change2")
    (nb,) = report.change.files
    assert (nb.added, nb.removed, nb.outputs) == (1, 1, 3) and "cell sources only" in nb.note
    assert report.result("notebooks").status == "fail"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_repository(tmp_path_factory.mktemp("demo") / "shop")


def test_description_against_the_template(demo):
    def status(text):
        return review(demo, head="feature/discount", description=text).result("description")

    assert status(None).status == "warn"  # nothing to check: say how to give one
    assert status("").status == "fail"
    assert "nothing beyond the template" in status(PR_TEMPLATE).reason
    own = "Adds percentage discounts, rounded down to the cent, for the summer sale.\n\n"
    half = own + PR_TEMPLATE.replace("- [ ] Tests", "- [x] Tests").replace("- [ ] No debugging", "- [x] No debugging")
    assert status(half).status == "warn" and "50% complete" in status(half).reason
    done = own + PR_TEMPLATE.replace("- [ ]", "- [x]")
    assert status(done).status == "pass"
    assert status("WIP: " + done).status == "fail"


def test_the_demo_branches(demo):
    good = review(demo, head="feature/discount")
    assert good.status == "warn" and not good.failed  # only the missing description
    bad = review(demo, head="feature/everything")
    statuses = {r.rule: r.status for r in bad.results}
    assert statuses == {
        "size": "warn",
        "tests": "warn",
        "lint": "fail",
        "debug": "fail",
        "migrations": "pass",
        "binaries": "warn",
        "secrets": "fail",
        "notebooks": "fail",
        "commits": "pass",
        "description": "warn",
    }
    assert [p.lines <= 400 for p in bad.split] == [True] * len(bad.split) and len(bad.split) >= 3


def test_report_formats(demo):
    report = review(demo, head="feature/everything")
    data = json.loads(report.json())
    assert data["status"] == "fail" and {r["rule"] for r in data["rules"]} >= {"size", "secrets"}
    github = report.github().splitlines()
    assert any(line.startswith("::error file=shop/payments.py,line=") and "title=debug::" in line for line in github)
    assert github[-1].startswith("::notice title=review::")
    assert "<table>" in report._repr_html_() and "Proposed split" in report.text()


def test_commits_to_squash_or_finish(repo):
    repo.commit("Views", {"app/views.py": "V = 1\n"})
    assert rule(repo, "commits").status == "pass"
    repo.commit("fixup! Views", {"app/views.py": "V = 2\n"})
    repo.commit("WIP: more views", {"app/more.py": "M = 1\n"})
    result = rule(repo, "commits")
    assert result.status == "warn" and [m.split(" ", 1)[1] for *_, m in result.findings] == [
        "fixup! Views",
        "WIP: more views",
    ]
    assert "--autosquash" in result.reason
