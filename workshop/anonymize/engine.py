"""Build an anonymized copy of a schema inside PostgreSQL, set-based, in parallel.

1. Rules are validated against Django's models and the source catalog (nothing written).
2. A build schema `<target>__building` gets every table (LIKE the source, no indexes yet)
   and the seeded fake-value pools (COPY).
3. Each table is filled by INSERT ... SELECT <anonymizing expressions> FROM source, one
   statement per id range, on `workers` connections. No row ever travels to Python.
   Pseudonyms that happen to equal some original value are re-drawn (collisions.py).
4. Indexes are built, then primary/unique/check constraints attached, foreign keys added
   NOT VALID and validated in parallel, identities moved past the copied ids.
5. One transaction drops the old copy and renames the build schema to `<target>`.

The source is only read. Any failure drops the build schema and leaves the previous copy.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from workshop.anonymize import catalog as catalog_mod
from workshop.anonymize import collisions, db, keys, pools, rules as rules_mod
from workshop.anonymize.query import Query
from workshop.anonymize.strategies import Fake, Pseudonymize
from workshop.errors import WorkshopError

BUILD_SUFFIX = "__building"
LOCK_NAMESPACE = 0x5750_0003  # advisory lock: one build per target at a time


@dataclass
class Report:
    target: str
    tables: dict[str, int]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def _repr_html_(self) -> str:
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in self.phases.items())
        return (f"<b>{self.rows:,} rows</b> in {len(self.tables)} tables copied into schema <code>{self.target}</code> "
                f"in <b>{self.seconds:.2f} s</b> ({self.rows_per_second:,.0f} rows/s)<br><small>{phases}</small>")

    def __str__(self) -> str:
        return f"{self.rows:,} rows in {len(self.tables)} tables -> {self.target} in {self.seconds:.2f} s ({self.rows_per_second:,.0f} rows/s)"


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > 63 - len(BUILD_SUFFIX) or name.startswith("pg_"):
        raise WorkshopError(f"{what} schema name {name!r} is not usable", "use a short name such as 'anon'")


def build(rules: dict | None = None, *, target: str = "anon", source: str = "public", key: bytes | None = None,
          workers: int = 2, progress: bool = True, only: list[str] | None = None, chunk_rows: int = 250_000) -> Report:
    """Write the anonymized copy of schema `source` into schema `target`; returns a Report.

    rules: {"app.Model": {"field": Strategy}}, default the shop's (shop_rules.shop_rules()).
    only: model labels whose tables are copied (default: every table of the source).
    key: the master key (default keys.load_key()).
    """
    from workshop.anonymize.shop_rules import shop_rules

    _check_name(target, "Target")
    if target == source:
        raise WorkshopError(f"The target schema {target!r} is the source", "anonymize into another schema, e.g. 'anon'")
    started = time.perf_counter()
    phases: dict[str, float] = {}
    master = key if key is not None else keys.load_key()
    hmac_key = keys.derive(keys.check(master), "hmac")
    with db.connect() as conn:
        with conn.transaction():
            tables = catalog_mod.read(conn.cursor(), source)
        if not tables:
            raise WorkshopError(f"Schema {source!r} has no tables", "run workshop.setup() first")
        wanted = rules if rules is not None else shop_rules()
        resolved = {t.table: t for t in rules_mod.validate(wanted, {n: t.types for n, t in tables.items()})}
        if only is not None:
            keep = {rules_mod.get_model(label)._meta.db_table for label in only}
            tables = {n: t for n, t in tables.items() if n in keep}
        _check_shapes(conn, source, resolved)
        build_schema = target + BUILD_SUFFIX
        locked = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, target]).fetchone()[0]
        if not locked:
            raise WorkshopError(f"Another anonymization into schema {target!r} is running", "wait for it to finish")
        phases["validate"] = time.perf_counter() - started
        try:
            runner = _Runner(conn, source, build_schema, tables, resolved, hmac_key, workers, progress, chunk_rows)
            counts = runner.run(phases)
            mark = time.perf_counter()
            with conn.transaction():  # the swap: readers see the old copy or the new one, never half
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target)))
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(build_schema), sql.Identifier(target)))
                for name in counts:  # autovacuum was kept off the build: it competes for the same cores
                    conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(sql.Identifier(target, name)))
                conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(target), sql.Literal(f"anonymized copy of {source} by workshop.anonymize")))
            phases["swap"] = time.perf_counter() - mark
        except BaseException as exc:
            _drop_quietly(conn, build_schema)
            if isinstance(exc, psycopg.Error):
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise WorkshopError(f"Anonymization into {target!r} failed ({reason})",
                                    f"the source and the previous {target!r} are untouched; fix the cause and run again") from None
            raise
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_NAMESPACE, target])
    return Report(target, counts, time.perf_counter() - started, phases)


def _drop_quietly(conn: psycopg.Connection, schema: str) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    except psycopg.Error:
        pass  # the next run drops it before starting


def _check_shapes(conn, source: str, resolved: dict) -> None:
    """Permutations need every source value in the template's shape: checked before writing."""
    problems = []
    for table in resolved.values():
        for column, strategy in table.rules:
            if isinstance(strategy, Pseudonymize) and strategy.permutes(column):
                bad = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} !~ {}").format(
                    sql.Identifier(source, table.table), sql.Identifier(column.name),
                    sql.Literal(strategy.shape_regex()))).fetchone()[0]
                if bad:  # the values themselves are personal data: count them, do not show them
                    problems.append(f"{bad:,} values of {column.label} do not have the shape {strategy.template!r}")
    if problems:
        raise WorkshopError("Invalid anonymization rules: " + "; ".join(problems),
                            "use a template matching the data, or a hex template; nothing was written")


def fake_exclusions(source: str, resolved: dict) -> list[sql.Composable]:
    """SELECTs of every original value of every faked column: pools must avoid them all."""
    return [sql.SQL("SELECT {}::text FROM {}").format(sql.Identifier(c.name), sql.Identifier(source, t.table))
            for t in resolved.values() for c, s in t.rules if isinstance(s, Fake)]


def make_pools(cursor, schema: str | None, source: str, resolved: dict) -> dict:
    """Draw every Fake pool, drop the values that are someone's original data, COPY the rest."""
    wanted = {}
    for t in resolved.values():
        for column, strategy in t.rules:
            if isinstance(strategy, Fake):
                wanted.setdefault(strategy.pool_id(column), strategy)
    drawn = {pid: pools.draw(*pid) for pid in wanted}
    originals = pools.originals_among(cursor, {v for values in drawn.values() for v in values},
                                      fake_exclusions(source, resolved))
    made: dict = {}
    for pid, strategy in wanted.items():
        values = [v for v in drawn[pid] if v not in originals]
        if not values:
            raise WorkshopError(f"Every fake {strategy.provider} value is also an original value of a faked column",
                                "use a bigger pool_size or another locale")
        name = f"_pool_{len(made)}"
        table = sql.Identifier(schema, name) if schema else sql.Identifier(name)
        made[pid] = pools.create(cursor, table, values)
    return made


def table_query(source: str, table: catalog_mod.Table, resolved, hmac_key: bytes, pools_by_id: dict) -> tuple[Query, dict]:
    """The table's Query (parameters, joins) and its column -> SQL expression map."""
    q = Query(source, table.name, table.pk, hmac_key, pools_by_id)
    expressions = {}
    if resolved is not None:
        for column, strategy in resolved.rules:
            expressions[column.name] = strategy.expression(q, column)
    return q, expressions


class _Runner:
    def __init__(self, conn, source, schema, tables, resolved, hmac_key, workers, progress, chunk_rows):
        self.conn, self.source, self.schema = conn, source, schema
        self.tables, self.resolved, self.hmac_key = tables, resolved, hmac_key
        self.workers, self.progress, self.chunk_rows = max(1, workers), progress, chunk_rows
        self.local = threading.local()
        self.opened: list[psycopg.Connection] = []
        self.lock = threading.Lock()

    def worker_conn(self) -> psycopg.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = db.connect()
            # Our own build tables: the swap commits for real. Index builds run side by side
            # already, so each gets the memory and no extra parallel workers.
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            with self.lock:
                self.opened.append(conn)
            self.local.conn = conn
        return conn

    def parallel(self, tasks) -> list:
        """Run (callable, args) tasks on the worker connections; the first failure stops the rest."""
        with ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(func, *args): (func, args) for func, args in tasks}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in done:
                if f.exception() is not None:
                    raise f.exception()
            results = [f.result() for f in futures if f.done() and not f.cancelled()]
        return results

    def run(self, phases: dict) -> dict[str, int]:
        from tqdm.auto import tqdm

        try:
            mark = time.perf_counter()
            cur = self.conn.cursor()
            schema = sql.Identifier(self.schema)
            with self.conn.transaction():
                cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))  # a crashed run's leftovers
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                for t in self.tables.values():
                    cur.execute(sql.SQL(
                        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
                        "INCLUDING STORAGE INCLUDING COMMENTS) WITH (autovacuum_enabled = off)").format(
                            sql.Identifier(self.schema, t.name), sql.Identifier(self.source, t.name)))
                # Every rule's pools, even for tables left out: their originals must be excluded too.
                pools_by_id = make_pools(cur, self.schema, self.source, self.resolved)
            phases["pools"] = time.perf_counter() - mark

            mark = time.perf_counter()
            chunks, total = {}, 0
            # Tables with pseudonyms first (copy, collision fix, indexes: the longest chain),
            # then the biggest: their index builds overlap the small tables' copies.
            fixes = collisions.plan(self.source, self.schema, self.tables, self.resolved, self.hmac_key)
            for t in sorted(self.tables.values(), key=lambda t: (t.name not in fixes, -self._size(cur, t))):
                q, expressions = table_query(self.source, t, self.resolved.get(t.name), self.hmac_key, pools_by_id)
                insert = sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE ").format(
                    sql.Identifier(self.schema, t.name), sql.SQL(", ").join(map(sql.Identifier, t.columns)))
                lo, hi, n = cur.execute(sql.SQL("SELECT min({pk}), max({pk}), count(*) FROM {t}").format(
                    pk=sql.Identifier(t.pk) if t.pk else sql.SQL("NULL::int"),
                    t=sql.Identifier(self.source, t.name))).fetchone()
                total += n
                statements = []
                if t.pk and lo is not None and not q.single_chunk:
                    # Enough ranges to keep every worker busy, none so big that progress stalls.
                    step = max(10_000, min(self.chunk_rows, (hi - lo + 1) // (2 * self.workers) + 1))
                    for start in range(lo, hi + 1, step):
                        where = sql.SQL("{} BETWEEN {} AND {}").format(
                            sql.Identifier("s", t.pk), sql.Literal(start), sql.Literal(start + step - 1))
                        statements.append(insert + q.select(t.columns, expressions, where))
                else:
                    statements.append(insert + q.select(t.columns, expressions))
                chunks[t.name] = (statements, q.params)
            counts = {name: 0 for name in self.tables}
            self.new = {t.name: cur.execute("SELECT quote_ident(%s) || '.' || quote_ident(%s)", [self.schema, t.name]).fetchone()[0]
                        for t in self.tables.values()}
            with tqdm(total=total, unit=" rows", unit_scale=True, desc=f"Anonymizing into {self.schema}",
                      disable=not self.progress, leave=False) as bar:
                self._copy_and_index(chunks, counts, bar, fixes)
            phases["copy+indexes"] = time.perf_counter() - mark

            mark = time.perf_counter()
            self._constraints(phases)
            phases["constraints"] = time.perf_counter() - mark
            with self.conn.transaction():
                for i in range(len(pools_by_id)):
                    cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.schema, f"_pool_{i}")))
            return counts
        finally:
            for conn in self.opened:
                conn.close()

    @staticmethod
    def _size(cur, t) -> int:
        return cur.execute("SELECT pg_relation_size(%s::regclass)", [t.qualified]).fetchone()[0]

    def _index_statements(self, t, touching: set[str] | None = None, invert: bool = False) -> list[sql.Composable]:
        """The table's index builds; with `touching`, only those on (or, inverted, not on) those columns."""
        defs = [d for _, d in t.indexes] + [d for _, kind, _, d in t.constraints if kind in ("p", "u")]
        if touching is not None:
            defs = [d for d in defs if bool(_index_columns(d) & touching) != invert]
        return [catalog_mod.retarget_index(d, t.qualified, self.new[t.name]) for d in defs]

    def _copy_and_index(self, chunks: dict, counts: dict, bar, fixes: dict) -> None:
        """Three kinds of jobs on the worker connections: copy an id range, fix a table's
        pseudonyms that hit an original value, build an index. A table's fix is queued as
        soon as its last range is in, its indexes once the fix is done."""
        jobs: queue.Queue = queue.Queue()
        left = {name: len(statements) for name, (statements, _) in chunks.items()}
        state = {"running": 0, "error": None}
        cond = threading.Condition()
        for name, (statements, params) in chunks.items():
            for statement in statements:
                jobs.put(("copy", name, statement, params))

        def work() -> None:
            conn = self.worker_conn()
            while True:
                with cond:
                    while jobs.empty() and state["running"] and state["error"] is None:
                        cond.wait()
                    if state["error"] is not None or (jobs.empty() and not state["running"]):
                        cond.notify_all()
                        return
                    kind, name, statement, params = jobs.get()
                    state["running"] += 1
                try:
                    rows = statement(conn) if kind == "fix" else conn.execute(statement, params).rowcount
                except BaseException as exc:
                    with cond:
                        state["error"] = state["error"] or exc
                        state["running"] -= 1
                        cond.notify_all()
                    return
                with cond:
                    if kind == "copy":
                        counts[name] += rows
                        bar.update(rows)
                        left[name] -= 1
                    table = self.tables[name]
                    if kind == "copy" and left[name] == 0 and name in fixes:
                        # The fix first, and no index build on this table meanwhile: CREATE
                        # INDEX's SHARE lock would make the fix's UPDATEs wait for it.
                        jobs.put(("fix", name, fixes[name], None))
                    elif kind in ("copy", "fix") and (kind == "fix" or left[name] == 0):
                        for index in self._index_statements(table):
                            jobs.put(("index", name, index, None))
                    state["running"] -= 1
                    cond.notify_all()

        threads = [threading.Thread(target=work, daemon=True) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if state["error"] is not None:
            raise state["error"]

    def _constraints(self, phases: dict) -> None:
        mark = time.perf_counter()
        attach, checks, fkeys = [], [], []
        for t in self.tables.values():
            for name, kind, definition, index_def in t.constraints:
                target = sql.Identifier(self.schema, t.name)
                if kind in ("p", "u"):
                    index_name = index_def.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
                    attach.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                        target, sql.Identifier(name), sql.SQL("PRIMARY KEY" if kind == "p" else "UNIQUE"),
                        sql.SQL(index_name), sql.SQL(_deferrable(definition))))
                elif kind == "c":
                    checks.append(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(target, sql.Identifier(name), sql.SQL(definition)))
                elif kind == "f":
                    referenced = definition.split(" REFERENCES ", 1)[1].split("(", 1)[0].strip().strip('"')
                    if referenced in self.tables:  # a foreign key out of a partial copy is dropped
                        fkeys.append((target, name, definition))
        new = self.new
        with self.conn.transaction():
            self.conn.execute(sql.SQL("SELECT set_config('search_path', {}, true)").format(sql.Literal(self.schema)))
            for statement in attach + checks:
                self.conn.execute(statement)
            for target, name, definition in fkeys:
                self.conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
                    target, sql.Identifier(name), sql.SQL(definition)))
            for t in self.tables.values():
                for column in t.identity:
                    self.conn.execute(sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({q}, {c}), coalesce(max({col}), 1), max({col}) IS NOT NULL) FROM {t}"
                    ).format(q=sql.Literal(new[t.name]), c=sql.Literal(column), col=sql.Identifier(column),
                             t=sql.Identifier(self.schema, t.name)))

        def validate(target, name):
            self.worker_conn().execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, sql.Identifier(name)))

        def analyze(name):
            self.worker_conn().execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.schema, name)))

        phases["attach"] = time.perf_counter() - mark
        mark = time.perf_counter()
        self.parallel([(validate, (target, name)) for target, name, _ in fkeys] + [(analyze, (n,)) for n in self.tables])
        phases["validate_fk"] = time.perf_counter() - mark


def _index_columns(definition: str) -> set[str]:
    """Columns of a plain index definition; {"*"} (touches everything) when unsure."""
    inside = definition.rsplit(" USING ", 1)[-1]
    if "(" not in inside or " WHERE " in definition:
        return {"*"}
    body = inside.split("(", 1)[1].rsplit(")", 1)[0]
    if "(" in body:  # an expression index
        return {"*"}
    return {part.strip().split(" ")[0].strip('"') for part in body.split(",")}


def _deferrable(definition: str) -> str:
    if "INITIALLY DEFERRED" in definition:
        return " DEFERRABLE INITIALLY DEFERRED"
    return " DEFERRABLE" if "DEFERRABLE" in definition else ""


def preview(model_label: str, field_name: str, strategy, *, limit: int = 8, source: str = "public",
            key: bytes | None = None):
    """Sample rows before and after one rule, computed by the same SQL as build(), read-only."""
    import pandas as pd

    hmac_key = keys.derive(keys.check(key if key is not None else keys.load_key()), "hmac")
    with db.connect(autocommit=False) as conn:
        try:
            with conn.transaction():
                tables = catalog_mod.read(conn.cursor(), source)
            resolved = {t.table: t for t in rules_mod.validate({model_label: {field_name: strategy}},
                                                               {n: t.types for n, t in tables.items()})}
            rules = next(iter(resolved.values()))
            column = rules.rules[0][0]
            cur = conn.cursor()
            _check_shapes(conn, source, resolved)
            made = make_pools(cur, "pg_temp", source, resolved)  # temporary, gone with the rollback
            q, expressions = table_query(source, tables[rules.table], rules, hmac_key, made)
            key_column = rules.pk or column.name
            rows_before = cur.execute(sql.SQL("SELECT {k}, {c}::text FROM {t} ORDER BY 1 LIMIT {n}").format(
                k=sql.Identifier(key_column), c=sql.Identifier(column.name),
                t=sql.Identifier(source, rules.table), n=sql.Literal(limit))).fetchall()
            ids = [r[0] for r in rows_before]
            select = q.select([key_column, column.name], {column.name: sql.SQL("({})::text").format(expressions[column.name])},
                              where=sql.SQL("{} = ANY(%(ids)s::{}[])").format(
                                  sql.Identifier("s", key_column), sql.SQL(tables[rules.table].types[key_column])))
            rows_after = dict(cur.execute(select, {**q.params, "ids": ids}).fetchall())
        finally:
            conn.rollback()
    return pd.DataFrame({"before": [b for _, b in rows_before], "after": [rows_after.get(i) for i in ids]},
                        index=pd.Index(ids, name=rules.pk or column.name))
