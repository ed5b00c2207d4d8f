"""One table's anonymizing SELECT, assembled from the rules' SQL expressions.

Strategies add expressions, bind parameters and joins here; the engine wraps the result
in INSERT ... SELECT (one statement per id range), the preview in a plain SELECT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from workshop.anonymize import sqlhash


@dataclass(frozen=True)
class Pool:
    """A table of fake values, 0-numbered in column i, with its size."""

    table: sql.Composable
    size: int


@dataclass
class Query:
    source: str  # schema
    table: str
    pk: str | None
    hmac_key: bytes  # derived sub-key, bound as parameters only
    pools: dict = field(default_factory=dict)  # Fake.pool_id() -> Pool
    params: dict = field(default_factory=dict)
    joins: list = field(default_factory=list)
    layers: list = field(default_factory=list)  # [[(name, expression)], ...], see let()
    single_chunk: bool = False  # shuffles number the whole table: no id ranges

    def col(self, column: str) -> sql.Composable:
        return sql.Identifier("s", column)

    def row_hash(self, seed: int, fallback: str) -> sql.Composable:
        """A seeded 64-bit hash per row: of the primary key, else of the column `fallback`."""
        if self.pk:
            return sql.SQL("hashint8extended({}, {})").format(self.col(self.pk), sql.Literal(seed))
        return sql.SQL("hashtextextended({}::text, {})").format(self.col(fallback), sql.Literal(seed))

    def let(self, expression: sql.Composable, layer: int = 0) -> sql.Composable:
        """Compute `expression` once per row in a sub-select, and refer to it by name.

        PostgreSQL does not share repeated sub-expressions: a value used five times is
        computed five times. A sub-select with OFFSET 0 (which the planner keeps) computes
        it once; expressions of layer n may use lets of layers < n.
        """
        while len(self.layers) <= layer:
            self.layers.append([])
        name = f"_l{sum(map(len, self.layers))}"
        self.layers[layer].append((name, expression))
        return sql.Identifier("s", name)

    def param(self, value, cast: str | None = None) -> sql.Composable:
        name = f"p{len(self.params)}"
        self.params[name] = value
        placeholder = sql.Placeholder(name)
        return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast)) if cast else placeholder

    def named_param(self, name: str, value) -> sql.Composable:
        self.params[name] = value
        return sql.Placeholder(name)

    def hmac(self, message: sql.Composable) -> sql.Composable:
        self.params.update(sqlhash.pads(self.hmac_key))
        return sqlhash.hmac_sql(message)

    def hmac_index(self, message: sql.Composable, modulus: int) -> sql.Composable:
        self.params.update(sqlhash.pads(self.hmac_key))
        return sqlhash.hmac_index_sql(message, modulus)

    def join(self, template: str, **parts: sql.Composable) -> sql.Identifier:
        """Add `LEFT JOIN ...`; the template names its alias {alias}. Returns the alias."""
        alias = sql.Identifier(f"j{len(self.joins)}")
        self.joins.append(sql.SQL(template).format(alias=alias, **parts))
        return alias

    def select(
        self, columns: list[str], expressions: dict[str, sql.Composable], where: sql.Composable | None = None
    ) -> sql.Composable:
        targets = [expressions.get(c, self.col(c)) for c in columns]
        where_sql = sql.SQL(" WHERE {}").format(where) if where is not None else sql.SQL("")
        source = sql.SQL("{} AS s").format(sql.Identifier(self.source, self.table))
        for n, layer in enumerate(self.layers):
            lets = sql.SQL(", ").join(sql.SQL("{} AS {}").format(e, sql.Identifier(name)) for name, e in layer)
            source = sql.SQL("(SELECT s.*, {} FROM {}{} OFFSET 0) AS s").format(
                lets, source, where_sql if n == 0 else sql.SQL("")
            )
        return sql.SQL("SELECT {targets} FROM {source} {joins}{where}").format(
            targets=sql.SQL(", ").join(targets),
            source=source,
            joins=sql.SQL(" ").join(self.joins),
            where=where_sql if not self.layers else sql.SQL(""),
        )
