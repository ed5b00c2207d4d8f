"""`workshop review [PATH] [--base REF] [--head REF] [--format text|json|github] [--description FILE|-]`:
exit 1 when a rule fails, so it can gate CI or a pre-commit hook."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_review(args: argparse.Namespace) -> int:
    from workshop.review import review

    description = args.description
    if description == "-":  # e.g. printf '%s' "$PR_BODY" | workshop review --description -
        description = sys.stdin.read()
    elif description:
        description = Path(description)
    report = review(args.path, base=args.base, head=args.head, description=description)
    print({"text": report.text, "json": report.json, "github": report.github}[args.format]())
    return 1 if report.failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "review",
        help="check a branch like a pull request: size, tests, ruff on changed "
        "lines, description, leftovers, secrets (exit 1 on a failure)",
    )
    p.add_argument("path", nargs="?", default=".", help="a folder inside the git repository (default: here)")
    p.add_argument("--base", metavar="REF", help="what the branch is compared with (default: main or master)")
    p.add_argument("--head", metavar="REF", default="HEAD", help="the branch or commit to review (default: HEAD)")
    p.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="github: workflow commands that annotate the pull request's files",
    )
    p.add_argument(
        "--description",
        metavar="FILE",
        help="the PR description (a file, or - for standard input), checked against the PR template",
    )
    p.set_defaults(func=cmd_review)
