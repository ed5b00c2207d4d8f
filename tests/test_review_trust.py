"""What a pull request cannot switch off: its gitattributes and PR template are read from the base,
generated and vendored files skip only the size count, deleting a test is not testing, a vendored
library's own `debugger;` is a warning, not a failure; and what the user's git settings cannot
change (textconv, diff prefixes), and a shallow clone's message."""

from __future__ import annotations

import json
import subprocess

import pytest
from review_support import small_repository

from workshop.errors import WorkshopError
from workshop.review import review
from workshop.review.examples import PR_TEMPLATE, Builder

NOTEBOOK_WITH_OUTPUT = json.dumps(
    {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "source": ["1 + 1"],
                "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {}}],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
TOKEN = "gh" + "p_" + "Zq7Xw2Lm9Rt4Vb8Nc3Kd6Hf1Jg5Ps0Ay2Ue7"  # assembled here: no whole token in the file


@pytest.fixture
def repo(tmp_path):
    return small_repository(
        tmp_path / "repo", {".gitattributes": "api/schema.graphql linguist-generated\ngen/** linguist-generated\n"}
    )


def statuses(b: Builder) -> dict[str, str]:
    return {r.rule: r.status for r in review(b.repo.root, head="change").results}


def test_a_pull_request_cannot_mark_its_own_files_generated(repo):
    repo.commit(
        "everything generated, says the PR",
        {
            ".gitattributes": "* linguist-generated\n* linguist-vendored\n",
            "app/keys.py": f"GITHUB = '{TOKEN}'\n",
            "app/views.py": "import os\n\n\ndef view():\n    breakpoint()\n",
            "notebooks/a.ipynb": NOTEBOOK_WITH_OUTPUT,
        },
    )
    report = review(repo.repo.root, head="change")
    found = {r.rule: r.status for r in report.results}
    assert found["secrets"] == found["lint"] == found["debug"] == found["notebooks"] == "fail"
    assert found["tests"] == "warn"
    assert {f.path: f.not_counted for f in report.change.files} == {
        ".gitattributes": "",
        "app/keys.py": "",
        "app/views.py": "",
        "notebooks/a.ipynb": "",
    }


def test_the_base_s_attributes_mark_generated_files(repo):
    repo.commit("schema", {"api/schema.graphql": "type Q { x: Int }\n" * 900})
    result = review(repo.repo.root, head="change").result("size")
    assert result.status == "pass" and "not counted: 1" in result.reason


def test_generated_and_vendored_files_skip_only_the_size_count(repo):
    repo.commit(
        "generated and vendored",
        {
            "gen/client.py": f"import os\n\nTOKEN = '{TOKEN}'\n" + "X = 1\n" * 900,
            "vendor/lib/util.py": "def f():\n    breakpoint()\n",
            "vendor/lib/demo.ipynb": NOTEBOOK_WITH_OUTPUT,
        },
    )
    report = review(repo.repo.root, head="change")
    assert report.result("size").status == "pass" and "not counted: 3" in report.result("size").reason
    assert [p for p, *_ in report.result("secrets").findings] == ["gen/client.py"]
    assert ("gen/client.py", 1) in [(p, n) for p, n, _ in report.result("lint").findings]  # F401
    assert report.result("notebooks").status == "fail"
    assert report.result("tests").status == "warn"  # generated code changed, no test
    debug = report.result("debug")  # a vendored library's breakpoint: shown, does not fail
    assert debug.status == "warn" and debug.findings[0][:2] == ("vendor/lib/util.py", 2)
    assert {f.path: f.not_counted for f in report.change.files} == {
        "gen/client.py": "generated",
        "vendor/lib/util.py": "vendored",
        "vendor/lib/demo.ipynb": "vendored",
    }


def test_debugger_statement_in_vendored_javascript_warns_in_ours_fails(repo):
    repo.commit("vendored js", {"static/vendor/chart.js": "function f() {\n  debugger;\n}\n"})
    assert statuses(repo)["debug"] == "warn"
    repo.commit("ours", {"static/app.js": "function g() {\n  debugger;\n}\n"})
    assert statuses(repo)["debug"] == "fail"


def test_console_log_alone_is_a_warning(repo):
    repo.commit("log", {"static/app.js": "console.log('here');\n"})
    assert statuses(repo)["debug"] == "warn"


def test_deleting_a_test_is_not_testing_the_change(repo):
    repo.commit("code, test deleted", {"app/models.py": "X = 2\n", "tests/test_models.py": None})
    result = review(repo.repo.root, head="change").result("tests")
    assert result.status == "warn" and result.findings[0][0] == "app/models.py"


def test_the_pr_template_comes_from_the_base_in_any_case(tmp_path):
    b = Builder(tmp_path / "repo")
    b.commit("base", {"app/a.py": "A = 1\n", ".GitHub/Pull_Request_Template.MD": PR_TEMPLATE})
    b.branch("change")
    b.commit(
        "a PR that empties its own template",
        {"app/a.py": "A = 2\n", ".GitHub/Pull_Request_Template.MD": "Say something.\n"},
    )
    result = review(b.repo.root, head="change", description="Changes A to 2 for the sale, nothing else.").result(
        "description"
    )
    assert result.status == "warn" and "checklist 0% complete" in result.reason  # the base's four items
    assert {path for path, *_ in result.findings} == {".GitHub/Pull_Request_Template.MD"}


def test_diff_settings_of_the_user_do_not_change_what_is_read(repo):
    """A textconv filter, no prefixes, mnemonic prefixes, relative diffs: the lines read are the
    file's own and the names its own."""
    for key, value in (
        ("diff.upper.textconv", "tr a-z A-Z"),
        ("diff.noprefix", "true"),
        ("diff.mnemonicPrefix", "true"),
        ("diff.relative", "true"),
    ):
        repo.git("config", key, value)
    repo.commit("attrs", {".gitattributes": "*.py diff=upper\n"})
    repo.branch("change2", "change")
    repo.commit("code", {"app/views.py": "def view():\n    return 'lower'\n"})
    (changed,) = review(repo.repo.root, base="change", head="change2").change.files
    assert changed.path == "app/views.py" and changed.added_lines[1] == (2, "    return 'lower'")


def test_a_shallow_clone_says_to_fetch_more_history(repo, tmp_path):
    repo.commit("one", {"app/a.py": "A = 1\n"})
    repo.commit("two", {"app/a.py": "A = 2\n"})
    repo.git("checkout", "--quiet", "main")
    repo.commit("main moves", {"app/b.py": "B = 1\n"})
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth=1", "--no-single-branch", f"file://{repo.repo.root}", str(clone)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(WorkshopError) as error:
        review(clone, base="origin/main", head="origin/change")
    assert "shallow clone" in str(error.value) and "git fetch --deepen" in str(error.value)
