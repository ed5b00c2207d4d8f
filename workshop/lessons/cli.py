"""`workshop progress`: the exercises this attendee has passed (read from the local progress file)."""

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


def register(sub) -> None:
    p = sub.add_parser("progress", help="the exercises you have passed, hints used, solutions revealed")
    p.add_argument("--forget", metavar="CHAPTER", help="forget one chapter's progress (01..05), or 'all'")
    p.set_defaults(func=cmd_progress)
