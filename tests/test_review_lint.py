"""Lint what the change introduced: ruff on the head against the base, inside the whole tree, and
imports of names the change removed; deleting a definition still used elsewhere is reported,
findings that only moved are not, syntax errors always are."""

from __future__ import annotations

import pytest
from review_support import small_repository

from workshop.review import review


@pytest.fixture
def repo(tmp_path):
    return small_repository(
        tmp_path / "repo",
        {
            "pyproject.toml": "[tool.ruff.lint]\nselect = ['E', 'F', 'I']\n",
            "app/util.py": "def helper():\n    return 1\n\n\ndef other():\n    return 2\n",
            "app/views.py": "from app.util import helper\n\n\ndef view():\n    return helper()\n",
            "app/local.py": "def inner():\n    return 1\n\n\ndef outer():\n    return inner()\n",
            "shop_utils/__init__.py": "def money(x):\n    return x\n",
        },
    )


def lint(b) -> list[tuple[str, int, str]]:
    return [(p, n, m.split()[0]) for p, n, m in review(b.repo.root, head="change").result("lint").findings]


def test_deleting_a_definition_still_used_in_the_same_file(repo):
    repo.commit("drop inner", {"app/local.py": "def outer():\n    return inner()\n"})
    assert lint(repo) == [("app/local.py", 2, "F821")]  # a line the change did not touch


def test_deleting_a_definition_still_imported_by_another_file(repo):
    repo.commit("drop helper", {"app/util.py": "def other():\n    return 2\n"})
    findings = review(repo.repo.root, head="change").result("lint").findings
    assert [(p, n) for p, n, _ in findings] == [("app/views.py", 1)]
    assert "`helper` is imported from app.util, which no longer defines it" in findings[0][2]


def test_deleting_a_module_still_imported(repo):
    repo.commit("drop util", {"app/util.py": None})
    assert lint(repo) == [("app/views.py", 1, "import")]


def test_a_file_is_linted_inside_its_package(repo):
    """shop_utils is first-party only when its package is there: linted alone, isort would
    invent an I001 on a correctly sorted file."""
    source = "import os\n\nimport requests\n\nfrom shop_utils import money\n\nX = (os, requests, money)\n"
    repo.commit("sorted imports", {"app/pay.py": source})
    assert lint(repo) == []


def test_findings_that_only_moved_are_not_the_change_s(repo):
    repo.commit("old finding", {"app/old.py": "import sys\n\nX = 1\n"})
    repo.branch("change2", "change")
    repo.commit("lines above it", {"app/old.py": "'''Docs.'''\n\nimport sys\n\nX = 1\nY = 2\n"})
    report = review(repo.repo.root, base="change", head="change2")
    assert report.result("lint").findings == []


def test_a_second_copy_of_an_old_finding_is_new(repo):
    repo.commit("old finding", {"app/old.py": "def f():\n    x = 1\n"})
    repo.branch("change2", "change")
    repo.commit("again", {"app/old.py": "def f():\n    x = 1\n\n\ndef g():\n    x = 1\n"})
    findings = review(repo.repo.root, base="change", head="change2").result("lint").findings
    assert [(p, n, m.split()[0]) for p, n, m in findings] == [("app/old.py", 6, "F841")]


def test_syntax_errors_are_always_reported(repo):
    repo.commit("broken", {"app/broken.py": "def f(:\n    pass\n"})
    repo.branch("change2", "change")
    repo.commit("touch another line", {"app/broken.py": "def f(:\n    pass\n\nX = 1\n"})
    findings = review(repo.repo.root, base="change", head="change2").result("lint").findings
    assert findings and {p for p, _, _ in findings} == {"app/broken.py"}
    assert all(m.startswith("syntax") for _, _, m in findings)
