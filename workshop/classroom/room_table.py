"""The room at a glance: one row per attendee, one column per exercise (from the notebooks'
"### Exercise N: title (M min)" headings, plus any exercise someone checked), and the same
figures as the CSV `nbgrader export` writes, for instructors who grade with nbgrader."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from workshop.lessons import roomtime

PASSED, TRIED = "✔", "✘"
# nbgrader's CsvExportPlugin columns (jupyter/nbgrader, nbgrader/plugins/export.py)
NBGRADER_COLUMNS = (
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
)


def notebook_exercises(folder: Path = roomtime.NOTEBOOKS_DIR) -> list[tuple[str, int]]:
    found = set()
    for notebook in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                found.update((notebook.name[:2], int(m["number"])) for m in roomtime.EXERCISE.finditer(text))
    return sorted(found)


def columns(attendees) -> list[tuple[str, int]]:
    seen = {(row["chapter"], row["exercise"]) for a in attendees for row in a.progress}
    return sorted(seen | set(notebook_exercises()))


def cell(row: dict | None) -> str:
    """✔ passed, ✘N tried N times without passing; h<n> hints shown, r solution revealed."""
    if row is None:
        return ""
    mark = PASSED if row["passed_at"] else (f"{TRIED}{row['attempts']}" if row["attempts"] else "·")
    return mark + (f"h{row['hints']}" if row["hints"] else "") + ("r" if row["revealed"] else "")


def render(attendees) -> str:
    cols = columns(attendees)
    header = ["attendee", *(f"{c}.{n}" for c, n in cols), "passed"]
    rows = []
    for a in attendees:
        by_key = {(r["chapter"], r["exercise"]): r for r in a.progress}
        passed = sum(1 for r in a.progress if r["passed_at"])
        state = "" if a.exists else " (no database yet)"
        state = f" ({a.problem})" if a.problem else state
        rows.append([a.role + state, *(cell(by_key.get(k)) for k in cols), f"{passed}/{len(cols)}"])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"\n{PASSED} passed, {TRIED}N tried N times, · hints only; h<n> hints shown, r solution revealed")
    return "\n".join(lines)


def write_nbgrader_csv(attendees, path: Path) -> int:
    """One row per attendee and chapter, in `nbgrader export`'s columns: the chapter is the
    assignment, an exercise passed is a point. Returns the rows written."""
    cols = columns(attendees)
    chapters = sorted({c for c, _ in cols})
    written = 0
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(NBGRADER_COLUMNS)
        for chapter in chapters:
            max_score = sum(1 for c, _ in cols if c == chapter)
            for a in attendees:
                passed = [r for r in a.progress if r["chapter"] == chapter and r["passed_at"]]
                last = max((r["passed_at"] for r in passed), default=None)
                score = float(len(passed))
                out.writerow(
                    [chapter, "", last.isoformat() if last else "", a.role, "", "", "", score, 0.0, score, max_score]
                )
                written += 1
    return written
