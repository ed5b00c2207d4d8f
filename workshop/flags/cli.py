"""`workshop flags stale [PATH] [--days N]`: flag debt, with exit code 1 when there is any
(for CI). Registered by workshop/cli.py's theme discovery."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    flags = subparsers.add_parser("flags", help="feature flags: find stale flags (flag debt)")
    sub = flags.add_subparsers(dest="flags_command", required=True, metavar="ACTION")
    stale = sub.add_parser("stale", help="flags unused in the code, missing from the database, or fully rolled out for long")
    stale.add_argument("path", nargs="?", default=".", help="folder or .py file to scan (default: .)")
    stale.add_argument("--days", type=int, default=30, help="fully rolled out for longer than this is stale (default 30)")
    stale.set_defaults(func=cmd_stale)


def cmd_stale(args: argparse.Namespace) -> int:
    from django.conf import settings

    from workshop.flags import stale

    if not settings.configured:  # the CLI: the workshop's database; a test: its own, already set up
        from workshop import django_setup
        from workshop.services import postgres

        django_setup.configure(postgres.resolve().url)
        django_setup.migrate()
    report = stale.check(args.path, args.days)
    print(report)
    return 1 if report.problems else 0
