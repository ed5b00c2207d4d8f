"""The dataset as loaded, kept in a schema of its own so a chapter can start again in seconds.

The loader saves it in the same transaction as the load (`save`); `restore` compares each
shop table with its saved copy (row count and a hash of every row) and rewrites only the
tables a chapter changed: renamed products come back without generating anything again.
Foreign keys are DEFERRABLE INITIALLY DEFERRED (Django's default on PostgreSQL), so a
parent table can be emptied and refilled inside the transaction and checked at COMMIT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg import sql

from workshop.errors import WorkshopError

SCHEMA = "workshop_pristine"
MARKER = "the dataset as loaded, by workshop.shop"


@dataclass(frozen=True)
class Restored:
    tables: dict[str, int]  # restored table -> rows
    unchanged: int
    seconds: float

    def __str__(self) -> str:
        if not self.tables:
            return f"dataset unchanged ({self.unchanged} tables checked in {self.seconds:.1f} s)"
        done = ", ".join(f"{t} ({n:,} rows)" for t, n in self.tables.items())
        return f"dataset restored: {done}; {self.unchanged} tables unchanged ({self.seconds:.1f} s)"


def save(cursor, tables: list[str], label: str) -> None:
    """Copy `tables` (in load order) into the snapshot schema; `label` names the dataset."""
    cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    for position, table in enumerate(tables):
        cursor.execute(
            sql.SQL("CREATE TABLE {} AS TABLE {}").format(sql.Identifier(SCHEMA, table), sql.Identifier(table))
        )
        # the load order (parents first) travels with the copy: restore walks the same order
        cursor.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.Identifier(SCHEMA, table), sql.Literal(str(position)))
        )
    cursor.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(SCHEMA), sql.Literal(f"{label}: {MARKER}"))
    )


def saved_tables(cursor) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY obj_description(c.oid, 'pg_class')::int",
        [SCHEMA],
    )
    return [name for (name,) in cursor.fetchall()]


def label(cursor) -> str | None:
    """The saved dataset's label, or None when there is no snapshot made by the loader."""
    cursor.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", [SCHEMA])
    row = cursor.fetchone()
    if row is None or not row[0] or not row[0].endswith(MARKER):
        return None
    return row[0][: -len(MARKER) - 2]


def columns(cursor, table: str, schema: str = SCHEMA) -> list[str]:
    cursor.execute(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [schema, table],
    )
    return [name for (name,) in cursor.fetchall()]


def live_columns(cursor, table: str) -> list[str]:
    """The columns of the shop table the application uses (current schema), in order."""
    cursor.execute("SELECT current_schema()")
    return columns(cursor, table, cursor.fetchone()[0])


def _fingerprint(cursor, schema: str, table: str, cols: list[str]):
    row = sql.SQL("ROW({})").format(sql.SQL(", ").join(sql.Identifier("t", c) for c in cols))
    cursor.execute(
        sql.SQL("SELECT count(*), coalesce(sum(hashtext({row}::text)::bigint), 0) FROM {table} AS t").format(
            row=row, table=sql.Identifier(schema, table)
        )
    )
    return cursor.fetchone()


def restore(cursor) -> Restored:
    """Make every shop table hold what was loaded again (run inside a transaction)."""
    started = time.perf_counter()
    if label(cursor) is None:
        raise WorkshopError(
            "There is no saved copy of the dataset to restore from",
            "run `workshop data load --force` once (it saves one), then reset again",
        )
    restored: dict[str, int] = {}
    tables = saved_tables(cursor)
    for table in tables:
        cols = columns(cursor, table)
        if _fingerprint(cursor, "public", table, cols) == _fingerprint(cursor, SCHEMA, table, cols):
            continue
        names = sql.SQL(", ").join(map(sql.Identifier, cols))
        cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        cursor.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                sql.Identifier(table), names, names, sql.Identifier(SCHEMA, table)
            )
        )
        restored[table] = cursor.rowcount
        if "id" in cols:
            cursor.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {i}"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
    return Restored(restored, len(tables) - len(restored), time.perf_counter() - started)
