"""A privacy target, reached automatically: declared quasi-identifiers, k (and optionally
l-diversity of a sensitive attribute), a full-domain generalization lattice searched
ARX-style with monotonicity pruning, local suppression up to a limit, and the utility lost.

    from workshop.anonymize.target import Target, build_to_target
    result = build_to_target(Target(k=5))     # the shop's rules + the chosen generalization
    result                                      # what it chose, suppressed, information loss, errors

How the search is fast: one query reads each customer's quasi-identifiers once; every
generalization level of every column is then an integer code computed once (numpy), and a
node's equivalence classes are one hash group-by of the combined code. Monotonicity prunes
the lattice: a node that meets the target makes every coarser node meet it, a node that
fails makes every finer node fail, so most nodes are never counted.
"""

from __future__ import annotations

import datetime
import itertools
import time
from dataclasses import dataclass, field

from workshop.errors import WorkshopError

# Each quasi-identifier's ladder, finest first. Level names are what the report shows; the
# strategy for each level is what the engine writes into the copy (None: the value as is).
LEVELS = {
    "birth_date": ("date", "year", "5 years", "10 years", "hidden"),
    "zip_code": ("5 digits", "4 digits", "3 digits", "2 digits", "1 digit", "hidden"),
    "gender": ("kept", "hidden"),
    "city": ("kept", "hidden"),
    "state": ("kept", "hidden"),
}
HIDDEN_BIRTH = datetime.date(1900, 1, 1)
TRANSACTIONAL = ("shop.Review.product", "shop.Review.created_at")  # measured by attacks.netflix_attack


@dataclass(frozen=True)
class Target:
    """k-anonymity (every class of the quasi-identifiers holds at least k records), optionally
    distinct l-diversity of `sensitive` (each class holds at least l different values), with
    at most `max_suppressed` of the records withheld from the copy."""

    k: int = 5
    l: int = 1  # noqa: E741 (the letter of l-diversity)
    sensitive: str | None = None  # "top_category": the category a customer spends most on
    quasi_identifiers: tuple[str, ...] = tuple(LEVELS)
    max_suppressed: float = 0.02
    weights: dict = field(default_factory=dict)  # quasi-identifier -> weight in the information loss

    def __post_init__(self):
        if not isinstance(self.k, int) or self.k < 1:
            raise WorkshopError(f"k={self.k!r}", "use a whole number of 1 or more, e.g. Target(k=5)")
        if not isinstance(self.l, int) or self.l < 1:
            raise WorkshopError(f"l={self.l!r}", "use a whole number of 1 or more, e.g. Target(k=5, l=2)")
        if self.l > 1 and self.sensitive not in SENSITIVE:
            raise WorkshopError(f"l-diversity needs a sensitive attribute, not {self.sensitive!r}",
                                f"use sensitive={next(iter(SENSITIVE))!r}")
        unknown = [q for q in self.quasi_identifiers if q not in LEVELS]
        if unknown or not self.quasi_identifiers:
            raise WorkshopError(f"Unknown quasi-identifier(s) {unknown or '(none)'}", f"choose from: {', '.join(LEVELS)}")
        if not 0 <= self.max_suppressed < 1:
            raise WorkshopError(f"max_suppressed={self.max_suppressed!r}", "use a share between 0 and 1, e.g. 0.02")


# The sensitive attribute, one value per customer: what l-diversity protects.
SENSITIVE = {
    "top_category": (
        "SELECT DISTINCT ON (o.customer_id) o.customer_id, p.category_id FROM {s}.shop_order o "
        "JOIN {s}.shop_orderitem i ON i.order_id = o.id JOIN {s}.shop_product p ON p.id = i.product_id "
        "GROUP BY o.customer_id, p.category_id ORDER BY o.customer_id, sum(i.quantity * i.unit_price) DESC, p.category_id"
    ),
}


def level_strategy(qi: str, level: int):
    """The engine strategy writing level `level` of quasi-identifier `qi` (None: unchanged)."""
    from workshop.anonymize.strategies import GeneralizeDate, KeepPrefix, Static, Suppress

    if level == 0:
        return None
    if qi == "birth_date":
        return {1: GeneralizeDate(1), 2: GeneralizeDate(5), 3: GeneralizeDate(10), 4: Static(HIDDEN_BIRTH)}[level]
    if qi == "zip_code":
        return KeepPrefix(5 - level)
    if qi == "gender":
        return Static("X")  # "other / not given"
    return Suppress()  # city, state: '' (NOT NULL text)


@dataclass(frozen=True)
class Node:
    levels: tuple[int, ...]  # one level per quasi-identifier, in Target.quasi_identifiers order


@dataclass
class Search:
    """The lattice search's outcome."""

    target: Target
    chosen: tuple[int, ...]
    rows: int
    suppressed_ids: list[int]
    nodes: int  # in the lattice
    evaluated: int  # actually counted (the rest tagged by monotonicity)
    satisfying: int
    information_loss: float  # Sweeney's precision loss: mean of level / top level, 0 = exact
    seconds: float
    classes: int = 0
    k_reached: int = 0

    def describe(self) -> str:
        return ", ".join(f"{qi} {LEVELS[qi][lv]}" for qi, lv in zip(self.target.quasi_identifiers, self.chosen))

    @property
    def suppressed_share(self) -> float:
        return len(self.suppressed_ids) / self.rows if self.rows else 0.0

    def rules(self) -> dict:
        """The chosen generalization as engine rules for shop.Customer."""
        wanted = {qi: level_strategy(qi, lv) for qi, lv in zip(self.target.quasi_identifiers, self.chosen)}
        return {"shop.Customer": {qi: s for qi, s in wanted.items() if s is not None}}


# --- reading the data once --------------------------------------------------------------------


def load_codes(target: Target, *, schema: str = "public", conn=None):
    """Per customer: its id and, per quasi-identifier, one integer code array per level."""
    import numpy as np
    import pandas as pd
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    columns = sql.SQL(", ").join(sql.Identifier("c", q) for q in target.quasi_identifiers)
    query = sql.SQL("SELECT c.id, {cols}{sens} FROM {t} AS c {join} ORDER BY c.id").format(
        cols=columns, t=sql.Identifier(schema, "shop_customer"),
        sens=sql.SQL(", coalesce(x.category_id, 0)") if target.l > 1 else sql.SQL(""),
        join=sql.SQL("LEFT JOIN ({}) AS x ON x.customer_id = c.id").format(
            sql.SQL(SENSITIVE[target.sensitive]).format(s=sql.Identifier(schema))) if target.l > 1 else sql.SQL(""))
    with _conn(conn) as c:
        with c.cursor() as cur:
            cur.execute(query)
            frame = pd.DataFrame(cur.fetchall(), columns=["id", *target.quasi_identifiers] + (["sensitive"] if target.l > 1 else []))
    codes = {}
    for qi in target.quasi_identifiers:
        fine, uniques = pd.factorize(frame[qi], sort=True)
        codes[qi] = [np.asarray(_level_codes(qi, level, pd.Series(uniques)))[fine] for level in range(len(LEVELS[qi]))]
    sensitive = frame["sensitive"].to_numpy() if target.l > 1 else None
    return frame["id"].to_numpy(), codes, sensitive


def _level_codes(qi: str, level: int, uniques):
    """A code per distinct value at `level` (equal codes: the same generalized value)."""
    import pandas as pd

    if level == len(LEVELS[qi]) - 1:
        return [0] * len(uniques)  # hidden: everyone alike
    if level == 0:
        return range(len(uniques))
    if qi == "birth_date":
        years = pd.to_datetime(uniques).dt.year
        return years - years % {1: 1, 2: 5, 3: 10}[level]
    if qi == "zip_code":
        return pd.factorize(uniques.str[: 5 - level])[0]
    raise AssertionError(qi)


# --- the lattice ------------------------------------------------------------------------------


class Evaluator:
    """Counts one node: records in classes violating the target (they would be suppressed)."""

    def __init__(self, target: Target, codes: dict, sensitive):
        self.target, self.codes, self.sensitive = target, codes, sensitive
        self.counted = 0

    def class_ids(self, levels: tuple[int, ...]):
        import numpy as np
        import pandas as pd

        key = np.zeros(len(next(iter(self.codes.values()))[0]), dtype=np.int64)
        for qi, level in zip(self.target.quasi_identifiers, levels):
            code = self.codes[qi][level]
            key = key * (int(code.max()) + 1) + code  # mixed radix: one int64 per combination
        return pd.factorize(key)[0]

    def violating(self, levels: tuple[int, ...]):
        """A boolean array: the records in classes smaller than k or less diverse than l."""
        import numpy as np

        self.counted += 1
        classes = self.class_ids(levels)
        sizes = np.bincount(classes)
        bad = sizes < self.target.k
        if self.target.l > 1:
            import pandas as pd

            pairs = pd.DataFrame({"c": classes, "s": self.sensitive}).drop_duplicates()
            diversity = np.bincount(pairs["c"].to_numpy(), minlength=len(sizes))
            bad |= diversity < self.target.l
        return bad[classes]


def information_loss(target: Target, levels: tuple[int, ...]) -> float:
    """Sweeney's precision loss: the weighted mean of level / top level (0 exact, 1 all hidden)."""
    weights = [target.weights.get(q, 1.0) for q in target.quasi_identifiers]
    parts = [w * lv / (len(LEVELS[q]) - 1) for q, lv, w in zip(target.quasi_identifiers, levels, weights)]
    return sum(parts) / sum(weights)


def search(target: Target = Target(), *, schema: str = "public", conn=None) -> Search:
    """The least lossy full-domain generalization meeting `target` with local suppression."""
    import numpy as np

    started = time.perf_counter()
    ids, codes, sensitive = load_codes(target, schema=schema, conn=conn)
    if not len(ids):
        raise WorkshopError(f"Schema {schema!r} has no customers", "run workshop.setup() first")
    evaluator = Evaluator(target, codes, sensitive)
    limit = int(target.max_suppressed * len(ids))
    heights = [range(len(LEVELS[q])) for q in target.quasi_identifiers]
    nodes = list(itertools.product(*heights))
    status: dict[tuple, bool] = {}  # node -> meets the target (after suppression)
    suppressed: dict[tuple, int] = {}

    def tag(node, ok):
        for other in nodes:
            if other not in status and (all(a >= b for a, b in zip(other, node)) if ok else all(a <= b for a, b in zip(other, node))):
                status[other] = ok

    # Binary search on the poset: count an untagged node of middle height, then tag all its
    # generalizations (it meets the target) or all its specializations (it does not).
    while len(status) < len(nodes):
        untagged = [n for n in nodes if n not in status]
        lo, hi = min(map(sum, untagged)), max(map(sum, untagged))
        middle = (lo + hi) / 2
        node = min(untagged, key=lambda n: (abs(sum(n) - middle), information_loss(target, n), n))
        count = int(evaluator.violating(node).sum())
        suppressed[node] = count
        tag(node, count <= limit)

    meeting = [n for n, ok in status.items() if ok]
    if not meeting:
        raise WorkshopError(f"No generalization meets k={target.k}, l={target.l} with at most "
                            f"{target.max_suppressed:.0%} suppressed", "allow more suppression or a smaller k")
    best_loss = min(information_loss(target, n) for n in meeting)
    candidates = [n for n in meeting if information_loss(target, n) <= best_loss + 1e-12]
    for n in candidates:  # ties: the fewest suppressed records
        if n not in suppressed:
            suppressed[n] = int(evaluator.violating(n).sum())
    chosen = min(candidates, key=lambda n: (suppressed[n], n))
    bad = evaluator.violating(chosen)
    classes = evaluator.class_ids(chosen)
    kept_sizes = np.bincount(classes[~bad])
    kept_sizes = kept_sizes[kept_sizes > 0]
    return Search(target=target, chosen=chosen, rows=len(ids), suppressed_ids=[int(i) for i in ids[bad]],
                  nodes=len(nodes), evaluated=evaluator.counted, satisfying=len(meeting),
                  information_loss=information_loss(target, chosen), seconds=time.perf_counter() - started,
                  classes=len(kept_sizes), k_reached=int(kept_sizes.min()) if len(kept_sizes) else 0)


# --- applying it: rules, build, suppression ---------------------------------------------------


def suppress(ids: list[int], *, schema: str, conn=None) -> int:
    """Withhold customers from the copy, with every row that points at them (orders, their
    items, reviews), children first. Returns the customers deleted."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn
    from workshop.anonymize.rules import get_model

    customer = get_model("shop.Customer")
    with _conn(conn) as c:
        with c.transaction():
            c.execute("CREATE TEMP TABLE IF NOT EXISTS _suppressed (id bigint PRIMARY KEY) ON COMMIT DROP")
            with c.cursor().copy("COPY _suppressed (id) FROM STDIN") as copy:
                for i in ids:
                    copy.write_row((i,))
            _delete_dependents(c, customer, sql.SQL("SELECT id FROM _suppressed"), schema)
            return c.execute(sql.SQL("DELETE FROM {} WHERE id IN (SELECT id FROM _suppressed)").format(
                sql.Identifier(schema, customer._meta.db_table))).rowcount


def _delete_dependents(c, model, ids_sql, schema: str) -> None:
    """Rows of other tables whose foreign key points at the rows `ids_sql` selects, recursively."""
    from psycopg import sql

    for relation in model._meta.related_objects:
        if relation.many_to_many or not relation.field.concrete:
            continue
        child = relation.related_model
        table = sql.Identifier(schema, child._meta.db_table)
        selected = sql.SQL("SELECT {pk} FROM {t} WHERE {fk} IN ({ids})").format(
            pk=sql.Identifier(child._meta.pk.column), t=table, fk=sql.Identifier(relation.field.column), ids=ids_sql)
        _delete_dependents(c, child, selected, schema)
        c.execute(sql.SQL("DELETE FROM {t} WHERE {fk} IN ({ids})").format(
            t=table, fk=sql.Identifier(relation.field.column), ids=ids_sql))


def merge_rules(base: dict, extra: dict) -> dict:
    """`base` with `extra`'s rules added (extra wins on the same field)."""
    merged = {label: dict(fields) for label, fields in base.items()}
    for label, fields in extra.items():
        merged.setdefault(label, {}).update(fields)
    return merged


@dataclass
class TargetReport:
    search: Search
    build_seconds: float
    suppress_seconds: float
    utility: object  # DataFrame: aggregate, cells, mean and max relative error
    target_schema: str

    @property
    def utility_max_error(self) -> float:
        return float(self.utility["max relative error"].max())

    def _repr_html_(self) -> str:
        s = self.search
        return (f"<b>k = {s.target.k}</b>{f', l = {s.target.l}' if s.target.l > 1 else ''} reached in "
                f"<code>{self.target_schema}</code> with <b>{s.describe()}</b><br>"
                f"{len(s.suppressed_ids):,} of {s.rows:,} customers suppressed ({s.suppressed_share:.2%}, limit "
                f"{s.target.max_suppressed:.0%}); smallest class {s.k_reached}; information loss {s.information_loss:.2f}; "
                f"lattice: {s.evaluated} of {s.nodes} nodes counted, {s.seconds:.2f} s; build {self.build_seconds:.2f} s, "
                f"suppression {self.suppress_seconds:.2f} s<br>" + self.utility.to_html(index=False, float_format="{:.1%}".format))

    def __str__(self) -> str:
        s = self.search
        return (f"k={s.target.k} via {s.describe()}: {len(s.suppressed_ids):,}/{s.rows:,} suppressed, "
                f"loss {s.information_loss:.2f}, max aggregate error {self.utility_max_error:.1%}")


def build_to_target(target: Target = Target(), rules: dict | None = None, *, schema: str = "anon",
                    source: str = "public", progress: bool = False, **build_options) -> TargetReport:
    """Search the lattice, build the copy with the base rules plus the chosen generalization,
    withhold the suppressed customers, and measure the utility left."""
    from workshop.anonymize import engine
    from workshop.anonymize.shop_rules import shop_rules

    found = search(target, schema=source)
    base = rules if rules is not None else shop_rules()
    started = time.perf_counter()
    engine.build(merge_rules(base, found.rules()), target=schema, source=source, progress=progress, **build_options)
    built = time.perf_counter()
    suppress(found.suppressed_ids, schema=schema)
    done = time.perf_counter()
    return TargetReport(found, built - started, done - built, measure_utility(schema, source), schema)


# --- utility: a fixed set of analysts' aggregates, copy vs source ------------------------------

AGGREGATES = {
    "revenue by region and age band": (
        "SELECT left(c.zip_code, 1), date_part('year', c.birth_date)::int / 10 * 10, sum(i.quantity * i.unit_price)::float8 "
        "FROM {s}.shop_customer c JOIN {s}.shop_order o ON o.customer_id = c.id JOIN {s}.shop_orderitem i ON i.order_id = o.id "
        "GROUP BY 1, 2"),
    "customers by state": "SELECT c.state, '', count(*)::float8 FROM {s}.shop_customer c GROUP BY 1",
    "customers by gender": "SELECT c.gender, '', count(*)::float8 FROM {s}.shop_customer c GROUP BY 1",
    "average rating by category": (
        "SELECT p.category_id::text, '', avg(r.rating)::float8 FROM {s}.shop_review r JOIN {s}.shop_product p ON p.id = r.product_id "
        "GROUP BY 1"),
}


def measure_utility(copy: str, source: str = "public", conn=None):
    """Each aggregate on the source and on the copy: the relative error per cell (a cell the
    copy lacks counts as 100%), its mean and its max."""
    import pandas as pd
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    rows = []
    with _conn(conn) as c:
        for name, template in AGGREGATES.items():
            def cells(schema, template=template):
                query = sql.SQL(template).format(s=sql.Identifier(schema))
                return {(str(a), str(b)): v for a, b, v in c.execute(query).fetchall()}
            truth, released = cells(source), cells(copy)
            errors = [abs(released.get(cell, 0.0) - value) / abs(value) for cell, value in truth.items() if value]
            rows.append({"aggregate": name, "cells": len(truth),
                         "mean relative error": sum(errors) / len(errors) if errors else 0.0,
                         "max relative error": max(errors, default=0.0)})
    return pd.DataFrame(rows)


def recount(target: Target, schema: str, chosen: tuple[int, ...] | None = None, conn=None) -> int:
    """The smallest class of the declared quasi-identifiers as they are in `schema` (one GROUP
    BY on the copy's values, independent of the search's arithmetic)."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    cols = sql.SQL(", ").join(sql.Identifier(q) for q in target.quasi_identifiers)
    with _conn(conn) as c:
        row = c.execute(sql.SQL("SELECT min(n) FROM (SELECT count(*) AS n FROM {} GROUP BY {}) g").format(
            sql.Identifier(schema, "shop_customer"), cols)).fetchone()
    return int(row[0] or 0)
