"""What the source schema holds, read from PostgreSQL's catalog: tables, column types,
constraints and indexes, so the copy can be rebuilt with the same shape."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql


@dataclass
class Table:
    name: str
    columns: list[str]  # insertable columns, in order (generated ones excluded)
    types: dict[str, str]
    identity: list[str]
    qualified: str = ""  # schema.table as PostgreSQL quotes it in definitions
    pk: str | None = None  # a single integer primary key column, for id-range chunks
    constraints: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # name, type, def, index def
    indexes: list[tuple[str, str]] = field(default_factory=list)  # name, CREATE INDEX ... (not backing a constraint)


def read(cursor, schema: str) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    rows = cursor.execute(
        """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity, a.attgenerated,
                  quote_ident(n.nspname) || '.' || quote_ident(c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname, a.attnum""", [schema]).fetchall()
    for table, column, type_, identity, generated, qualified in rows:
        t = tables.setdefault(table, Table(table, [], {}, [], qualified))
        t.types[column] = type_
        if not generated:
            t.columns.append(column)
        if identity:
            t.identity.append(column)
    # Definitions print unqualified names for tables in the search_path: with the source
    # alone on it, a foreign key reads "REFERENCES shop_customer(id)" and resolves against
    # the copy's schema when replayed there.
    cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema])
    for table, name, kind, definition, index_def, keycols in cursor.execute(
        """SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
                  CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) END,
                  (SELECT array_agg(format_type(a.atttypid, -1)) FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum = ANY(k.conkey))
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND k.contype IN ('p', 'u', 'c', 'f') ORDER BY c.relname, k.conname""", [schema]):
        if table not in tables:
            continue
        tables[table].constraints.append((name, kind, definition, index_def))
        if kind == "p" and keycols in (["integer"], ["bigint"], ["smallint"]):
            column = definition[len("PRIMARY KEY ("):-1].strip('"')
            tables[table].pk = column
    for table, name, definition in cursor.execute(
        """SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
           ORDER BY 1, 2""", [schema]):
        if table in tables:
            tables[table].indexes.append((name, definition))
    cursor.execute("SELECT set_config('search_path', '', true)")
    return tables


def retarget_index(definition: str, old: str, new: str) -> sql.Composable:
    """An index definition read from the source (`ON old USING ...`), pointing at `new`."""
    before, after = f" ON {old} USING ", f" ON {new} USING "
    if before not in definition:
        raise ValueError(f"unexpected index definition: {definition}")
    # Catalog output, not user input: safe to replay as SQL.
    return sql.SQL(definition.replace(before, after, 1))
