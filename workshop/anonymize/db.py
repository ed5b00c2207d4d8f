"""Connections of our own to the database Django uses (the test database under pytest):
the engine runs its own transactions and works in parallel, outside Django's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from workshop.errors import WorkshopError

# A plain PostgreSQL identifier, as the workshop names its schemas: nothing to quote, no
# path separators, no NUL, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def check_schema_name(name: object, what: str = "Schema", longest: int = 63) -> str:
    """`name` if it is a plain schema name; else a one-line WorkshopError echoing a short
    part of it (a 100k-character or NUL-laden value is never printed in full)."""
    if not isinstance(name, str) or len(name) > longest or not SCHEMA_NAME.fullmatch(name) or name.startswith("pg_"):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise WorkshopError(
            f"{what} schema name {shown} is not usable",
            f"use lower-case letters, digits and _ (at most {longest}, not starting with pg_ or a digit), e.g. 'anon'",
        )
    return name


def conninfo() -> dict:
    from django.db import connection

    from workshop.django_setup import require_setup

    require_setup()  # used before workshop.setup(): say which cell to run

    # Django's own parameters (OPTIONS merged in), minus its Python-side adapters.
    params = connection.get_connection_params()
    info = {
        k: v
        for k, v in params.items()
        if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")
    }
    info["application_name"] = "workshop.anonymize"
    return {k: v for k, v in info.items() if v not in (None, "")}


def connect(autocommit: bool = True) -> psycopg.Connection:
    # No automatic server-side prepare: a prepared statement gets a generic plan, where a
    # bound array is not a constant and `= ANY(array)` loses its hash (a scan per row).
    return psycopg.connect(**conninfo(), autocommit=autocommit, prepare_threshold=None)


# How long a build waits for a source table another transaction holds exclusively (a data
# load's TRUNCATE, a migration) before it gives up with a one-line error. A load of the
# tiny or small dataset takes seconds: waiting is friendlier than failing; two minutes
# bounds the wait on something that will not end soon.
LOCK_WAIT_SECONDS = 120


def lock_wait_error(what: str) -> WorkshopError:
    return WorkshopError(
        f"{what} stayed locked by another session (a data load or a migration) for more than {LOCK_WAIT_SECONDS} s",
        "run the build again once it has finished",
    )


def set_lock_wait(conn: psycopg.Connection) -> None:
    """lock_timeout for the current transaction only (SET LOCAL takes no snapshot)."""
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{LOCK_WAIT_SECONDS}s")))


def lock_tables(conn: psycopg.Connection, schema: str, tables) -> None:
    """ACCESS SHARE locks on `tables` of `schema` until the transaction ends, as pg_dump
    takes them: nothing can TRUNCATE, DROP or ALTER them (nor drop their indexes)
    meanwhile, while reads and writes go on. LOCK takes no snapshot: called first in a
    REPEATABLE READ transaction, the snapshot is taken after the locks are granted."""
    names = sorted(tables)
    if names:
        set_lock_wait(conn)
        try:
            conn.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(schema, name) for name in names)
                )
            )
        except psycopg.errors.LockNotAvailable:
            raise lock_wait_error(f"A table of schema {schema!r}") from None


def export_snapshot(schema: str | None = None, tables=()) -> tuple[psycopg.Connection, str]:
    """A connection holding a REPEATABLE READ transaction open, and its exported snapshot
    id: other connections that import it (in_snapshot) read the database as it was at
    that moment, as long as the holder stays open (pg_dump -j does the same).

    `tables` of `schema` are locked (ACCESS SHARE) before the snapshot is taken and until
    the holder closes. TRUNCATE is not MVCC-safe: a load's TRUNCATE committed after the
    snapshot would make the snapshot's readers see its tables empty; with the locks held
    it waits (or, already running, the snapshot waits for its commit and sees its result).
    """
    conn = connect(autocommit=False)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        if schema is not None:
            lock_tables(conn, schema, tables)
        return conn, conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    except BaseException:
        conn.close()
        raise


@contextmanager
def in_snapshot(conn: psycopg.Connection, snapshot: str | None) -> Iterator[psycopg.Connection]:
    """A transaction on an autocommit connection that sees exactly `snapshot` (None: its own).
    Its reads of the source wait for table locks at most LOCK_WAIT_SECONDS (an exclusive
    lock queued behind the snapshot holder's would otherwise stall them for good)."""
    with conn.transaction():
        if snapshot:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            set_lock_wait(conn)
        yield conn
