"""ruff on the changed Python files, keeping only findings on added lines (what diff-cover
and reviewdog call "filter mode: added"): nobody is asked to fix the lines they did not touch.

The head side of each file is written to a temporary folder (the branch need not be checked
out) with the repository's ruff configuration from the same commit, and ruff runs once on all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.review import paths
from workshop.review.diff import Change

CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
# Debugging leftovers are ruff rules too (flake8-debugger, flake8-print): one ruff run finds both.
DEBUG_RULES = ("T100", "T201", "T203")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


def ruff_command() -> list[str]:
    candidate = Path(sys.executable).parent / "ruff"
    if candidate.is_file():
        return [str(candidate)]
    try:
        from ruff.__main__ import find_ruff_bin

        return [find_ruff_bin()]
    except ImportError as exc:
        raise WorkshopError("ruff is not installed in this environment", "pip install ruff") from exc


def ruff_findings(change: Change) -> list[Finding]:
    """Findings of the repository's ruff rules (plus the debug rules) on added lines."""
    files = [
        f for f in change.files if paths.is_python(f.path) and f.status != "deleted" and not f.binary and f.added_lines
    ]
    if not files:
        return []
    repo = change.repo
    configs = [c for c in CONFIG_FILES]
    blobs = repo.blobs([f"{change.head}:{f.path}" for f in files] + [f"{change.head}:{c}" for c in configs])
    with tempfile.TemporaryDirectory(prefix="workshop-review-") as tmp:
        root = Path(tmp)
        for name in configs:
            data = blobs.get(f"{change.head}:{name}")
            if data is not None:
                (root / name).write_bytes(data)
        for f in files:
            target = root / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blobs.get(f"{change.head}:{f.path}") or b"")
        command = [
            *ruff_command(),
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--exit-zero",
            "--force-exclude",
            "--extend-select",
            ",".join(DEBUG_RULES),
            "--",
            *[f.path for f in files],
        ]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise WorkshopError(f"ruff failed on {change.head_ref}: {first}", "check the repository's ruff configuration")
    added = {f.path: {number for number, _ in f.added_lines} for f in files}
    findings = []
    for item in json.loads(done.stdout or "[]"):
        path = Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix()
        line = item["location"]["row"]
        if line in added.get(path, ()):
            findings.append(Finding(path, line, item["location"]["column"], item["code"] or "syntax", item["message"]))
    return sorted(findings, key=lambda f: (f.path, f.line, f.column))
