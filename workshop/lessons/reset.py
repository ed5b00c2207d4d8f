"""`workshop reset [CHAPTER]`: a chapter starts from the same state however the room got there.

Two parts: the chapter's own objects (schemas, flags, triggers, outbox, indexes), removed by
the theme's `reset.py` (each theme knows its own; the core only finds them), then the shop
dataset as loaded, restored from the copy the loader saved (only the tables that changed).
A theme whose `reset.py` says `DATABASE = False` (chapter 01 works on git repositories and
local files) is reset alone without Django or PostgreSQL: nothing is started for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field

from workshop.errors import WorkshopError

CHAPTERS = ("01", "02", "03", "04", "05")
NO_DATABASE = "no database: this chapter works on git repositories and local files only"


@dataclass
class ResetReport:
    chapters: dict[str, list[str]] = field(default_factory=dict)  # chapter -> what was removed
    dataset: str = ""

    def __str__(self) -> str:
        lines = [
            f"chapter {chapter}: {'; '.join(removed) if removed else 'nothing of its own to remove'}"
            for chapter, removed in self.chapters.items()
        ]
        return "\n".join([*lines, self.dataset])

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def theme_resets() -> dict[str, object]:
    """{chapter: the theme's reset module}, found the way the CLI finds theme commands."""
    import workshop

    found = {}
    for info in sorted(pkgutil.iter_modules(workshop.__path__), key=lambda i: i.name):
        if info.ispkg and info.name != "lessons" and importlib.util.find_spec(f"workshop.{info.name}.reset"):
            module = importlib.import_module(f"workshop.{info.name}.reset")
            found[module.CHAPTER] = module
    return found


def check_chapter(chapter) -> str | None:
    if chapter is None:
        return None
    text = str(chapter).strip()
    text = text.zfill(2) if text.isdecimal() and len(text) <= 2 else text
    if text not in CHAPTERS:
        shown = repr(chapter) if len(repr(chapter)) <= 40 else repr(chapter)[:37] + "..."
        raise WorkshopError(f"There is no chapter {shown}", f"use one of {', '.join(CHAPTERS)}, or none for all")
    return text


def needs_database(chapter) -> bool:
    """Whether resetting `chapter` (all chapters when None) needs the database set up first."""
    chapter = check_chapter(chapter)
    return chapter is None or getattr(theme_resets().get(chapter), "DATABASE", True)


def reset(chapter: str | int | None = None) -> ResetReport:
    """Remove the chapter's own objects (every chapter's when None), then restore the dataset."""
    chapter = check_chapter(chapter)
    themes = theme_resets()
    if not needs_database(chapter):  # imports neither Django nor psycopg: nothing to connect to or start
        return ResetReport({chapter: themes[chapter].reset()}, NO_DATABASE)

    from django.db import connection, transaction

    from workshop.django_setup import require_setup
    from workshop.shop.data import load, snapshot

    require_setup()
    report = ResetReport()
    for key, module in sorted(themes.items()):
        if chapter in (None, key):
            report.chapters[key] = module.reset()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [load.LOCK_KEY])  # never beside a load
        saved = snapshot.label(cursor) is not None
        if saved:
            restored = snapshot.restore(cursor)
    if not saved:  # a database loaded before snapshots existed: load once more, which saves one
        dataset = load.current()
        if dataset is None:
            raise WorkshopError("No dataset is loaded", "run workshop.setup() first")
        result = load.load(dataset.size, dataset.seed, force=True, progress=False)
        report.dataset = f"dataset loaded again ({result.seconds:.1f} s; later resets restore from its saved copy)"
        return report
    if restored.tables:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in restored.tables))
    report.dataset = str(restored)
    return report
