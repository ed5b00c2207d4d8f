"""`workshop queries list | ask NAME | verify`: the chapter's questions from the shell.
Registered by workshop/cli.py's theme discovery."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    queries = subparsers.add_parser(
        "queries", help="query expressions: ask the shop's questions, check them against pandas"
    )
    sub = queries.add_subparsers(dest="queries_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="the questions and the expressions each one shows").set_defaults(func=cmd_list)
    ask = sub.add_parser("ask", help="run one question: its SQL and its first rows")
    ask.add_argument("name")
    verify = sub.add_parser("verify", help="every question in the database and in pandas; exit 1 on a difference")
    for parser in (ask, verify):
        parser.add_argument("--start", help="first day, YYYY-MM-DD")
        parser.add_argument("--end", help="last day, YYYY-MM-DD (included)")
        parser.add_argument("--category", help="category slug or name")
        parser.add_argument("--min-orders", default="2")
        parser.add_argument("--top", default="10")
    ask.add_argument("--rows", type=int, default=20, help="rows to print")
    ask.set_defaults(func=cmd_ask)
    verify.set_defaults(func=cmd_verify)


def _setup() -> None:
    from django.apps import apps

    if not apps.ready:  # the command line; a test has set Django up already
        import workshop

        workshop.setup(progress=False)


def _params(args: argparse.Namespace):
    from workshop.queries.params import Params

    return Params.parse(args.start, args.end, args.category, args.min_orders, args.top)


def cmd_list(args: argparse.Namespace) -> int:
    _setup()
    from workshop.queries.questions import QUESTIONS

    for q in QUESTIONS.values():
        print(f"{q.name:32} {q.title}  [{', '.join(q.features)}]")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    _setup()
    from workshop.queries.compare import to_frame
    from workshop.queries.explain import sql_of
    from workshop.queries.params import empty_reason
    from workshop.queries.questions import ask

    params = _params(args)
    queryset = ask(args.name, params)
    print(sql_of(queryset), end="\n\n")
    rows = to_frame(queryset)
    print(empty_reason(params) if rows.empty else rows.head(args.rows).to_string(index=False))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    _setup()
    from workshop.queries.compare import verify_all

    table = verify_all(_params(args))
    print(table[["question", "rows", "agrees with pandas", "difference"]].to_string(index=False))
    return 0 if table["agrees with pandas"].all() else 1
