"""What the source schema holds, read from PostgreSQL's catalog columns (pg_attribute,
pg_constraint's conkey/confkey arrays, pg_index): tables, column types, constraints and
indexes, so the copy can be rebuilt with the same shape. Nothing is parsed out of
printed definitions except what only exists as text (CHECK expressions, index methods)."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

INTEGER_TYPES = ("integer", "bigint", "smallint")
_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass
class Constraint:
    name: str
    kind: str  # 'p' primary key, 'u' unique, 'c' check, 'f' foreign key
    columns: list[str]
    deferrable: bool = False
    deferred: bool = False
    check: str | None = None  # CHECK (...) as pg_get_constraintdef prints it (the expression exists only as text)
    index: str | None = None  # p/u: the name of the index behind it
    index_def: str | None = None  # p/u: CREATE UNIQUE INDEX ... (pg_get_indexdef)
    ref_table: str | None = None  # f: the referenced table (same schema)
    ref_schema: str | None = None
    ref_columns: list[str] = field(default_factory=list)
    on_update: str = "NO ACTION"
    on_delete: str = "NO ACTION"
    match_full: bool = False

    def timing(self) -> sql.Composable:
        if not self.deferrable:
            return sql.SQL("")
        return sql.SQL(" DEFERRABLE INITIALLY DEFERRED" if self.deferred else " DEFERRABLE")

    def foreign_key_sql(self, schema: str) -> sql.Composable:
        """FOREIGN KEY (...) REFERENCES schema.table (...) ..., composed from catalog columns."""
        return sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}){} ON UPDATE {} ON DELETE {}{}").format(
            sql.SQL(", ").join(map(sql.Identifier, self.columns)),
            sql.Identifier(schema, self.ref_table),
            sql.SQL(", ").join(map(sql.Identifier, self.ref_columns)),
            sql.SQL(" MATCH FULL" if self.match_full else ""),
            sql.SQL(self.on_update),
            sql.SQL(self.on_delete),
            self.timing(),
        )


@dataclass
class Table:
    name: str
    columns: list[str]  # insertable columns, in order (generated ones excluded)
    types: dict[str, str]
    identity: list[str]
    qualified: str = ""  # schema.table as PostgreSQL quotes it in definitions
    pk: str | None = None  # a single integer primary key column, for id-range chunks
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[tuple[str, str]] = field(default_factory=list)  # name, CREATE INDEX ... (not owned by a constraint)


def read(cursor, schema: str, *, lock: bool = False) -> dict[str, Table]:
    """The tables of `schema`. lock: first take ACCESS SHARE locks on them (in the caller's
    transaction, till its end), so that no index or constraint read here is dropped while
    it is read: pg_get_indexdef() looks at the live catalog, not the statement's snapshot,
    and returns NULL for an index a concurrent load dropped and re-created meanwhile."""
    if lock:
        from workshop.anonymize import db

        names = [
            r[0]
            for r in cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r'",
                [schema],
            )
        ]
        db.lock_tables(cursor.connection, schema, names)
    tables: dict[str, Table] = {}
    rows = cursor.execute(
        """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity, a.attgenerated,
                  quote_ident(n.nspname) || '.' || quote_ident(c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname, a.attnum""",
        [schema],
    ).fetchall()
    for table, column, type_, identity, generated, qualified in rows:
        t = tables.setdefault(table, Table(table, [], {}, [], qualified))
        t.types[column] = type_
        if not generated:
            t.columns.append(column)
        if identity:
            t.identity.append(column)
    # Column lists from the conkey/confkey arrays, in key order; the CHECK expression is
    # the one thing only available as text. The search_path holds the source alone so
    # that a CHECK calling a function of that schema prints it unqualified.
    cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema])
    for (
        table,
        name,
        kind,
        columns,
        deferrable,
        deferred,
        check,
        index,
        index_def,
        ref_table,
        ref_schema,
        ref_columns,
        on_update,
        on_delete,
        match,
    ) in cursor.execute(
        """SELECT c.relname, k.conname, k.contype,
                  ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
                  k.condeferrable, k.condeferred,
                  CASE WHEN k.contype = 'c' THEN pg_get_constraintdef(k.oid) END,
                  CASE WHEN k.contype IN ('p', 'u') THEN i.relname END,
                  CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) END,
                  r.relname, rn.nspname,
                  ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i),
                  k.confupdtype, k.confdeltype, k.confmatchtype
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_class i ON i.oid = k.conindid
           LEFT JOIN pg_class r ON r.oid = k.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
           WHERE n.nspname = %s AND k.contype IN ('p', 'u', 'c', 'f') ORDER BY c.relname, k.conname""",
        [schema],
    ):
        if table not in tables:
            continue
        if kind in ("p", "u") and index_def is None:
            _changed(schema)
        t = tables[table]
        t.constraints.append(
            Constraint(
                name,
                kind,
                list(columns),
                deferrable,
                deferred,
                check,
                index,
                index_def,
                ref_table if kind == "f" else None,
                ref_schema if kind == "f" else None,
                list(ref_columns or []),
                _FK_ACTIONS.get(on_update, "NO ACTION"),
                _FK_ACTIONS.get(on_delete, "NO ACTION"),
                match == "f",
            )
        )
        if kind == "p" and len(columns) == 1 and t.types[columns[0]] in INTEGER_TYPES:
            t.pk = columns[0]
    # Every index not owned by a primary key, unique or exclusion constraint: also the plain
    # unique indexes a foreign key relies on (its conindid), which the key needs to exist.
    for table, name, definition in cursor.execute(
        """SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                 WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x') AND k.conrelid = x.indrelid)
           ORDER BY 1, 2""",
        [schema],
    ):
        if definition is None:  # dropped during this read (see `lock`): say so, do not replay NULL
            _changed(schema)
        if table in tables:
            tables[table].indexes.append((name, definition))
    cursor.execute("SELECT set_config('search_path', '', true)")
    return tables


def _changed(schema: str) -> None:
    from workshop.errors import WorkshopError

    raise WorkshopError(
        f"The indexes of schema {schema!r} changed while they were read (a data load or a migration ran meanwhile)",
        "run it again",
    )


def foreign_keys(tables: dict[str, Table], schema: str) -> dict[str, list[Constraint]]:
    """table -> its foreign keys into tables of the same copy (a key out of a partial copy is left out)."""
    found: dict[str, list[Constraint]] = {}
    for t in tables.values():
        for k in t.constraints:
            if k.kind == "f" and k.ref_schema == schema and k.ref_table in tables:
                found.setdefault(t.name, []).append(k)
    return found


def retarget_index(definition: str, old: str, new: str) -> sql.Composable:
    """An index definition read from the source (`ON old USING ...`), pointing at `new`."""
    before, after = f" ON {old} USING ", f" ON {new} USING "
    if not isinstance(definition, str) or before not in definition:
        raise ValueError(f"unexpected index definition: {definition}")
    # Catalog output, not user input: safe to replay as SQL.
    return sql.SQL(definition.replace(before, after, 1))
