"""Fill the room's template database: migrations, the dataset (generated, or imported from a
`workshop data export` file) and the progress table, every object owned by the owner role.

Run as a child process (`python -m workshop.classroom.template`), so the instructor's own
process (or a test's) keeps whatever Django configuration it has; the URL, which holds the
instructor's password, comes on stdin, never in argv or the environment."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from workshop.classroom import names
from workshop.errors import WorkshopError


def as_owner(url: str) -> str:
    """The URL with libpq's options=-c role=<owner role>: the session runs as the owner role,
    so everything the migrations and the loader create belongs to it."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    query.append(("options", f"-c role={names.OWNER_ROLE}"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def fill(url: str, size: str, seed: int, snapshot: str | None) -> dict:
    """In a fresh process only: configure Django on the template and fill it."""
    import psycopg

    from workshop import django_setup
    from workshop.classroom import room_progress
    from workshop.shop.data import load

    django_setup.configure(url)
    django_setup.migrate()
    if snapshot:
        from workshop.shop.data import archive

        result = archive.import_(snapshot, progress=False)
    else:
        result = load.load(size, seed, progress=False)
    with psycopg.connect(url, autocommit=True) as conn:
        room_progress.ensure_table(conn)
    dataset = load.current()
    return {"size": dataset.size, "seed": dataset.seed, "rows": result.rows, "seconds": result.seconds}


def run_child(url: str, size: str, seed: int, snapshot: str | None) -> dict:
    from workshop.services.child_env import allowed_env

    env = allowed_env(("PYTHONPATH", "WORKSHOP_HOME", "WORKSHOP_DEBUG"))
    args = [sys.executable, "-m", "workshop.classroom.template", "--size", size, "--seed", str(seed)]
    if snapshot:
        args += ["--snapshot", str(snapshot)]
    done = subprocess.run(args, input=url, env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise WorkshopError(f"Filling the template failed ({last})", "run it again with WORKSHOP_DEBUG=1 for the cause")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.classroom.template")
    parser.add_argument("--size", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--snapshot")
    args = parser.parse_args()
    url = sys.stdin.read().strip()
    try:
        print(json.dumps(fill(as_owner(url), args.size, args.seed, args.snapshot)))
    except WorkshopError as exc:
        print(f"workshop: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
