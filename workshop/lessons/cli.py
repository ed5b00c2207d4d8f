"""`workshop progress`, `workshop reset [CHAPTER]`, `workshop lessons time` and `workshop slides`."""

from __future__ import annotations

import argparse


def cmd_progress(args: argparse.Namespace) -> int:
    from workshop.lessons import progress

    if args.forget:
        progress.reset(None if args.forget == "all" else args.forget)
        print(f"progress forgotten: {args.forget}")
        return 0
    rows = progress.table()
    if not rows:
        print("no exercise checked yet (run a check(n, answer) cell in a chapter)")
        return 0
    print(f"{'chapter':<8} {'exercise':>8}  {'passed':<6} {'attempts':>8} {'hints':>5}  revealed")
    for row in rows:
        print(
            f"{row['chapter']:<8} {row['exercise']:>8}  {'yes' if row['passed'] else 'no':<6} "
            f"{row['attempts']:>8} {row['hints']:>5}  {'yes' if row['revealed'] else 'no'}"
        )
    passed = sum(row["passed"] for row in rows)
    print(f"\n{passed} of {len(rows)} exercises tried are passed")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    import workshop
    from workshop.lessons.reset import check_chapter, needs_database

    chapter = check_chapter(args.chapter)  # a wrong chapter fails before anything starts
    if needs_database(chapter):  # chapter 01 needs none: nothing is started for it
        workshop.setup(progress=False)
    print(workshop.reset(chapter))
    return 0


def cmd_lessons(args: argparse.Namespace) -> int:
    from workshop.lessons import roomtime

    chapters = roomtime.chapters()
    if args.chapter:
        chapters = [c for c in chapters if c.key == args.chapter.zfill(2)]
    if args.markdown:
        print(roomtime.markdown(chapters))
        return 0
    for chapter in chapters:
        print(roomtime.table(chapter), end="\n\n")
    problems = [p for c in chapters for p in c.problems()]
    for problem in problems:
        print(f"over: {problem}")
    return 1 if problems else 0


def cmd_slides(args: argparse.Namespace) -> int:
    from workshop.lessons import slides

    for path in slides.build(args.out, args.chapters or None):
        print(f"wrote {path}")
    print("Open a file in a browser (no network needed); or present live in JupyterLab with jupyterlab-rise.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("progress", help="the exercises you have passed, hints used, solutions revealed")
    p.add_argument("--forget", metavar="CHAPTER", help="forget one chapter's progress (01..05), or 'all'")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("reset", help="start a chapter again from the same state (all chapters without CHAPTER)")
    p.add_argument("chapter", nargs="?", metavar="CHAPTER", help="01..05")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("slides", help="each notebook as reveal.js slides that work offline (build/slides/)")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="00..05 (all without)")
    p.add_argument("--out", metavar="DIR", help="where to write them (default: build/slides)")
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("lessons", help="room time: each chapter's sections by the room-time model")
    p.add_argument("action", choices=["time"])
    p.add_argument("chapter", nargs="?", metavar="CHAPTER", help="00..05 (all without)")
    p.add_argument("--markdown", action="store_true", help="the main paths as one Markdown table")
    p.set_defaults(func=cmd_lessons)
