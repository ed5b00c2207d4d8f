"""A format-preserving pseudonym lives in the same space as the originals: a pseudonymous
phone number can, by chance, be somebody's real one (about 1,000 of 100k phones in a 10^7
space). After a table is copied, pseudonyms equal to any original value of any column
sharing the template get a salted pseudonym instead, round after round until none is left
(and, on a unique column, until no value repeats). Deterministic: the same data and key
always take the same rounds.
"""

from __future__ import annotations

from psycopg import sql

from workshop.anonymize.query import Query
from workshop.anonymize.strategies import Pseudonymize
from workshop.errors import WorkshopError

MAX_ROUNDS = 8


def plan(source: str, schema: str, tables: dict, resolved: dict, hmac_key: bytes) -> dict:
    """table name -> function(conn) that fixes its collisions (tables with pseudonyms only)."""
    by_template: dict[str, list[sql.Composable]] = {}
    for t in resolved.values():
        for column, strategy in t.rules:
            if isinstance(strategy, Pseudonymize):
                by_template.setdefault(strategy.template, []).append(
                    sql.SQL("SELECT {}::text FROM {}").format(sql.Identifier(column.name), sql.Identifier(source, t.table)))
    fixes = {}
    for name, t in resolved.items():
        pairs = [(c, s) for c, s in t.rules if isinstance(s, Pseudonymize)]
        if name in tables and pairs and t.pk:
            fixes[name] = _fixer(source, schema, tables[name], t.pk, pairs, by_template, hmac_key)
    return fixes


def _fixer(source, schema, table, pk, pairs, by_template, hmac_key):
    def fix(conn) -> int:
        fixed = 0
        # The fresh copy has no statistics yet; without them the joins below get nested loops.
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table.name)))
        for column, strategy in pairs:
            originals = sql.SQL(" UNION ALL ").join(by_template[strategy.template])
            target, col, key = sql.Identifier(schema, table.name), sql.Identifier(column.name), sql.Identifier(pk)
            # The array in the key's own type: `bigint = ANY(int[])` is a cross-type operator,
            # which PostgreSQL cannot hash, and then scans the whole array for every row.
            key_array = sql.SQL(table.types[pk] + "[]")  # a type name from the catalog
            moved: list | None = None  # None: every row is still to check
            for salt in range(1, MAX_ROUNDS + 1):
                # Rows checked once stay good: after the first round only moved rows are looked at.
                only_moved = sql.SQL(" AND t.{} = ANY(%(moved)s::{})").format(key, key_array) if moved is not None else sql.SQL("")
                # Only originals with the template's shape (length and literals, via LIKE) can
                # equal a pseudonym: for "{hex:16}@example.com" that is usually none at all.
                hit = sql.SQL("SELECT t.{key} FROM {target} t WHERE t.{col}::text IN "
                              "(SELECT o FROM ({originals}) AS x(o) WHERE o LIKE {shape}){only}").format(
                    key=key, target=target, col=col, originals=originals, only=only_moved,
                    shape=sql.Literal(strategy.like_pattern()))
                if column.unique and moved is not None:
                    # A permutation has no repeats; only a salted value can repeat another row's.
                    hit = sql.SQL("{} UNION SELECT t.{key} FROM {target} t WHERE t.{col} IN (SELECT {col} FROM {target} "
                                  "GROUP BY {col} HAVING count(*) > 1){only}").format(
                        hit, key=key, col=col, target=target, only=only_moved)
                ids = [r[0] for r in conn.execute(hit, {"moved": moved} if moved is not None else None).fetchall()]
                moved = ids
                if not ids:
                    break
                if salt == MAX_ROUNDS:
                    raise WorkshopError(f"{len(ids)} pseudonyms of {column.label} still equal original values "
                                        f"after {MAX_ROUNDS} rounds", "use a template with more hashed characters")
                q = Query(source, table.name, pk, hmac_key)
                select = q.select([pk, column.name], {column.name: strategy.expression(q, column, salt)},
                                  where=sql.SQL("{} = ANY(%(ids)s::{})").format(sql.Identifier("s", pk), key_array))
                conn.execute(sql.SQL("UPDATE {target} t SET {col} = x.v FROM ({select}) AS x(k, v) WHERE t.{key} = x.k").format(
                    target=target, col=col, select=select, key=key), {**q.params, "ids": ids})
                fixed += len(ids)
        return fixed

    fix.columns = {c.name for c, _ in pairs}  # the engine builds other indexes meanwhile
    return fix
