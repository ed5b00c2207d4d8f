"""review(): load the change, run every rule, propose a split when it is too large."""

from __future__ import annotations

import os
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.review import rules
from workshop.review.change import load_change
from workshop.review.report import Report
from workshop.review.split import propose_split
from workshop.review.template import template_text


def review(
    path: str | os.PathLike = ".",
    base: str | None = None,
    head: str = "HEAD",
    description: str | os.PathLike | None = None,
    thresholds: dict | None = None,
) -> Report:
    """Review `head` of the repository at `path` against `base` (default: main or master).

    description: the PR description's text (a str), or a Path to a file holding it.
    """
    t = {**rules.THRESHOLDS, **(thresholds or {})}
    change = load_change(path, base, head)
    text = _description_text(description)
    results = [
        rules.size(change, t),
        rules.tests(change, t),
        *rules.lint_and_debug(change, t),
        rules.migrations(change, t),
        rules.binaries(change, t),
        rules.secret_strings(change, t),
        rules.notebooks(change, t),
        rules.commits(change, t),
        rules.description(change, t, text, template_text(change.repo, change.base)),
    ]
    note = ""
    if not change.files:
        note = (
            f"No changes against {change.base_ref}: {change.head_ref} is at its merge-base. "
            "To review recent work on this branch, pass a base such as --base HEAD~5."
        )
    size_status = results[0].status
    split = propose_split(change, t["lines_warn"]) if size_status != rules.PASS else []
    return Report(change, results, split if len(split) > 1 else [], note)


def _description_text(description: str | os.PathLike | None) -> str | None:
    """A str is the description itself, however long or whatever it holds (a one-line body is
    not a file name); a path names the file holding it."""
    if description is None or isinstance(description, str):
        return description
    file = Path(description)
    if not file.is_file():
        raise WorkshopError(f"Description file {file} does not exist", "pass the file holding the PR description")
    return file.read_text("utf-8", "replace")
