"""Connections of our own to the database Django uses (the test database under pytest):
the engine runs its own transactions and works in parallel, outside Django's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


def conninfo() -> dict:
    from django.db import connection

    from workshop.django_setup import require_setup

    require_setup()  # used before workshop.setup(): say which cell to run

    # Django's own parameters (OPTIONS merged in), minus its Python-side adapters.
    params = connection.get_connection_params()
    info = {k: v for k, v in params.items() if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")}
    info["application_name"] = "workshop.anonymize"
    return {k: v for k, v in info.items() if v not in (None, "")}


def connect(autocommit: bool = True) -> psycopg.Connection:
    # No automatic server-side prepare: a prepared statement gets a generic plan, where a
    # bound array is not a constant and `= ANY(array)` loses its hash (a scan per row).
    return psycopg.connect(**conninfo(), autocommit=autocommit, prepare_threshold=None)


def export_snapshot() -> tuple[psycopg.Connection, str]:
    """A connection holding a REPEATABLE READ transaction open, and its exported snapshot
    id: other connections that import it (in_snapshot) read the database as it was at
    that moment, as long as the holder stays open (pg_dump -j does the same)."""
    conn = connect(autocommit=False)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        return conn, conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    except BaseException:
        conn.close()
        raise


@contextmanager
def in_snapshot(conn: psycopg.Connection, snapshot: str | None) -> Iterator[psycopg.Connection]:
    """A transaction on an autocommit connection that sees exactly `snapshot` (None: its own)."""
    with conn.transaction():
        if snapshot:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        yield conn
