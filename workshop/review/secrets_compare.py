"""Recall and precision of the secret detector on the labelled corpus, beside detect-secrets
(Yelp's scanner, default plugins and filters) on the very same lines, each alone in a file of
the name the corpus gives it (detect-secrets picks its keyword patterns by file type)."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workshop.review.secret_corpus import Row, load
from workshop.review.secrets import scan_line


@dataclass
class Scores:
    tool: str
    flagged: list[bool]  # per corpus row
    rows: list[Row] = field(repr=False, default_factory=list)

    def _count(self, label: int, hit: bool) -> int:
        return sum(r.label == label and f == hit for r, f in zip(self.rows, self.flagged))

    @property
    def recall(self) -> float:
        found = self._count(1, True)
        return found / (found + self._count(1, False))

    @property
    def precision(self) -> float:
        found = self._count(1, True)
        return found / (found + self._count(0, True)) if found + self._count(0, True) else 1.0


def ours(rows: list[Row]) -> Scores:
    return Scores("workshop", [bool(scan_line(r.file, n, r.line)) for n, r in enumerate(rows, 1)], rows)


def detect_secrets(rows: list[Row]) -> Scores:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    flagged = []
    with tempfile.TemporaryDirectory(prefix="workshop-secrets-") as tmp, default_settings():
        for i, r in enumerate(rows):  # one file per line: a YAML file of unrelated lines would not parse
            path = Path(tmp) / str(i) / r.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(r.line + "\n", "utf-8")
            flagged.append(any(True for _ in scan_file(str(path))))
    return Scores("detect-secrets", flagged, rows)


def compare() -> tuple[Scores, Scores, dict[str, Counter]]:
    """Both tools' scores and where they disagree: per file context, the lines only one gets right."""
    rows = load()
    a, b = ours(rows), detect_secrets(rows)
    wins: dict[str, Counter] = {a.tool: Counter(), b.tool: Counter()}
    for r, x, y in zip(rows, a.flagged, b.flagged):
        if x != y:
            winner = a.tool if x == bool(r.label) else b.tool
            what = "secret found" if r.label else "look-alike left alone"
            wins[winner][f"{context(r.file)}: {what}"] += 1
    return a, b, wins


def context(file: str) -> str:
    name = Path(file).name
    suffix = Path(file).suffix
    if name.startswith(".env"):
        return ".env"
    return {".yml": "YAML", ".yaml": "YAML", ".py": "Python", ".js": "JavaScript", ".sh": "shell"}.get(
        suffix, suffix or name
    )
