"""The repository practises what notebook 01 teaches: ruff passes, the hooks and the CI
workflow are in place and consistent with the project, the PR template has a checklist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from workshop.review.lint import ruff_command
from workshop.review.template import checklist

ROOT = Path(__file__).resolve().parent.parent
OURS = ["workshop/review", *map(str, sorted(p.relative_to(ROOT) for p in (ROOT / "tests").glob("test_review_*.py")))]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ruff_command(), *args], cwd=ROOT, capture_output=True, text=True)


def test_the_whole_codebase_passes_ruff_check():
    done = ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_the_review_chapter_passes_ruff_check_and_format():
    check = ruff("check", "--no-cache", *OURS)
    assert check.returncode == 0, check.stdout + check.stderr
    notebook = ROOT / "notebooks" / "01_pull_requests.ipynb"
    fmt = ruff("format", "--check", "--no-cache", *OURS, *([str(notebook)] if notebook.exists() else []))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_ruff_is_configured_in_pyproject():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert config["line-length"] == 120 and {"E", "F", "I"} <= set(config["lint"]["select"])


def test_pre_commit_runs_ruff_of_our_version_and_strips_notebooks():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    repos = {r["repo"]: r for r in config["repos"]}
    ruff_repo = repos["https://github.com/astral-sh/ruff-pre-commit"]
    assert {h["id"] for h in ruff_repo["hooks"]} == {"ruff-check", "ruff-format"}
    installed = ruff("--version").stdout.split()[1]  # "ruff 0.17.6"
    assert ruff_repo["rev"].lstrip("v").split(".")[:2] == installed.split(".")[:2], (
        f"the hook's ruff {ruff_repo['rev']} and the venv's ruff {installed} would disagree"
    )
    assert [h["id"] for h in repos["https://github.com/kynan/nbstripout"]["hooks"]] == ["nbstripout"]
    review_hook = repos["local"]["hooks"][0]
    assert review_hook["entry"] == "workshop review" and review_hook["stages"] == ["pre-push"]


def test_ci_runs_make_test_with_its_services():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert "make test" in runs and "chromium" in runs and "maven" in runs
    assert uses["actions/setup-java"]["with"]["java-version"] == "17"
    assert workflow["jobs"]["test"]["env"]["CI"] == "true"  # Elasticsearch becomes required, not skipped
    review = "\n".join(s.get("run", "") for s in workflow["jobs"]["review"]["steps"])
    assert "workshop review" in review and "--format github" in review
    assert "${{" not in review  # the PR body reaches the script through the environment only


def test_pull_request_template_checklist_and_owners():
    items = checklist((ROOT / ".github" / "pull_request_template.md").read_text())
    assert len(items) >= 4 and not any(i.ticked for i in items)
    owners = (ROOT / ".github" / "CODEOWNERS").read_text()
    assert "/workshop/review/" in owners
    assert "workshop review" in (ROOT / "CONTRIBUTING.md").read_text()


def test_the_cli_knows_the_review_command():
    done = subprocess.run([sys.executable, "-m", "workshop.cli", "review", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--format {text,json,github}" in done.stdout
