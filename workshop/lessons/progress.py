"""The attendee's progress, kept locally: which exercises passed, how many hints were shown,
which solutions were revealed. One JSON file in the state folder, rewritten whole (atomically)
on each change, so two kernels never leave it half-written; a later write wins.

Recording never gets in the way of a check: if the file cannot be written, `record()` says so
in a short note that the verdict shows, and the verdict stands.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.services import state

FILE = "progress.json"


def path() -> Path:
    return state.home() / FILE


def load(file: Path | None = None) -> dict[str, dict[str, dict]]:
    """{chapter: {exercise number: {"passed_at", "attempts", "hints", "revealed"}}}; empty when none yet."""
    file = file or path()
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError):
        raise WorkshopError(
            f"The progress file {file} is not valid JSON",
            "delete it to start your progress afresh (your answers in the notebooks are not in it)",
        ) from None
    if not isinstance(data, dict):
        raise WorkshopError(f"The progress file {file} is not a progress record", "delete it to start afresh")
    return data


def record(
    chapter: str, number: int, *, passed: bool | None = None, hints: int | None = None, revealed: bool = False
) -> str:
    """Add one event to the progress file. Returns "" when saved, else a short note why not."""
    try:
        file = path()
        with open(file.with_suffix(".lock"), "a") as lock:  # two kernels checking at once: one at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = load(file)
            entry = data.setdefault(chapter, {}).setdefault(str(number), {"attempts": 0, "hints": 0})
            if passed is not None:
                entry["attempts"] = entry.get("attempts", 0) + 1
                if passed and not entry.get("passed_at"):
                    entry["passed_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            if hints is not None:
                entry["hints"] = max(entry.get("hints", 0), hints)
            if revealed:
                entry["revealed"] = True
            state.write_private(file, json.dumps(data, indent=1, sort_keys=True))
    except WorkshopError as problem:
        return f"progress not saved: {problem.problem}"
    except OSError as error:
        return f"progress not saved: {error.strerror or error}"
    from workshop.classroom import room_progress

    return room_progress.push(data)  # in classroom mode, where the instructor sees the room


def table(data: dict | None = None) -> list[dict]:
    """One row per exercise attempted: chapter, exercise, passed, attempts, hints, revealed."""
    data = load() if data is None else data
    rows = []
    for chapter in sorted(data):
        for number in sorted(data[chapter], key=int):
            entry = data[chapter][number]
            rows.append(
                {
                    "chapter": chapter,
                    "exercise": int(number),
                    "passed": bool(entry.get("passed_at")),
                    "attempts": entry.get("attempts", 0),
                    "hints": entry.get("hints", 0),
                    "revealed": bool(entry.get("revealed")),
                }
            )
    return rows


def reset(chapter: str | None = None) -> None:
    """Forget one chapter's progress (or all of it)."""
    file = path()
    with open(file.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = {} if chapter is None else {k: v for k, v in load(file).items() if k != chapter}
        state.write_private(file, json.dumps(data, indent=1, sort_keys=True))
