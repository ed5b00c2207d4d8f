"""A format-preserving pseudonym lives in the same space as the originals: a pseudonymous
phone number can, by chance, be somebody's real one (about 100,000 of a million phones
in a 10^7 space). After a table is copied, pseudonyms equal to any original value of any
column sharing the template get a salted pseudonym instead. Deterministic: the same data
and key always give the same result.

Each round computes several salted candidates per colliding row at once and keeps the
first that is nobody's original (and, on a unique column, no other row's value): with a
10% hit rate, one round settles all but 0.1% of the rows, the next all but a handful.
"""

from __future__ import annotations

from psycopg import sql

from workshop.anonymize.query import Query
from workshop.anonymize.strategies import Pseudonymize
from workshop.errors import WorkshopError

CANDIDATES = 3  # salted pseudonyms tried per colliding row and round
MAX_ROUNDS = 4


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
            fixes[name] = _Fixer(source, schema, tables[name], t.pk, pairs, by_template, hmac_key)
    return fixes


class _Fixer:
    def __init__(self, source, schema, table, pk, pairs, by_template, hmac_key):
        self.source, self.table, self.pk, self.pairs = source, table, pk, pairs
        self.by_template, self.hmac_key = by_template, hmac_key
        self.target = sql.Identifier(schema, table.name)
        # The array in the key's own type: `bigint = ANY(int[])` is a cross-type operator,
        # which PostgreSQL cannot hash, and then scans the whole array for every row.
        self.key_array = sql.SQL(table.types[pk] + "[]")  # a type name from the catalog

    def __call__(self, conn) -> int:
        with conn.transaction():
            # The fresh copy has no statistics yet (ANALYZE comes after the fix); without
            # them the planner may pick nested loops over a million rows. Hash joins it is.
            conn.execute("SET LOCAL enable_nestloop = off")
            return sum(self._fix_column(conn, column, strategy) for column, strategy in self.pairs)

    def _originals(self, strategy: Pseudonymize) -> sql.Composable:
        # Only originals with the template's shape (length and literals, via LIKE) can equal
        # a pseudonym: for "{hex:16}@example.com" that is usually none at all.
        return sql.SQL("SELECT o FROM ({}) AS x(o) WHERE o LIKE {}").format(
            sql.SQL(" UNION ALL ").join(self.by_template[strategy.template]), sql.Literal(strategy.like_pattern()))

    def _fix_column(self, conn, column, strategy) -> int:
        col, key = sql.Identifier(column.name), sql.Identifier(self.pk)
        originals = self._originals(strategy)
        hits = [r[0] for r in conn.execute(sql.SQL("SELECT t.{key} FROM {target} t WHERE t.{col}::text IN ({originals})").format(
            key=key, target=self.target, col=col, originals=originals)).fetchall()]
        fixed = 0
        for round_ in range(MAX_ROUNDS):
            if not hits:
                return fixed
            salts = range(1 + round_ * CANDIDATES, 1 + (round_ + 1) * CANDIDATES)
            moved = self._redraw(conn, column, strategy, originals, hits, salts)
            fixed += len(moved)
            hits = sorted(set(hits) - set(moved))
        if hits:
            raise WorkshopError(f"{len(hits)} pseudonyms of {column.label} still equal original values "
                                f"after {MAX_ROUNDS * CANDIDATES} salts", "use a template with more hashed characters")
        return fixed

    def _redraw(self, conn, column, strategy, originals, ids, salts) -> list:
        """Give each row of `ids` its first salted pseudonym that is nobody's original; returns the rows moved."""
        q = Query(self.source, self.table.name, self.pk, self.hmac_key)
        names = [f"_c{n}" for n in range(len(salts))]
        select = q.select([self.pk, *names], {name: strategy.expression(q, column, salt) for name, salt in zip(names, salts)},
                          where=sql.SQL("{} = ANY(%(ids)s::{})").format(sql.Identifier("s", self.pk), self.key_array))
        col, key = sql.Identifier(column.name), sql.Identifier(self.pk)
        taken = sql.SQL("NOT EXISTS (SELECT 1 FROM ({}) AS o(o) WHERE o.o = c.v)").format(originals)
        if column.unique:
            taken = sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} u WHERE u.{} = c.v)").format(taken, self.target, col)
        # On a unique column the new value is nobody's current one (checked above) and, when
        # two rows picked the same, neither takes it: both draw again next round.
        once = sql.SQL(" WHERE twins = 1" if column.unique else "")
        unpivot = sql.SQL(", ").join(sql.SQL("({}, r.{})").format(sql.Literal(n), sql.Identifier(name)) for n, name in enumerate(names))
        # MATERIALIZED: computed once, then one hash anti-join against the originals (left
        # inline, the planner may probe the originals once per candidate row instead).
        statement = sql.SQL(
            "WITH c AS MATERIALIZED (SELECT r.{key} AS k, v.n, v.v FROM ({select}) AS r({key}, {names}) "
            "CROSS JOIN LATERAL (VALUES {unpivot}) AS v(n, v)) "
            "UPDATE {target} t SET {col} = x.v FROM ("
            "SELECT k, v FROM (SELECT k, v, count(*) OVER (PARTITION BY v) AS twins FROM ("
            "SELECT DISTINCT ON (c.k) c.k, c.v FROM c WHERE {taken} ORDER BY c.k, c.n) AS first) AS y"
            "{once}) AS x WHERE t.{key} = x.k RETURNING t.{key}").format(
                once=once, target=self.target, col=col, select=select, unpivot=unpivot, taken=taken, key=key,
                names=sql.SQL(", ").join(map(sql.Identifier, names)))
        return [r[0] for r in conn.execute(statement, {**q.params, "ids": ids}).fetchall()]
