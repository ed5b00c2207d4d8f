"""Drop secondary indexes, unique and foreign-key constraints around a bulk load, and put
them back after: building an index once over sorted data and validating a foreign key with
one join is far cheaper than maintaining them row by row (and Django's deferred FK checks
would otherwise fire once per row at COMMIT). Runs inside the load's transaction, so a
failed load restores everything by rolling back."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class Saved:
    table: str
    name: str
    definition: str  # pg_get_constraintdef / pg_get_indexdef output, from the catalog itself
    kind: str  # "index" | "unique" | "foreign key"


def _catalog(cursor, tables: list[str]) -> list[Saved]:
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid),
               CASE c.contype WHEN 'u' THEN 'unique' ELSE 'foreign key' END
          FROM pg_constraint c
         WHERE (c.contype = 'u' AND c.conrelid = ANY(%(t)s::regclass[]))
            OR (c.contype = 'f' AND (c.conrelid = ANY(%(t)s::regclass[]) OR c.confrelid = ANY(%(t)s::regclass[])))
        UNION ALL
        SELECT i.indrelid::regclass::text, ic.relname, pg_get_indexdef(i.indexrelid), 'index'
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = ANY(%(t)s::regclass[]) AND NOT i.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        {"t": tables},
    )
    return [Saved(*row) for row in cursor.fetchall()]


def drop(cursor, tables: list[str]) -> list[Saved]:
    saved = _catalog(cursor, tables)
    # Foreign keys first: a unique constraint may be what one of them points at.
    for item in sorted(saved, key=lambda s: s.kind != "foreign key"):
        if item.kind == "index":
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(item.name)))
        else:
            cursor.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(item.table), sql.Identifier(item.name)
                )
            )
    return saved


def restore(cursor, saved: list[Saved]) -> None:
    # Indexes and unique constraints before the foreign keys that rely on them.
    for item in sorted(saved, key=lambda s: s.kind == "foreign key"):
        if item.kind == "index":
            cursor.execute(item.definition)  # pg_get_indexdef returns a complete CREATE INDEX
        else:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(item.table), sql.Identifier(item.name)
                )
                + sql.SQL(item.definition)
            )
