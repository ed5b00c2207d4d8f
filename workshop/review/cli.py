"""`workshop review [PATH] [--base REF] [--head REF] [--format text|json|github] [--description FILE|-]`:
an exit status a CI job or a pre-push hook can act on (EXIT_CODES)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# A failing review and a crashed reviewer must not look alike to CI: the first blocks the merge,
# the second is a bug to report (re-run with WORKSHOP_DEBUG=1 for the traceback).
EXIT_PASS, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CRASH = 0, 1, 2, 3
EXIT_CODES = f"""exit status:
  {EXIT_PASS}  the review passed (warnings allowed)
  {EXIT_FAILED}  the review failed: a rule says fail
  {EXIT_BAD_INPUT}  bad input: not a repository, no such ref, no description file (one line on stderr)
  {EXIT_CRASH}  the reviewer crashed: a bug (one line on stderr; WORKSHOP_DEBUG=1 shows the traceback)"""


def cmd_review(args: argparse.Namespace) -> int:
    from workshop.errors import WorkshopError, debug_enabled
    from workshop.review import review

    description = args.description
    if description == "-":  # e.g. printf '%s' "$PR_BODY" | workshop review --description -
        description = sys.stdin.buffer.read().decode("utf-8", "replace")
    elif description:
        description = Path(description)
    try:
        report = review(args.path, base=args.base, head=args.head, description=description)
        print({"text": report.text, "json": report.json, "github": report.github}[args.format]())
    except (WorkshopError, KeyboardInterrupt):
        raise  # one line and exit 2 (130 for Ctrl-C), from workshop's main
    except Exception as exc:
        if debug_enabled():
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        first = (str(exc).splitlines() or [""])[0][:200]
        print(
            f"workshop review crashed: {type(exc).__name__}: {first} "
            "(a bug, not a verdict on the branch: re-run with WORKSHOP_DEBUG=1 and report the traceback)",
            file=sys.stderr,
        )
        return EXIT_CRASH
    return EXIT_FAILED if report.failed else EXIT_PASS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "review",
        help="check a branch like a pull request: size, tests, ruff findings the change introduces, "
        "description, leftovers, secrets (exit 1 on a failing review, 3 on a crash)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="the PR description (a file, or - for standard input), checked against the base's PR template",
    )
    p.set_defaults(func=cmd_review)
