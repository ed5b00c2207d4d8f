"""The review: every rule's result, the split proposal, and three ways to print it
(text for people, JSON for tools, GitHub workflow commands for annotations on the PR)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

from workshop.review.diff import Change
from workshop.review.git import shown
from workshop.review.rules import FAIL, ORDER, PASS, RuleResult
from workshop.review.split import Part

MARK = {"pass": "ok  ", "warn": "warn", "fail": "FAIL"}


@dataclass
class Report:
    change: Change
    results: list[RuleResult]
    split: list[Part] = field(default_factory=list)
    note: str = ""

    @property
    def status(self) -> str:
        return max((r.status for r in self.results), key=ORDER.get, default=PASS)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def result(self, rule: str) -> RuleResult:
        return next(r for r in self.results if r.rule == rule)

    @property
    def title(self) -> str:
        c = self.change
        return f"{c.head_ref} ({c.head[:8]}) against {c.base_ref} (merge-base {c.base[:8]}), {len(c.commits)} commits"

    def text(self) -> str:
        lines = [self.title]
        if self.note:
            lines.append(self.note)
        for r in self.results:
            lines.append(f"{MARK[r.status]}  {r.rule:<12} {r.reason}")
            for path, line, message in r.findings[:20]:
                where = f"{shown(path)}{f':{line}' if line else ''}: " if path else ""
                lines.append(f"        {where}{message}")
            if len(r.findings) > 20:
                lines.append(f"        ... and {len(r.findings) - 20} more")
        if self.split:
            lines.append(f"Proposed split: a stack of {len(self.split)} pull requests, each based on the previous one")
            for i, part in enumerate(self.split, 1):
                lines.append(f"  {i}. {part.title}: {part.lines} lines in {len(part.files)} files")
        lines.append(f"Result: {self.status}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        c = self.change
        return {
            "repository": str(c.repo.root),
            "base": c.base_ref,
            "head": c.head_ref,
            "merge_base": c.base,
            "head_commit": c.head,
            "commits": len(c.commits),
            "merges": c.merges,
            "status": self.status,
            "note": self.note,
            "size": {
                "files": len(c.counted_files),
                "added": c.added,
                "removed": c.removed,
                "ignored_files": [shown(f.path) for f in c.files if not f.counted],
            },
            "files": [
                {
                    "path": shown(f.path),
                    "status": f.status,
                    "kind": f.kind,
                    "added": f.added,
                    "removed": f.removed,
                    "old_path": shown(f.old_path) if f.old_path else None,
                    "binary": f.binary,
                    "note": f.note,
                }
                for f in c.files
            ],
            "rules": [
                {
                    "rule": r.rule,
                    "status": r.status,
                    "reason": r.reason,
                    "findings": [{"path": shown(p), "line": n, "message": m} for p, n, m in r.findings],
                }
                for r in self.results
            ],
            "split": [
                {"title": p.title, "lines": p.lines, "files": [shown(f.path) for f in p.files]} for p in self.split
            ],
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def github(self) -> str:
        """GitHub Actions workflow commands: annotations on the files and lines of the PR."""
        level = {"fail": "error", "warn": "warning", "pass": "notice"}
        lines = []
        for r in self.results:
            if r.status == PASS:
                continue
            for path, line, message in [(p, n, m) for p, n, m in r.findings if p] or [("", 0, "")]:
                where = ",".join(
                    x
                    for x in (f"file={_escape_property(shown(path))}" if path else "", f"line={line}" if line else "")
                    if x
                )
                text = f"{r.rule}: {message or r.reason}"
                lines.append(
                    f"::{level[r.status]} {where}{',' if where else ''}title={_escape_property(r.rule)}"
                    f"::{_escape_data(text)}"
                )
        lines.append(f"::notice title=review::{_escape_data(self.title + ': ' + self.status)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"pass": "#2e7d32", "warn": "#b26a00", "fail": "#c62828"}
        rows = []
        for r in self.results:
            listed = "".join(
                f"<br><code>{escape(shown(p))}{f':{n}' if n else ''}</code> {escape(m)}" if p else f"<br>{escape(m)}"
                for p, n, m in r.findings[:8]
            )
            more = f"<br>... and {len(r.findings) - 8} more" if len(r.findings) > 8 else ""
            rows.append(
                f"<tr><td style='color:{colour[r.status]};font-weight:bold'>{r.status}</td>"
                f"<td>{r.rule}</td><td style='text-align:left'>{escape(r.reason)}{listed}{more}</td></tr>"
            )
        split = ""
        if self.split:
            items = "".join(
                f"<li>{escape(p.title)}: {p.lines} lines in {len(p.files)} files "
                f"<small>({escape(', '.join(shown(f.path) for f in p.files[:6]))}"
                f"{' ...' if len(p.files) > 6 else ''})</small></li>"
                for p in self.split
            )
            split = f"<p>Proposed split, a stack of {len(self.split)} pull requests:</p><ol>{items}</ol>"
        note = f"<p>{escape(self.note)}</p>" if self.note else ""
        return (
            f"<p><b>{escape(self.title)}</b>: <span style='color:{colour[self.status]};font-weight:bold'>"
            f"{self.status}</span></p>{note}<table><tr><th>status</th><th>rule</th><th style='text-align:left'>reason</th></tr>"
            f"{''.join(rows)}</table>{split}"
        )

    def __str__(self) -> str:
        return self.text()


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
