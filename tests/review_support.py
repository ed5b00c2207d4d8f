"""The small repository most review tests start from: a ruff configuration, one app module
with its test, and the PR template on `main`, with the branch `change` checked out."""

from __future__ import annotations

from pathlib import Path

from workshop.review.examples import PR_TEMPLATE, Builder


def small_repository(path: Path, extra: dict[str, str] | None = None) -> Builder:
    """`extra`: more files of the base commit, by path."""
    b = Builder(path)
    b.commit(
        "base",
        {
            "pyproject.toml": "[tool.ruff.lint]\nselect = ['E', 'F']\n",
            "app/__init__.py": "",
            "app/models.py": "import os\n\nX = 1\n",
            "tests/test_models.py": "def test_x():\n    assert True\n",
            ".github/pull_request_template.md": PR_TEMPLATE,
            **(extra or {}),
        },
    )
    b.branch("change")
    return b
