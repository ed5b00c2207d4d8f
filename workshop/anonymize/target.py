"""A privacy target, reached automatically: declared quasi-identifiers, k (and optionally
l-diversity of a sensitive attribute), a full-domain generalization lattice searched
ARX-style with monotonicity pruning, local suppression up to a limit, and the utility lost.

    from workshop.anonymize.target import Target, build_to_target
    result = build_to_target(Target(k=5))     # the shop's rules + the chosen generalization
    result                                      # what it chose, suppressed, information loss, errors

How the search is fast: one query reads each customer's quasi-identifiers once (each column
aggregated into one bytea of int8s that numpy reads as an array); every generalization level
of every column is then an integer code computed once. A node's equivalence classes are one
group-by of the combined code, and a coarser node's class sizes are sums of a finer node's
(roll-up), so most nodes are counted from a small table rather than from the records.
Monotonicity prunes the lattice: a node that meets the target makes every coarser node meet
it, a node that fails makes every finer node fail; and once a node meets it, nodes that lose
more information are never counted (branch and bound).
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
            raise WorkshopError(
                f"l-diversity needs a sensitive attribute, not {self.sensitive!r}",
                f"use sensitive={next(iter(SENSITIVE))!r}",
            )
        unknown = [q for q in self.quasi_identifiers if q not in LEVELS]
        if unknown or not self.quasi_identifiers:
            raise WorkshopError(
                f"Unknown quasi-identifier(s) {unknown or '(none)'}", f"choose from: {', '.join(LEVELS)}"
            )
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
    satisfying: int  # nodes known to meet the target (those losing more than the best are not counted)
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
    """Per customer: its id and, per quasi-identifier, one integer code array per level.

    One query, one row: each column is aggregated in PostgreSQL into a single bytea of
    big-endian int8s (string_agg of int8send), which numpy reads as an array without a
    Python object per value (a row-per-message binary COPY costs more in the client than
    the scan). A date is its days since 1900; a text its 64-bit hash (hashtextextended),
    which is exact at every level but the ZIP prefixes: those come from the few distinct
    ZIPs, read with their hashes (a collision between two of them would be reported)."""
    import numpy as np
    import pandas as pd
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    qis = target.quasi_identifiers
    table = sql.Identifier(schema, "shop_customer")
    columns = [sql.SQL("c.id::int8")] + [_code_sql(qi) for qi in qis]
    join = sql.SQL("")
    if target.l > 1:
        columns.append(sql.SQL("coalesce(x.category_id, 0)::int8"))
        join = sql.SQL("LEFT JOIN ({}) AS x ON x.customer_id = c.id").format(
            sql.SQL(SENSITIVE[target.sensitive]).format(s=sql.Identifier(schema))
        )
    query = sql.SQL("SELECT {aggs} FROM {t} AS c {join}").format(
        aggs=sql.SQL(", ").join(sql.SQL("string_agg(int8send({}), ''::bytea)").format(col) for col in columns),
        t=table,
        join=join,
    )
    with _conn(conn) as c:
        with c.cursor(binary=True) as cur:
            blobs = cur.execute(query).fetchone()
        texts = {
            qi: c.execute(
                sql.SQL("SELECT DISTINCT {v}, hashtextextended({v}, 0) FROM {t}").format(v=sql.Identifier(qi), t=table)
            ).fetchall()
            for qi in qis
            if qi == "zip_code"
        }
    arrays = [np.frombuffer(blob or b"", dtype=">i8").astype(np.int64) for blob in blobs]
    codes = {}
    for qi, values in zip(qis, arrays[1:]):
        inverse, uniques = pd.factorize(values)
        codes[qi] = [
            np.asarray(_level_codes(qi, level, uniques, texts.get(qi)), dtype=np.int32)[inverse]
            for level in range(len(LEVELS[qi]))
        ]
    return arrays[0], codes, arrays[-1] if target.l > 1 else None


def _code_sql(qi: str):
    """An int8 per value: equal values, equal codes (NULL folded into a value of its own)."""
    from psycopg import sql

    column = sql.Identifier("c", qi)
    if qi == "birth_date":
        return sql.SQL("coalesce({} - DATE '1900-01-01', -100000)::int8").format(column)
    return sql.SQL("hashtextextended(coalesce({}, ''), 0)").format(column)


def _level_codes(qi: str, level: int, uniques, texts=None):
    """A code per distinct value at `level` (equal codes: the same generalized value)."""
    import numpy as np
    import pandas as pd

    if level == len(LEVELS[qi]) - 1:
        return np.zeros(len(uniques), dtype=np.int64)  # hidden: everyone alike
    if level == 0:
        return np.arange(len(uniques))
    if qi == "birth_date":
        years = (np.datetime64("1900-01-01") + uniques.astype("timedelta64[D]")).astype("datetime64[Y]").astype(
            np.int64
        ) + 1970
        return years - years % {1: 1, 2: 5, 3: 10}[level]
    if qi == "zip_code":
        by_hash = {int(h): v or "" for v, h in texts}
        if len(by_hash) != len(texts):
            raise WorkshopError("Two different ZIP codes share a 64-bit hash", "report this (it should not happen)")
        return pd.factorize(pd.Series([by_hash[int(h)] for h in uniques]).str[: 5 - level])[0]
    raise AssertionError(qi)


# --- the lattice ------------------------------------------------------------------------------


def combine(columns):
    """One int64 class key per row from several integer code columns (mixed radix), folded
    back to dense codes whenever the radix grows large, so it never overflows."""
    import numpy as np
    import pandas as pd

    key, bound = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64), 1
    for code in columns:
        width = int(code.max()) + 1 if len(code) else 1
        if bound * width >= 2**62:
            key = pd.factorize(key)[0].astype(np.int64)
            bound = int(key.max()) + 1 if len(key) else 1
        key, bound = key * width + code, bound * width
    return pd.factorize(key)[0]


class Evaluator:
    """Counts one node on the records themselves: which records sit in classes violating the
    target (they would be suppressed). The search counts with RollUp; this is used for the
    node it chooses (which records to withhold) and as the tests' independent count."""

    def __init__(self, target: Target, codes: dict, sensitive):
        self.target, self.codes, self.sensitive = target, codes, sensitive
        self.counted = 0

    def class_ids(self, levels: tuple[int, ...]):
        return combine([self.codes[qi][level] for qi, level in zip(self.target.quasi_identifiers, levels)])

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


class RollUp:
    """Counts a node from the class counts of a finer node already counted rather than from
    the records when it can: every class of a coarser node is a union of classes of a finer
    one, so its size is the sum of theirs. The finest source is the records themselves
    (their codes at every level are at hand); a node's table (one row per class: its codes
    and size) is kept as a source when it is small, and the next node re-groups the smallest
    finer table. For l-diversity a table has one row per (class, sensitive value), so a
    class's diversity is its number of rows. A hidden quasi-identifier is left out of the key."""

    KEEP = 300_000  # tables up to this many rows stay as sources (a memory bound)
    DENSE = 2_000_000  # keys below this count by bincount directly, without hashing

    def __init__(self, target: Target, codes: dict, sensitive):
        import numpy as np

        self.target, self.codes, self.sensitive, self.counted = target, codes, sensitive, 0
        self.qis = target.quasi_identifiers
        self.top = tuple(len(LEVELS[q]) - 1 for q in self.qis)
        # up[qi][a, b]: code at level a -> code at level b (b > a); the ladders are hierarchies.
        self.up = {}
        for qi in self.qis:
            levels = codes[qi]
            self.up[qi] = {}
            for a in range(len(levels)):
                for b in range(a + 1, len(levels)):
                    mapping = np.zeros(int(levels[a].max()) + 1 if len(levels[a]) else 1, dtype=np.int32)
                    mapping[levels[a]] = levels[b]
                    self.up[qi][a, b] = mapping
        self.tables: dict = {}  # node -> (code columns, sizes)

    def _columns(self, node):
        """The node's code columns and counts, from the smallest finer table or the records."""
        sources = [n for n in self.tables if all(a <= b for a, b in zip(n, node))]
        if not sources:
            columns = [self.codes[qi][lv] for qi, lv in zip(self.qis, node)]
            return columns + ([self.sensitive] if self.target.l > 1 else []), None
        source = min(sources, key=lambda n: len(self.tables[n][1]))
        columns, counts = self.tables[source]
        mapped = [col if a == b else self.up[qi][a, b][col] for qi, a, b, col in zip(self.qis, source, node, columns)]
        return mapped + columns[len(self.qis) :], counts

    def table(self, node: tuple[int, ...]):
        """(class of each source row, sizes per class, the source's code columns)."""
        import numpy as np

        columns, counts = self._columns(node)
        keep = [c for c, lv, top in zip(columns, node, self.top) if lv < top] + columns[len(self.qis) :]
        widths = [int(c.max()) + 1 if len(c) else 1 for c in keep]
        if int(np.prod(widths, dtype=np.float64)) <= self.DENSE:
            key = np.zeros(len(columns[0]), dtype=np.int64)
            for c, w in zip(keep, widths):
                key = key * w + c
            dense = np.bincount(key, weights=counts, minlength=int(np.prod(widths))).astype(np.int64)
            present = np.flatnonzero(dense)
            number = np.empty(len(dense), dtype=np.int64)
            number[present] = np.arange(len(present))
            classes, sizes = number[key], dense[present]
        else:
            classes = combine(keep) if keep else np.zeros(len(columns[0]), dtype=np.int64)
            sizes = np.bincount(classes, weights=counts).astype(np.int64)
        if len(sizes) <= self.KEEP and node not in self.tables:
            first = np.empty(len(sizes), dtype=np.int64)
            first[classes[::-1]] = np.arange(len(classes) - 1, -1, -1)  # a representative row per class
            self.tables[node] = ([c[first] for c in columns], sizes)
        return classes, sizes, columns

    def violating_count(self, node: tuple[int, ...]) -> int:
        """Records in classes smaller than k (or less diverse than l) at `node`."""
        import numpy as np

        self.counted += 1
        classes, sizes, columns = self.table(node)
        if self.target.l == 1:
            return int(sizes[sizes < self.target.k].sum())
        # classes are (quasi-identifiers, sensitive) pairs here: group them by the first part
        rows = (
            self.tables[node][0]
            if node in self.tables
            else [c[np.unique(classes, return_index=True)[1]] for c in columns]
        )
        qi_class = (
            combine([c for c, lv, top in zip(rows, node, self.top) if lv < top])
            if any(lv < top for lv, top in zip(node, self.top))
            else np.zeros(len(sizes), dtype=np.int64)
        )
        total = np.bincount(qi_class, weights=sizes).astype(np.int64)
        diversity = np.bincount(qi_class)
        return int(total[(total < self.target.k) | (diversity < self.target.l)].sum())


def information_loss(target: Target, levels: tuple[int, ...]) -> float:
    """Sweeney's precision loss: the weighted mean of level / top level (0 exact, 1 all hidden)."""
    weights = [target.weights.get(q, 1.0) for q in target.quasi_identifiers]
    parts = [w * lv / (len(LEVELS[q]) - 1) for q, lv, w in zip(target.quasi_identifiers, levels, weights)]
    return sum(parts) / sum(weights)


def floor_levels(target: Target, rules: dict) -> tuple[int, ...]:
    """Per quasi-identifier, the level the base rules already write (0 when they leave it,
    or rewrite it some other way): the search need not look finer than what the copy gets
    anyway (the shop's rules blank the city, so a node keeping it would describe a copy
    that does not exist, and spend the privacy budget elsewhere)."""
    customer = rules.get("shop.Customer", {})
    floor = []
    for qi in target.quasi_identifiers:
        written = customer.get(qi)
        same = [lv for lv in range(1, len(LEVELS[qi])) if written is not None and level_strategy(qi, lv) == written]
        floor.append(same[0] if same else 0)
    return tuple(floor)


def search(
    target: Target = Target(), *, schema: str = "public", conn=None, floor: tuple[int, ...] | None = None
) -> Search:
    """The least lossy full-domain generalization meeting `target` with local suppression,
    among the nodes at or above `floor` (default: the whole lattice)."""
    import numpy as np

    started = time.perf_counter()
    ids, codes, sensitive = load_codes(target, schema=schema, conn=conn)
    if not len(ids):
        raise WorkshopError(f"Schema {schema!r} has no customers", "run workshop.setup() first")
    counter = RollUp(target, codes, sensitive)
    limit = int(target.max_suppressed * len(ids))
    floor = floor or tuple(0 for _ in target.quasi_identifiers)
    heights = [range(low, len(LEVELS[q])) for q, low in zip(target.quasi_identifiers, floor)]
    nodes = list(itertools.product(*heights))
    status: dict[tuple, bool] = {}  # node -> meets the target (after suppression)
    suppressed: dict[tuple, int] = {}

    def tag(node, ok):
        for other in nodes:
            if other not in status and (
                all(a >= b for a, b in zip(other, node)) if ok else all(a <= b for a, b in zip(other, node))
            ):
                status[other] = ok

    # Binary search on the poset: count an untagged node of middle height, then tag all its
    # generalizations (it meets the target) or all its specializations (it does not). Once a
    # node meets the target, nodes losing more information can no longer be chosen: they are
    # left uncounted (branch and bound).
    loss = {n: information_loss(target, n) for n in nodes}
    best = float("inf")
    while True:
        untagged = [n for n in nodes if n not in status and loss[n] <= best + 1e-12]
        if not untagged:
            break
        lo, hi = min(map(sum, untagged)), max(map(sum, untagged))
        middle = (lo + hi) / 2
        node = min(untagged, key=lambda n: (abs(sum(n) - middle), information_loss(target, n), n))
        count = counter.violating_count(node)
        suppressed[node] = count
        tag(node, count <= limit)
        if count <= limit:
            best = min(best, loss[node])

    meeting = [n for n, ok in status.items() if ok]
    if not meeting:
        raise WorkshopError(
            f"No generalization meets k={target.k}, l={target.l} with at most {target.max_suppressed:.0%} suppressed",
            "allow more suppression or a smaller k",
        )
    best_loss = min(information_loss(target, n) for n in meeting)
    candidates = [n for n in meeting if information_loss(target, n) <= best_loss + 1e-12]
    for n in candidates:  # ties: the fewest suppressed records
        if n not in suppressed:
            suppressed[n] = counter.violating_count(n)
    chosen = min(candidates, key=lambda n: (suppressed[n], n))
    evaluator = Evaluator(target, codes, sensitive)  # on the records: which ones to withhold
    bad = evaluator.violating(chosen)
    classes = evaluator.class_ids(chosen)
    kept_sizes = np.bincount(classes[~bad])
    kept_sizes = kept_sizes[kept_sizes > 0]
    return Search(
        target=target,
        chosen=chosen,
        rows=len(ids),
        suppressed_ids=sorted(int(i) for i in ids[bad]),
        nodes=len(nodes),
        evaluated=counter.counted,
        satisfying=len(meeting),
        information_loss=information_loss(target, chosen),
        seconds=time.perf_counter() - started,
        classes=len(kept_sizes),
        k_reached=int(kept_sizes.min()) if len(kept_sizes) else 0,
    )


# --- applying it: rules, build, suppression ---------------------------------------------------


def suppress(ids: list[int], *, schema: str, conn=None) -> int:
    """Withhold customers from the copy, with every row that points at them (orders, their
    items, reviews). Returns the customers deleted.

    The ids arrive by COPY into a temporary table, analyzed so that the planner knows it
    is small and reaches the children through their foreign-key indexes rather than by
    scanning them. Parents go first, each child table in one DELETE ... USING the ids just
    deleted above it (RETURNING its own ids when something points at it in turn): Django's
    foreign keys are DEFERRABLE INITIALLY DEFERRED, so they are checked once, at commit,
    when the whole tree is gone.

    Known limit: those checks look each deleted key up by primary key. The build's collision
    fixes UPDATE customers before their indexes are built, so PostgreSQL marks those indexes
    indcheckxmin; while a transaction older than the build is still running on the database
    (another build or benchmark), this transaction may not use them and every check becomes
    a sequential scan (minutes instead of about a second)."""
    from psycopg import sql

    from workshop.anonymize import db, ownership
    from workshop.anonymize.measure import _conn
    from workshop.anonymize.rules import get_model

    db.check_schema_name(schema)
    customer = get_model("shop.Customer")
    with _conn(conn) as c:
        ownership.require_marked(c, schema, "suppress")  # deletes: only in a copy the engine made
        with c.transaction():
            # The copy was just written and sits in memory: a random read costs about what a
            # sequential one does, so index lookups of the few thousand rows win over scans.
            c.execute("SET LOCAL random_page_cost = 1.1")
            c.execute("SET CONSTRAINTS ALL DEFERRED")
            doomed = _doomed_table(c)
            with c.cursor().copy(sql.SQL("COPY {} (id) FROM STDIN").format(doomed)) as copy:
                for i in ids:
                    copy.write_row((i,))
            c.execute(sql.SQL("ANALYZE {}").format(doomed))
            deleted = c.execute(
                sql.SQL("DELETE FROM {t} AS x USING {d} AS d WHERE x.{pk} = d.id").format(
                    t=sql.Identifier(schema, customer._meta.db_table),
                    d=doomed,
                    pk=sql.Identifier(customer._meta.pk.column),
                )
            ).rowcount
            _delete_dependents(c, customer, doomed, schema)
            return deleted


_doomed_names = itertools.count()


def _doomed_table(c):
    """A new temporary table of ids, dropped at commit."""
    from psycopg import sql

    name = sql.Identifier(f"_suppressed_{next(_doomed_names)}")
    c.execute(sql.SQL("CREATE TEMP TABLE {} (id bigint PRIMARY KEY) ON COMMIT DROP").format(name))
    return name


def _references(model):
    return [r for r in model._meta.related_objects if not r.many_to_many and r.field.concrete]


def _delete_dependents(c, model, doomed, schema: str) -> None:
    """Rows of other tables whose foreign key points at the (deleted) rows listed in `doomed`,
    recursively, one DELETE per table."""
    from psycopg import sql

    for relation in _references(model):
        child = relation.related_model
        delete = sql.SQL("DELETE FROM {t} AS x USING {d} AS d WHERE x.{fk} = d.id").format(
            t=sql.Identifier(schema, child._meta.db_table), d=doomed, fk=sql.Identifier(relation.field.column)
        )
        if not _references(child):
            c.execute(delete)
            continue
        children = _doomed_table(c)
        c.execute(
            sql.SQL("WITH gone AS ({delete} RETURNING x.{pk}) INSERT INTO {c} SELECT * FROM gone").format(
                delete=delete, pk=sql.Identifier(child._meta.pk.column), c=children
            )
        )
        c.execute(sql.SQL("ANALYZE {}").format(children))
        _delete_dependents(c, child, children, schema)


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
        return (
            f"<b>k = {s.target.k}</b>{f', l = {s.target.l}' if s.target.l > 1 else ''} reached in "
            f"<code>{self.target_schema}</code> with <b>{s.describe()}</b><br>"
            f"{len(s.suppressed_ids):,} of {s.rows:,} customers suppressed ({s.suppressed_share:.2%}, limit "
            f"{s.target.max_suppressed:.0%}); smallest class {s.k_reached}; information loss {s.information_loss:.2f}; "
            f"lattice: {s.evaluated} of {s.nodes} nodes counted, {s.seconds:.2f} s; build {self.build_seconds:.2f} s, "
            f"suppression {self.suppress_seconds:.2f} s<br>"
            + self.utility.to_html(index=False, float_format="{:.1%}".format)
        )

    def __str__(self) -> str:
        s = self.search
        return (
            f"k={s.target.k} via {s.describe()}: {len(s.suppressed_ids):,}/{s.rows:,} suppressed, "
            f"loss {s.information_loss:.2f}, max aggregate error {self.utility_max_error:.1%}"
        )


def build_to_target(
    target: Target = Target(),
    rules: dict | None = None,
    *,
    schema: str = "anon",
    source: str = "public",
    progress: bool = False,
    **build_options,
) -> TargetReport:
    """Search the lattice, build the copy with the base rules plus the chosen generalization,
    withhold the suppressed customers, and measure the utility left."""
    from workshop.anonymize import engine
    from workshop.anonymize.shop_rules import shop_rules

    base = rules if rules is not None else shop_rules()
    found = search(target, schema=source, floor=floor_levels(target, base))
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
        "GROUP BY 1, 2"
    ),
    "customers by state": "SELECT c.state, '', count(*)::float8 FROM {s}.shop_customer c GROUP BY 1",
    "customers by gender": "SELECT c.gender, '', count(*)::float8 FROM {s}.shop_customer c GROUP BY 1",
    "average rating by category": (
        "SELECT p.category_id::text, '', avg(r.rating)::float8 FROM {s}.shop_review r JOIN {s}.shop_product p ON p.id = r.product_id "
        "GROUP BY 1"
    ),
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
            rows.append(
                {
                    "aggregate": name,
                    "cells": len(truth),
                    "mean relative error": sum(errors) / len(errors) if errors else 0.0,
                    "max relative error": max(errors, default=0.0),
                }
            )
    return pd.DataFrame(rows)


def recount(target: Target, schema: str, chosen: tuple[int, ...] | None = None, conn=None) -> int:
    """The smallest class of the declared quasi-identifiers as they are in `schema` (one GROUP
    BY on the copy's values, independent of the search's arithmetic)."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    cols = sql.SQL(", ").join(sql.Identifier(q) for q in target.quasi_identifiers)
    with _conn(conn) as c:
        row = c.execute(
            sql.SQL("SELECT min(n) FROM (SELECT count(*) AS n FROM {} GROUP BY {}) g").format(
                sql.Identifier(schema, "shop_customer"), cols
            )
        ).fetchone()
    return int(row[0] or 0)
