"""`workshop review` as a separate process: exit codes, formats, errors as one line, and
this repository itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.review.examples import demo_repository

ROOT = Path(__file__).resolve().parent.parent


def workshop(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workshop.cli", "review", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_repository(tmp_path_factory.mktemp("cli") / "shop")


def test_a_good_branch_exits_0(demo, tmp_path):
    from workshop.review.solutions import solution_2

    description = tmp_path / "pr.md"
    description.write_text(solution_2())
    done = workshop(str(demo), "--head", "feature/discount", "--description", str(description))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "Result: pass"


def test_description_from_standard_input(demo):
    from workshop.review.solutions import solution_2

    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "review", str(demo), "--head", "feature/discount", "--description", "-"],
        input=solution_2(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "checklist 100% complete" in done.stdout


def test_a_failing_branch_exits_1_with_annotations(demo):
    done = workshop(str(demo), "--head", "feature/everything", "--format", "github")
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert any("file=shop/payments.py,line=" in line and "title=secrets" in line for line in errors)


def test_json_format(demo):
    done = workshop(str(demo), "--base", "main", "--head", "feature/everything", "--format", "json")
    data = json.loads(done.stdout)
    assert data["status"] == "fail" and data["base"] == "main" and len(data["split"]) >= 3


def test_run_inside_the_repository_on_a_checked_out_branch(demo):
    subprocess.run(["git", "checkout", "--quiet", "feature/discount"], cwd=demo, check=True)
    try:
        done = workshop(cwd=demo / "shop")  # a subfolder of the checkout: the repository is found
        assert "feature/discount" in done.stdout.splitlines()[0] and done.returncode == 0
    finally:
        subprocess.run(["git", "checkout", "--quiet", "main"], cwd=demo, check=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (("/nonexistent/folder",), "does not exist"),
        (("--base", "no-such-ref"), "Ref 'no-such-ref' does not exist"),
        (("--description", "/nonexistent/pr.md"), "Description file /nonexistent/pr.md does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = workshop(*args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def test_not_a_repository(tmp_path):
    done = workshop(str(tmp_path))
    assert done.returncode == 2 and "is not inside a git repository" in done.stderr


def test_on_this_repository():
    """On main there is nothing to compare with main: it says so; a base one commit back works
    (in a shallow clone without that commit, the error says which ref is missing)."""
    from workshop.review.git import Repo

    here = workshop()
    assert here.returncode in (0, 1), here.stderr
    if here.stdout.startswith("main ("):
        assert "No changes against main" in here.stdout.splitlines()[1]
    recent = workshop("--base", "HEAD~1", "--format", "json")
    if Repo.open(ROOT).resolve("HEAD~1"):
        assert recent.returncode in (0, 1), recent.stderr
        # one commit, or a merge commit's whole branch
        expected = subprocess.run(
            ["git", "rev-list", "--count", "HEAD~1..HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert json.loads(recent.stdout)["commits"] == int(expected.stdout)
    else:
        assert recent.returncode == 2 and "Ref 'HEAD~1' does not exist" in recent.stderr


def test_a_long_one_line_description_from_standard_input(demo):
    body = "Adds percentage discounts for the summer sale. " * 2000  # ~100 KB, no newline
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "review", str(demo), "--head", "feature/discount", "--description", "-"],
        input=body,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "description" in done.stdout


def test_a_crash_is_not_a_failing_review(demo):
    """A bug in the reviewer exits 3 with one line, a failing branch exits 1: CI can tell them apart."""
    crash = (
        "import sys, workshop.review as r\n"
        "def broken(*args, **kwargs):\n"
        "    raise KeyError('injected fault')\n"
        "r.review = broken\n"
        "from workshop.cli import main\n"
        "sys.exit(main(['review', sys.argv[1]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", crash, str(demo)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 3 and done.stderr.count("\n") == 1, done.stderr
    assert "crashed: KeyError" in done.stderr and "WORKSHOP_DEBUG=1" in done.stderr
    help_text = workshop("--help").stdout
    assert "exit status:" in help_text and "3  the reviewer crashed" in help_text
