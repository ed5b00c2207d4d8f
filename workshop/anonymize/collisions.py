"""A format-preserving pseudonym lives in the same space as the originals: a pseudonymous
phone number can, by chance, be somebody's real one (about 100,000 of a million phones
in a 10^7 space). After a table is copied, pseudonyms equal to any original value of any
column sharing the template get a salted pseudonym instead. Deterministic: the same data
and key always give the same result.

The source is read only inside the build's snapshot (the state the copy was made from):
once per template for its originals, into a table of the build schema, and once per
column for the source values of the colliding rows, into a temporary table. The fix
itself then works on the freshly written copy, which that snapshot cannot see.

Each round computes several salted candidates per colliding row at once and keeps the
first that is nobody's original (and, on a unique column, no other row's value): with a
10% hit rate, one round settles all but 0.1% of the rows, the next all but a handful.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from workshop.anonymize import db, renumber, session_keys
from workshop.anonymize.strategies import Pseudonymize
from workshop.errors import WorkshopError

CANDIDATES = 3  # salted pseudonyms tried per colliding row and round
MAX_ROUNDS = 4


@dataclass
class Plan:
    originals: dict  # template -> (table name in the build schema, function(conn) that fills it: run in the snapshot)
    fixes: dict  # table name -> (function(conn) that fixes its collisions, templates whose originals it reads)


def plan(
    source: str,
    schema: str,
    tables: dict,
    resolved: dict,
    hmac_key: bytes,
    snapshot: str | None = None,
    *,
    renumbered: bool = False,
) -> Plan:
    """The collision work of a build (tables with pseudonyms only); `snapshot`: the
    build's exported snapshot, which every read of the source imports; `renumbered`: the
    copy's primary keys are renumbered (renumber.py), so its ids map back to the source's."""
    by_template: dict[str, list[sql.Composable]] = {}
    patterns: dict[str, str] = {}
    for t in resolved.values():
        for column, strategy in t.rules:
            if isinstance(strategy, Pseudonymize):
                by_template.setdefault(strategy.template, []).append(
                    sql.SQL("SELECT {}::text FROM {}").format(
                        sql.Identifier(column.name), sql.Identifier(source, t.table)
                    )
                )
                patterns[strategy.template] = strategy.like_pattern()
    names = {template: f"_originals_{n}" for n, template in enumerate(by_template)}
    fixes = {}
    for name, t in resolved.items():
        pairs = [(c, s) for c, s in t.rules if isinstance(s, Pseudonymize)]
        if name in tables and pairs and t.pk:
            fixer = _Fixer(source, schema, tables[name], t.pk, pairs, names, hmac_key, snapshot, renumbered)
            fixes[name] = (fixer, sorted({s.template for _, s in pairs}))
    used = {template for _, templates in fixes.values() for template in templates}
    originals = {
        template: (names[template], _filler(schema, names[template], by_template[template], patterns[template]))
        for template in used
    }
    return Plan(originals, fixes)


def _filler(schema: str, name: str, selects: list[sql.Composable], pattern: str):
    # Only originals with the template's shape (length and literals, via LIKE) can equal
    # a pseudonym: for "{hex:16}@example.com" that is usually none at all.
    def fill(conn) -> int:
        target = sql.Identifier(schema, name)
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (o text)").format(target))
        rows = conn.execute(
            sql.SQL("INSERT INTO {} SELECT o FROM ({}) AS x(o) WHERE o LIKE {}").format(
                target, sql.SQL(" UNION ALL ").join(selects), sql.Literal(pattern)
            )
        ).rowcount
        conn.execute(sql.SQL("ANALYZE {}").format(target))  # the fix's joins are planned on its size
        return rows

    return fill


class _Fixer:
    def __init__(self, source, schema, table, pk, pairs, originals_tables, hmac_key, snapshot, renumbered):
        self.source, self.schema, self.table, self.pk, self.pairs = source, schema, table, pk, pairs
        self.originals_tables, self.hmac_key, self.snapshot = originals_tables, hmac_key, snapshot
        self.renumbered = renumbered
        self.target = sql.Identifier(schema, table.name)
        # The array in the key's own type: `bigint = ANY(int[])` is a cross-type operator,
        # which PostgreSQL cannot hash, and then scans the whole array for every row.
        self.key_array = sql.SQL(table.types[pk] + "[]")  # a type name from the catalog

    def __call__(self, conn) -> int:
        return sum(self._fix_column(conn, column, strategy) for column, strategy in self.pairs)

    @staticmethod
    def _hash_joins(conn) -> None:
        # The fresh copy has no statistics yet (ANALYZE comes after the fix); without
        # them the planner may pick nested loops over a million rows. Hash joins it is.
        conn.execute("SET LOCAL enable_nestloop = off")

    def _originals(self, strategy: Pseudonymize) -> sql.Composable:
        return sql.SQL("SELECT o FROM {}").format(sql.Identifier(self.schema, self.originals_tables[strategy.template]))

    def _fix_column(self, conn, column, strategy) -> int:
        col, key = sql.Identifier(column.name), sql.Identifier(self.pk)
        originals = self._originals(strategy)
        with conn.transaction():
            self._hash_joins(conn)
            hits = [
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT t.{key} FROM {target} t WHERE t.{col}::text IN ({originals})").format(
                        key=key, target=self.target, col=col, originals=originals
                    )
                ).fetchall()
            ]
        if not hits:
            return 0
        # The copy's ids are the source's unless renumbered: then back through the inverse permutation.
        source_ids = [renumber.inverse(self.hmac_key, self.table.name, h) for h in hits] if self.renumbered else hits
        staged = f"_workshop_fix_{column.name}"
        with db.in_snapshot(conn, self.snapshot):  # the colliding rows' values as the copy saw them
            conn.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE {} AS SELECT {key}, {col} FROM {source} WHERE {key} = ANY(%(ids)s::{t})"
                ).format(
                    sql.Identifier(staged),
                    key=key,
                    col=col,
                    source=sql.Identifier(self.source, self.table.name),
                    t=self.key_array,
                ),
                {"ids": source_ids},
            )
        fixed = 0
        try:
            for round_ in range(MAX_ROUNDS):
                if not hits:
                    return fixed
                salts = range(1 + round_ * CANDIDATES, 1 + (round_ + 1) * CANDIDATES)
                with conn.transaction():
                    self._hash_joins(conn)
                    wanted = (
                        [renumber.inverse(self.hmac_key, self.table.name, h) for h in hits] if self.renumbered else hits
                    )
                    moved = self._redraw(conn, column, strategy, originals, wanted, salts, staged)
                fixed += len(moved)
                hits = sorted(set(hits) - set(moved))
        finally:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("pg_temp", staged)))
        if hits:
            raise WorkshopError(
                f"{len(hits)} pseudonyms of {column.label} still equal original values "
                f"after {MAX_ROUNDS * CANDIDATES} salts",
                "use a template with more hashed characters",
            )
        return fixed

    def _redraw(self, conn, column, strategy, originals, ids, salts, staged) -> list:
        """Give each row of `ids` its first salted pseudonym that is nobody's original; returns the rows moved.
        `staged`: the temporary table holding those rows' source values."""
        q = session_keys.KeyedQuery("pg_temp", staged, self.pk, self.hmac_key)
        names = [f"_c{n}" for n in range(len(salts))]
        expressions = {name: strategy.expression(q, column, salt) for name, salt in zip(names, salts)}
        if self.renumbered:  # the UPDATE finds the row by its id in the copy
            expressions[self.pk] = renumber.expression(q, self.table.name, self.pk, self.table.types[self.pk])
        select = q.select(
            [self.pk, *names],
            expressions,
            where=sql.SQL("{} = ANY(%(ids)s::{})").format(sql.Identifier("s", self.pk), self.key_array),
        )
        session_keys.install(conn, q.secrets)
        col, key = sql.Identifier(column.name), sql.Identifier(self.pk)
        taken = sql.SQL("NOT EXISTS (SELECT 1 FROM ({}) AS o(o) WHERE o.o = c.v)").format(originals)
        if column.unique:
            taken = sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} u WHERE u.{} = c.v)").format(taken, self.target, col)
        # On a unique column the new value is nobody's current one (checked above) and, when
        # two rows picked the same, neither takes it: both draw again next round.
        once = sql.SQL(" WHERE twins = 1" if column.unique else "")
        unpivot = sql.SQL(", ").join(
            sql.SQL("({}, r.{})").format(sql.Literal(n), sql.Identifier(name)) for n, name in enumerate(names)
        )
        # MATERIALIZED: computed once, then one hash anti-join against the originals (left
        # inline, the planner may probe the originals once per candidate row instead).
        statement = sql.SQL(
            "WITH c AS MATERIALIZED (SELECT r.{key} AS k, v.n, v.v FROM ({select}) AS r({key}, {names}) "
            "CROSS JOIN LATERAL (VALUES {unpivot}) AS v(n, v)) "
            "UPDATE {target} t SET {col} = x.v FROM ("
            "SELECT k, v FROM (SELECT k, v, count(*) OVER (PARTITION BY v) AS twins FROM ("
            "SELECT DISTINCT ON (c.k) c.k, c.v FROM c WHERE {taken} ORDER BY c.k, c.n) AS first) AS y"
            "{once}) AS x WHERE t.{key} = x.k RETURNING t.{key}"
        ).format(
            once=once,
            target=self.target,
            col=col,
            select=select,
            unpivot=unpivot,
            taken=taken,
            key=key,
            names=sql.SQL(", ").join(map(sql.Identifier, names)),
        )
        return [r[0] for r in conn.execute(statement, {**q.params, "ids": ids}).fetchall()]
