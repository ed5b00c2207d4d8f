"""The room-time model: how long a chapter takes in a room, computed the same way for every
chapter from the notebook itself and the run times measured by the notebook test.

- prose: 150 words a minute (markdown cells, links' addresses not counted);
- each code cell: 1 minute to read and run, plus its execution time as measured;
- each exercise: the minutes its heading declares, "### Exercise N: title (M min)", at least 5
  (the answer cell that calls check() adds only its execution time);
- each widget: the minutes its cell declares in metadata {"workshop": {"widget_minutes": M}},
  on top of the cell's minute.

Sections are the level-2 headings, "## 3 · Title (8 min)": the minutes in brackets are the
section's stated estimate, which must not be below the model's. The main path is every section
before the first heading that starts with "Later" or "Appendix"; it must fit 35 minutes
(10 for the setup check), exercises included.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from workshop import config

WORDS_PER_MINUTE = 150
CODE_CELL_MINUTES = 1.0
EXERCISE_MIN_MINUTES = 5
MAIN_PATH_LIMIT = 35
LIMITS = {"00": 10}  # the setup check is a warm-up, not a chapter

NOTEBOOKS_DIR = config.CHECKOUT_DIR / "notebooks"
MEASURED_DIR = config.CHECKOUT_DIR / "test-artifacts" / "cell_seconds"  # written by tests/test_notebooks.py

_MINUTES = r"\(\s*[~≈]?\s*(?P<minutes>\d+)\s*min\s*\)"
SECTION = re.compile(rf"^##\s+(?P<title>.+?)\s*(?:{_MINUTES})?\s*$")
EXERCISE = re.compile(rf"^###\s+Exercise\s+(?P<number>\d+)\b.*?{_MINUTES}", re.MULTILINE)
LATER = re.compile(r"^##\s+(later|appendix)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+")


@dataclass
class Section:
    title: str
    stated: int | None  # minutes in its heading; None when missing
    later: bool
    minutes: float = 0.0  # the model's
    parts: dict[str, float] = field(default_factory=lambda: {"prose": 0.0, "code": 0.0, "run": 0.0, "exercises": 0.0})

    def add(self, part: str, minutes: float) -> None:
        self.parts[part] += minutes
        self.minutes += minutes

    @property
    def fits(self) -> bool:
        return self.stated is not None and self.stated >= math.ceil(self.minutes - 1e-9)


@dataclass
class Chapter:
    notebook: str
    sections: list[Section]
    measured: bool  # were execution times available

    @property
    def key(self) -> str:
        return self.notebook[:2]

    @property
    def limit(self) -> int:
        return LIMITS.get(self.key, MAIN_PATH_LIMIT)

    @property
    def main_path(self) -> float:
        return sum(s.minutes for s in self.sections if not s.later)

    @property
    def later(self) -> float:
        return sum(s.minutes for s in self.sections if s.later)

    def problems(self) -> list[str]:
        found = []
        for s in self.sections:
            if s.later or s is self.sections[0]:  # the opening (title, introduction) is counted, not stated
                continue
            if s.stated is None:
                found.append(f"{self.notebook}: section '{s.title}' states no estimate (add '(N min)' to its heading)")
            elif not s.fits:
                found.append(
                    f"{self.notebook}: section '{s.title}' states {s.stated} min, the model says {s.minutes:.1f}"
                )
        if self.main_path > self.limit:
            found.append(f"{self.notebook}: main path {self.main_path:.1f} min is over {self.limit} min")
        return found


def words(text: str) -> int:
    return len(_WORD.findall(_LINK_TARGET.sub(" ", text)))


def measured_seconds(notebook: Path) -> dict[str, float] | None:
    """{cell id: seconds} from the last notebook test run, or None when never measured."""
    file = MEASURED_DIR / f"{notebook.stem}.json"
    try:
        return json.loads(file.read_text())
    except (FileNotFoundError, ValueError):
        return None


def model(notebook: Path, seconds: dict[str, float] | None = None) -> Chapter:
    """The chapter's sections with the model's minutes. `seconds`: {cell id: execution seconds}
    (default: the last notebook test run's, else none)."""
    notebook = Path(notebook)
    cells = json.loads(notebook.read_text())["cells"]
    seconds = measured_seconds(notebook) if seconds is None else seconds
    sections = [Section("(opening)", None, False)]
    later = False
    for cell in cells:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            chunk: list[str] = []  # prose belongs to the section whose heading precedes it, even within one cell
            for line in [*text.splitlines(), "## (end of cell)"]:
                heading = SECTION.match(line)
                if not heading:
                    chunk.append(line)
                    continue
                prose = "\n".join(chunk)
                sections[-1].add("prose", words(prose) / WORDS_PER_MINUTE)
                for exercise in EXERCISE.finditer(prose):
                    sections[-1].add("exercises", max(int(exercise["minutes"]), EXERCISE_MIN_MINUTES))
                chunk = [line]
                if line != "## (end of cell)":
                    later = later or bool(LATER.match(line))
                    stated = int(heading["minutes"]) if heading["minutes"] else None
                    sections.append(Section(heading["title"], stated, later))
        elif cell["cell_type"] == "code" and text.strip():
            current = sections[-1]
            is_answer = re.search(r"\bcheck\(\s*\d+", text) is not None
            widget = float(cell.get("metadata", {}).get("workshop", {}).get("widget_minutes", 0))
            if not is_answer:
                current.add("code", CODE_CELL_MINUTES + widget)
            current.add("run", (seconds or {}).get(cell.get("id", ""), 0.0) / 60)
    return Chapter(notebook.name, sections, seconds is not None)


def chapters(folder: Path = NOTEBOOKS_DIR) -> list[Chapter]:
    return [model(path) for path in sorted(Path(folder).glob("*.ipynb"))]


def table(chapter: Chapter) -> str:
    lines = [
        f"{chapter.notebook}: main path {chapter.main_path:.1f} min (limit {chapter.limit}), later {chapter.later:.1f} min"
        + ("" if chapter.measured else "  [run times not measured: run the notebook tests to include them]"),
        f"  {'section':<58} {'stated':>6} {'model':>6}  {'prose':>5} {'code':>5} {'run':>5} {'exerc.':>6}",
    ]
    for s in chapter.sections:
        mark = " (later)" if s.later else ("" if s.fits or s is chapter.sections[0] else "  <-- over its estimate")
        stated = "-" if s.stated is None else str(s.stated)
        p = s.parts
        lines.append(
            f"  {s.title[:58]:<58} {stated:>6} {s.minutes:>6.1f}  {p['prose']:>5.1f} {p['code']:>5.1f} "
            f"{p['run']:>5.1f} {p['exercises']:>6.0f}{mark}"
        )
    return "\n".join(lines)


def markdown(chapters_: list[Chapter]) -> str:
    """The main paths as one Markdown table (chapter, section, stated, model), for the README
    and the instructor guide."""
    lines = ["| chapter | section | stated (min) | model (min) |", "|---|---|---:|---:|"]
    for chapter in chapters_:
        for s in chapter.sections:
            if s.later or not s.minutes:
                continue
            lines.append(
                f"| {chapter.key} | {s.title} | {s.stated if s.stated is not None else ''} | {s.minutes:.1f} |"
            )
        lines.append(f"| **{chapter.key}** | **main path** (limit {chapter.limit}) | | **{chapter.main_path:.1f}** |")
    return "\n".join(lines)
