"""The `workshop` command: doctor, db, data, es, lab, bench, setup, plus the themes' own
subcommands (workshop/<theme>/cli.py)."""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum, frame) -> None:
    # Ctrl-C while the command is still importing: nothing has been touched yet, so say so in
    # one line instead of a traceback; main() puts Python's own handler back first thing.
    sys.stderr.write("workshop: interrupted while starting; nothing was changed.\n")
    os._exit(130)


# Only as the command (`workshop ...`, `python -m workshop.cli`), never when a kernel or a test
# imports this module; and not when Ctrl-C was ignored by whoever started us.
_as_command = __name__ == "__main__" or os.path.basename(sys.argv[0] if sys.argv else "") == "workshop"
if _as_command and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import argparse  # noqa: E402  (after the handler: imports are where an early Ctrl-C lands)
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

from workshop import config  # noqa: E402
from workshop.errors import WorkshopError  # noqa: E402


def cmd_doctor(args: argparse.Namespace) -> int:
    from workshop import doctor

    checks = doctor.run_checks()
    print(doctor.report(checks))
    return 1 if any(c.required and not c.ok for c in checks) else 0


def cmd_setup(args: argparse.Namespace) -> int:
    import workshop

    print(workshop.setup(args.size, progress=not args.quiet))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from workshop.services import postgres

    embedded = postgres.EmbeddedPostgres()
    if args.action == "up":
        db = postgres.resolve()
        print(f"PostgreSQL ready ({db.source}): {db.safe_url}")
    elif args.action == "down":
        if os.environ.get(config.ENV_DATABASE_URL):
            print(f"{config.ENV_DATABASE_URL} is set: that server is not ours to stop.")
        else:
            print("Embedded PostgreSQL stopped." if embedded.stop() else "Embedded PostgreSQL was not running.")
    elif args.action == "reset":
        if args.hard:
            from workshop.services import state

            state.repair()  # a corrupt marker must not stop the command that rebuilds the folder
            embedded.reset()
            print(f"Embedded PostgreSQL folder {embedded.pgdata} deleted; the next setup() builds it anew.")
            return 0
        db = postgres.resolve(start=True)
        # The database in use, as the server names it: libpq takes it from the URL's path,
        # its ?dbname= (which wins over the path), PGDATABASE or the user name.
        name = postgres.current_database(db)
        if db.source != "embedded" and not args.yes:
            raise WorkshopError(
                f"Refusing to drop database {name!r} on {db.safe_url} without --yes",
                "add --yes if you really mean that server",
            )
        if name in ("postgres", "template0", "template1", ""):
            raise WorkshopError(
                f"Refusing to drop {name or 'the default'!r}: it is the server's own database",
                f"point {config.ENV_DATABASE_URL} at a database of the workshop's",
            )
        postgres.drop_database(postgres.maintenance_database(db), name)
        print(f"Database {name!r} dropped; the next setup() migrates and loads it again.")
    elif args.action == "url":
        print(postgres.resolve().url)
    elif args.action == "psql":
        return _psql(postgres.resolve())
    return 0


def _psql(db) -> int:
    from shutil import which

    from workshop.services.child_env import libpq_env
    from workshop.services.postgres import EmbeddedPostgres

    candidates = [EmbeddedPostgres().bin_dir() / "psql", Path(which("psql") or "")]
    psql = next((p for p in candidates if p.name and p.is_file()), None)
    if psql is None:
        raise WorkshopError("No psql client found", "install PostgreSQL's client (psql) or use `workshop db url`")
    # The password goes in a private passfile, never in argv (`ps` shows argv to everyone)
    # nor in psql's environment (which the shells it starts with \! would inherit).
    with libpq_env(db.url) as (url, env):
        return subprocess.call([str(psql), url], env=env)


def cmd_data(args: argparse.Namespace) -> int:
    from workshop import django_setup
    from workshop.services import postgres
    from workshop.shop.data import get_size, load

    if args.action == "load":
        get_size(args.size)  # an unknown size fails before anything starts
    elif not args.file:
        raise WorkshopError(
            f"`workshop data {args.action}` needs a FILE", f"e.g. workshop data {args.action} shop.dataset"
        )
    db = postgres.resolve()
    django_setup.configure(db.url)
    django_setup.migrate()
    if args.action == "export":
        from workshop.shop.data import archive

        manifest = archive.export(args.file)
        rows = sum(t["rows"] for t in manifest["tables"])
        print(f"Exported the {manifest['size']} dataset (seed {manifest['seed']}): {rows:,} rows to {args.file}")
        return 0
    if args.action == "import":
        from workshop.shop.data import archive

        result = archive.import_(args.file, progress=not args.quiet)
    else:
        result = load.load(args.size, args.seed, force=args.force, progress=not args.quiet)
    if result.loaded:
        print(
            f"Loaded the {result.size} dataset: {result.rows:,} rows in {result.seconds:.1f} s "
            f"({result.rows_per_second:,.0f} rows/s)"
        )
    else:
        print(f"The {result.size} dataset is already loaded (use --force to load it again).")
    return 0


def cmd_es(args: argparse.Namespace) -> int:
    from workshop.services import elasticsearch, es_node

    if args.action == "up":
        print(f"Elasticsearch ready: {es_node.start(timeout=args.timeout)}")
    elif args.action == "down":
        print("Elasticsearch node stopped." if es_node.stop() else "No local Elasticsearch node was running.")
    elif args.action == "install":
        print(f"Elasticsearch installed in {es_node.install()}")
    else:
        found = elasticsearch.find()
        print(f"Elasticsearch {found.version} ({found.source}): {found.url}" if found.available else found.problem)
        return 0 if found.available else 1
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    import workshop

    print(workshop.setup(progress=True))
    notebooks = config.CHECKOUT_DIR / "notebooks"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--notebook-dir={notebooks}",
        "--ip=127.0.0.1",
        f"--port={args.port}",
        "--ServerApp.open_browser=" + ("False" if args.no_browser else "True"),
        # Offline-friendly: no news feed, no update check reaching for the internet. The news
        # feed is off only with None: an empty URL keeps it "enabled" in the page config.
        # (JupyterLab 4.6's "get notified about news?" toast ignores both; only disabling
        # the @jupyterlab/apputils-extension:announcements plugin in page_config.json hides it.)
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # Containers, CI and some workshop VMs run as root; Jupyter refuses to start there otherwise.
        "--ServerApp.allow_root=True",
    ]
    return subprocess.call(command)


def cmd_bench(args: argparse.Namespace) -> int:
    from workshop import bench
    from workshop.bench import recorded

    if args.record:  # one record file per benchmark, each with the conditions of its own run
        available = bench.discover()
        names = args.names or sorted(available)
        if unknown := [n for n in names if n not in available]:
            raise WorkshopError(
                f"Unknown benchmark {', '.join(unknown)}", f"choose from: {', '.join(sorted(available))}"
            )
        results = []
        for name in names:
            found = recorded.conditions(f"workshop bench {name} --record")
            produced = bench.run_one(name, available)
            print(f"wrote {recorded.write(name, produced, recorded.finish(found))}")
            results.extend(produced)
    else:
        results = bench.run(args.names)
    print(bench.table(results))
    if args.json:
        bench.write_json(results, Path(args.json))
        print(f"\nwrote {args.json}")
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints its usage and then the error; the workshop's errors are one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message.replace(chr(10), ' ')}. Run `{self.prog} --help` for the choices.\n")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port number (1-65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of seconds from 1 to 3600")
    return value


def _seed(text: str) -> int:
    from workshop.shop.data.load import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a seed (a whole number from 0 to {MAX_SEED})")
    return value


def parser() -> argparse.ArgumentParser:
    from workshop.shop.data import SIZES
    from workshop.shop.data.version import DEFAULT_SEED

    top = _OneLineParser(prog="workshop", description="The Django workshop's helper command.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_OneLineParser)

    sub.add_parser("doctor", help="check Python, packages, PostgreSQL, Elasticsearch, JupyterLab").set_defaults(
        func=cmd_doctor
    )

    p = sub.add_parser("setup", help="what workshop.setup() does in a notebook, then print the status")
    p.add_argument("--size", choices=list(SIZES), default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("db", help="the database: up, down, reset, url, psql")
    p.add_argument("action", choices=["up", "down", "reset", "url", "psql"])
    p.add_argument("--hard", action="store_true", help="reset: delete the embedded server's whole folder")
    p.add_argument(
        "--yes", action="store_true", help="reset: allow dropping the database on a server that is not embedded"
    )
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("data", help="the dataset: load --size tiny|workshop|bench, export FILE, import FILE")
    p.add_argument("action", choices=["load", "export", "import"])
    p.add_argument("file", nargs="?", metavar="FILE", help="export/import: the dataset file")
    p.add_argument("--size", default=config.default_size(), help=f"one of {', '.join(SIZES)}")
    p.add_argument("--seed", type=_seed, default=DEFAULT_SEED)
    p.add_argument("--force", action="store_true", help="load again even if this dataset is loaded")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("es", help="a local Elasticsearch node: install, up, down, status")
    p.add_argument("action", choices=["install", "up", "down", "status"])
    p.add_argument("--timeout", type=_seconds, default=120, help="up: seconds to wait for the node (default 120)")
    p.set_defaults(func=cmd_es)

    p = sub.add_parser("lab", help="set up, then start JupyterLab on notebooks/")
    p.add_argument("--port", type=_port, default=8888)
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("bench", help="run benchmarks and print a table (--json FILE to save)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--record", action="store_true", help="write data/bench/NAME.json, what the chapters show")
    p.set_defaults(func=cmd_bench)
    _theme_commands(sub)
    return top


def _theme_commands(sub) -> None:
    """Each theme may add its own subcommands in workshop/<theme>/cli.py with
    `register(subparsers)`, so the core never imports a theme by name."""
    import importlib
    import importlib.util
    import pkgutil

    import workshop

    for info in sorted(pkgutil.iter_modules(workshop.__path__), key=lambda i: i.name):
        if info.ispkg and importlib.util.find_spec(f"workshop.{info.name}.cli"):
            importlib.import_module(f"workshop.{info.name}.cli").register(sub)


def main(argv: list[str] | None = None) -> int:
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C is KeyboardInterrupt again
    from workshop.errors import debug_enabled

    try:  # building the parser imports numpy: a Ctrl-C there is an interruption like any other
        args = parser().parse_args(argv)
        return args.func(args)
    except WorkshopError as exc:
        if debug_enabled():  # WORKSHOP_DEBUG=1: the cause first, the one line last
            print(exc.debug_details(), file=sys.stderr)
        print(f"workshop: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workshop: interrupted; nothing was left half-written (loads are one transaction).", file=sys.stderr)
        return 130
    except Exception as exc:
        from workshop.errors import explain

        known = explain(exc)
        if known is None:
            raise
        if debug_enabled():
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        print(f"workshop: {known}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
