"""`workshop flags stale [PATH] [--days N]`: flag debt, with exit code 1 when there is any
(for CI). `workshop flags is-on KEY [--user ID]`: one flag evaluated outside any request, as
a management command or a job would (the same answer the product page gives that user).
`workshop flags status`: the flag listener's state (exit 1 unless it is listening).
Registered by workshop/cli.py's theme discovery."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    flags = subparsers.add_parser("flags", help="feature flags: find stale flags (flag debt)")
    sub = flags.add_subparsers(dest="flags_command", required=True, metavar="ACTION")
    stale = sub.add_parser(
        "stale", help="flags unused in the code, missing from the database, or fully rolled out for long"
    )
    stale.add_argument("path", nargs="?", default=".", help="folder or .py file to scan (default: .)")
    stale.add_argument(
        "--days", type=int, default=30, help="fully rolled out for longer than this is stale (default 30)"
    )
    stale.set_defaults(func=cmd_stale)
    check = sub.add_parser("is-on", help="evaluate one flag for one user, outside any request")
    check.add_argument("key", help="the flag's name")
    check.add_argument("--user", type=int, default=None, help="the user's id (default: an anonymous visitor)")
    check.set_defaults(func=cmd_is_on)
    status = sub.add_parser("status", help="the flag listener: its state, the flags it holds, the last error")
    status.set_defaults(func=cmd_status)


def _django() -> None:
    from django.conf import settings

    if not settings.configured:  # the CLI: the workshop's database; a test: its own, already set up
        from workshop import django_setup
        from workshop.services import postgres

        django_setup.configure(postgres.resolve().url)
        django_setup.migrate()


def cmd_is_on(args: argparse.Namespace) -> int:
    _django()
    from django.contrib.auth.models import User

    from workshop.errors import WorkshopError
    from workshop.flags import rules
    from workshop.flags.client import FlagClient, context_for_user, get_client
    from workshop.flags.validation import check_key

    check_key(args.key)
    user = None
    if args.user is not None:
        user = User.objects.filter(pk=args.user).first()
        if user is None:
            raise WorkshopError(f"No user with id {args.user}", "give the id of an existing user (auth_user)")
    client = get_client()
    strict = FlagClient(client.store, on_unknown="error")  # a typo on the command line is an error
    context = context_for_user(user)
    answer = strict.is_on(args.key, context=context)
    print(
        f"{args.key}: {'on' if answer else 'off'} for {user or 'an anonymous visitor'} "
        f"({rules.reason(client.store.get(args.key), context)})"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """This process's listener after its first attempt, and the listeners connected to the
    database (every process's store names its connection); exit 1 unless listening."""
    _django()
    from django.db import connection

    from workshop.flags.client import get_client

    report = get_client().store.status()
    print(f"this process: {report}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE %s",
            ["workshop.flags% listener"],
        )
        print(f"flag listeners connected to this database: {cursor.fetchone()[0]}")
    return 0 if report.ok else 1


def cmd_stale(args: argparse.Namespace) -> int:
    from workshop.flags import stale

    _django()
    report = stale.check(args.path, args.days)
    print(report)
    return 1 if report.problems else 0
