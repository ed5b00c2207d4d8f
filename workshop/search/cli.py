"""`workshop search install|status|relay|query`: the search chapter from the shell.
Registered by workshop/cli.py's theme discovery."""

from __future__ import annotations

import argparse

BACKENDS = ("postgres", "outbox", "signals", "zombodb")


def register(subparsers) -> None:
    from workshop.search import zombodb_cli

    zombodb_cli.register(subparsers)  # `workshop zombodb ...`: its services, beside `workshop search`
    search = subparsers.add_parser("search", help="search: install backends, run the outbox relay, query")
    sub = search.add_subparsers(dest="search_command", required=True, metavar="ACTION")
    install = sub.add_parser("install", help="make a backend ready in the workshop database (idempotent)")
    install.add_argument("backend", choices=BACKENDS)
    install.set_defaults(func=cmd_install)
    status = sub.add_parser("status", help="which backends work here, and the outbox's backlog")
    status.set_defaults(func=cmd_status)
    relay = sub.add_parser("relay", help="run the outbox relay in the foreground (Ctrl-C stops it)")
    relay.add_argument("--once", action="store_true", help="drain the outbox, then exit")
    relay.set_defaults(func=cmd_relay)
    query = sub.add_parser("query", help="search the products and print the best rows")
    query.add_argument("text")
    query.add_argument("--backend", choices=BACKENDS, default="postgres")
    query.add_argument("--fuzzy", action="store_true", help="typo tolerance")
    query.add_argument("--limit", type=int, default=10)
    query.set_defaults(func=cmd_query)


def _setup() -> None:
    import workshop

    workshop.setup(progress=False)


def cmd_install(args: argparse.Namespace) -> int:
    _setup()
    from workshop.search import api

    print(api.install(args.backend, relay=False))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    _setup()
    from workshop.search import api, outbox, pg

    for backend, why in api.backends().items():
        print(f"{backend:9} {'ok' if not why else 'unavailable: ' + why}")
    print(f"postgres triggers: {'installed' if pg.installed() else 'not installed'}")
    print(f"outbox triggers: {'installed' if outbox.installed() else 'not installed'}; {outbox.backlog()}")
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    _setup()
    from workshop.search import api, outbox
    from workshop.search.relay import main

    argv = ["--dsn", outbox.dsn(), "--es-url", api.es_url(), "--prefix", api.prefix("outbox")]
    return main(argv + (["--once"] if args.once else []))


def cmd_query(args: argparse.Namespace) -> int:
    _setup()
    from workshop.search import api

    qs = api.products().search(args.text, backend=args.backend, fuzzy=args.fuzzy)
    for row in qs.results(args.limit):
        print(f"{row['score']:8.3f}  {row['id']:>7}  {row['title']}  [{row['category']}]")
    print(f"{qs.count():,} matches; facets: {qs.facets()}")
    return 0
