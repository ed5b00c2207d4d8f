"""`workshop zombodb build | up | down | status`: ZomboDB on this machine, without Docker.

build: the extension from its source release (cached, see workshop/services/zombodb_build.py);
up: the OpenSearch node, PostgreSQL 15 with the extension, the shop dataset loaded there by
the same loader, the ZomboDB indexes; down: both stopped; status: what is built and running,
and why not."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    zdb = subparsers.add_parser("zombodb", help="ZomboDB without Docker: build the extension, start its services")
    sub = zdb.add_subparsers(dest="zombodb_command", required=True, metavar="ACTION")
    sub.add_parser("build", help="build the extension from its source release (cached: seconds the second time)")
    up = sub.add_parser("up", help="start PostgreSQL 15 with ZomboDB and its OpenSearch node, load the dataset")
    up.add_argument("--size", default=None, help="dataset size (default: the workshop's)")
    sub.add_parser("down", help="stop both")
    sub.add_parser("status", help="what is built and running, and why not")
    sub.add_parser("url", help="print the database URL of the ZomboDB server (for WORKSHOP_DATABASE_URL)")
    zdb.set_defaults(func=run)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    return {"build": cmd_build, "up": cmd_up, "down": cmd_down, "status": cmd_status, "url": cmd_url}[
        args.zombodb_command
    ](args)


def cmd_build(args: argparse.Namespace) -> int:
    from workshop.services import zombodb_build

    zombodb_build.build(say)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from workshop.search import zombodb_db

    url = zombodb_db.start(say)
    say("loading the shop dataset and creating the ZomboDB indexes")
    say(f"  {zombodb_db.load(url, args.size)}")
    print(url)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from workshop.search import zombodb_db

    for line in zombodb_db.stop():
        print(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from workshop.search import zombodb_db

    lines, ok = zombodb_db.status()
    for line in lines:
        print(line)
    return 0 if ok else 1


def cmd_url(args: argparse.Namespace) -> int:
    from workshop.search import zombodb_db

    print(zombodb_db.database_url(required=True))
    return 0
