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

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from workshop.anonymize import catalog as catalog_mod
from workshop.anonymize import collisions, db, keys, pools, rules as rules_mod, scheduler
from workshop.anonymize.query import Query
from workshop.anonymize.strategies import Fake, Pseudonymize
from workshop.errors import WorkshopError

BUILD_SUFFIX = "__building"
OLD_SUFFIX = "__old"  # the previous copy between the swap and its deletion
LOCK_NAMESPACE = 0x5750_0003  # advisory lock: one build per target at a time


@dataclass
class Report:
    target: str
    tables: dict[str, int]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    jobs: list = field(default_factory=list)  # (worker, kind, table, start s, end s): the build's timeline

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
            old = target + OLD_SUFFIX
            with conn.transaction():  # the swap: readers see the old copy or the new one, never half
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(old)))  # a crash's leftover
                if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [target]).fetchone():
                    conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(target), sql.Identifier(old)))
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(build_schema), sql.Identifier(target)))
                for name in counts:  # autovacuum was kept off the build: it competes for the same cores
                    conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(sql.Identifier(target, name)))
                conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(target), sql.Literal(f"anonymized copy of {source} by workshop.anonymize")))
            phases["swap"] = time.perf_counter() - mark
            # Deleting the old copy's files (seconds for a freshly written gigabyte) happens
            # after the swap's commit, so readers are only ever held up by the renames.
            mark = time.perf_counter()
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(old)))
            phases["drop old"] = time.perf_counter() - mark
        except BaseException as exc:
            _drop_quietly(conn, build_schema)
            if isinstance(exc, psycopg.Error):
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise WorkshopError(f"Anonymization into {target!r} failed ({reason})",
                                    f"the source and the previous {target!r} are untouched; fix the cause and run again") from None
            raise
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_NAMESPACE, target])
    return Report(target, counts, time.perf_counter() - started, phases,
                  [(w, k, n, a - started, b - started) for w, k, n, a, b in runner.jobs])


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
    """Plans the build as jobs (see scheduler.py) and runs them on `workers` connections.

    Per table: copy (id ranges, or one statement) -> fix pseudonym collisions -> ANALYZE
    -> index builds -> attach primary/unique/check constraints and identities. Foreign keys
    of a table are added and validated once it and every table it references are attached.
    """

    def __init__(self, conn, source, schema, tables, resolved, hmac_key, workers, progress, chunk_rows):
        self.conn, self.source, self.schema = conn, source, schema
        self.tables, self.resolved, self.hmac_key = tables, resolved, hmac_key
        self.workers, self.progress, self.chunk_rows = max(1, workers), progress, chunk_rows
        self.jobs: list = []  # the timeline: (worker, kind, table, start, end), perf_counter times

    def run(self, phases: dict) -> dict[str, int]:
        from tqdm.auto import tqdm

        mark = time.perf_counter()
        cur = self.conn.cursor()
        with self.conn.transaction():
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))  # a crashed run's leftovers
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            for t in self.tables.values():
                cur.execute(sql.SQL(
                    "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
                    "INCLUDING STORAGE INCLUDING COMMENTS) WITH (autovacuum_enabled = off)").format(
                        sql.Identifier(self.schema, t.name), sql.Identifier(self.source, t.name)))
            # Every rule's pools, even for tables left out: their originals must be excluded too.
            pools_by_id = make_pools(cur, self.schema, self.source, self.resolved)
        phases["pools"] = time.perf_counter() - mark

        mark = time.perf_counter()
        self.new = {t.name: cur.execute("SELECT quote_ident(%s) || '.' || quote_ident(%s)", [self.schema, t.name]).fetchone()[0]
                    for t in self.tables.values()}
        self.size = {t.name: cur.execute("SELECT pg_relation_size(%s::regclass)", [t.qualified]).fetchone()[0]
                     for t in self.tables.values()}
        self.fixes = collisions.plan(self.source, self.schema, self.tables, self.resolved, self.hmac_key)
        self.fkeys = self._foreign_keys()
        # A table's index builds unblock the foreign keys pointing at it: they weigh as
        # much as the biggest table whose validation waits for them.
        self.weight = dict(self.size)
        for name, fkeys in self.fkeys.items():
            for _, _, referenced in fkeys:
                self.weight[referenced] = max(self.weight[referenced], self.size[name])
        self.counts = {name: 0 for name in self.tables}
        self.attached: set[str] = set()
        self.fk_queued: set[str] = set()
        first, total = [], 0
        for t in self.tables.values():
            copies = self._copy_jobs(cur, t, pools_by_id)
            first += copies
            # copies, fix, ANALYZE, index builds, attach, foreign keys
            total += (len(copies) + (t.name in self.fixes) + 1 + len(self._index_definitions(t)) + 1
                      + (t.name in self.fkeys))
        connections = []
        try:
            for _ in range(self.workers):
                connections.append(self._worker_conn())
            phases["plan"] = time.perf_counter() - mark
            mark = time.perf_counter()
            # Counted in jobs: rows alone would reach 100% with the index builds still to come.
            with tqdm(total=total, unit=" jobs", desc=f"Anonymizing into {self.schema}",
                      disable=not self.progress, leave=False) as bar:
                def on_done(job, rows):
                    if job.kind == "copy":
                        self.counts[job.table] += rows
                    bar.set_postfix_str(f"{job.kind} {job.table}", refresh=False)
                    bar.update(1)
                self.jobs = scheduler.run(first, connections, on_done)
            phases["build"] = time.perf_counter() - mark
        finally:
            for conn in connections:
                conn.close()
        with self.conn.transaction():
            for i in range(len(pools_by_id)):
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.schema, f"_pool_{i}")))
        return self.counts

    @staticmethod
    def _worker_conn() -> psycopg.Connection:
        conn = db.connect()
        # Our own build tables: the swap commits for real. Index builds run side by side
        # already, so each gets the memory and no extra parallel workers.
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET max_parallel_maintenance_workers = 0")
        # Foreign-key validation and the collision fix hash a million keys: in memory.
        conn.execute("SET work_mem = '256MB'")
        return conn

    # --- the jobs of one table, in order ---------------------------------------------------

    def _priority(self, name: str, kind: str) -> tuple:
        """Lower runs first. The table with pseudonyms to fix has the longest chain: its
        copy first. Short jobs that unblock others next, then the other tables' copies (so
        every chain is under way), then index builds and validations, biggest first so that
        no big job is left for last."""
        if kind == "copy":
            return (0 if name in self.fixes else 2, -self.size[name])
        if kind in ("fix", "analyze", "attach"):
            return (1, -self.weight[name])
        return (3, -self.weight[name])

    def _copy_jobs(self, cur, t, pools_by_id) -> list[scheduler.Job]:
        q, expressions = table_query(self.source, t, self.resolved.get(t.name), self.hmac_key, pools_by_id)
        target = sql.Identifier(self.schema, t.name)
        insert = sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE ").format(
            target, sql.SQL(", ").join(map(sql.Identifier, t.columns)))
        # From the primary key's index: no count(*), which would read every table once more.
        lo, hi = cur.execute(sql.SQL("SELECT min({pk}), max({pk}) FROM {t}").format(
            pk=sql.Identifier(t.pk) if t.pk else sql.SQL("NULL::int"),
            t=sql.Identifier(self.source, t.name))).fetchone()
        params = q.params
        # Tables with rules are CPU-bound: id ranges on every connection. The others are
        # copied by one statement after a TRUNCATE in the same transaction, which on a
        # server with wal_level=minimal (the embedded one) skips writing the rows to the WAL.
        if t.pk and lo is not None and not q.single_chunk and t.name in self.resolved:
            step = max(10_000, min(self.chunk_rows, (hi - lo + 1) // (2 * self.workers) + 1))
            statements = [insert + q.select(t.columns, expressions, sql.SQL("{} BETWEEN {} AND {}").format(
                sql.Identifier("s", t.pk), sql.Literal(start), sql.Literal(start + step - 1)))
                for start in range(lo, hi + 1, step)]
            truncate = False
        else:
            statements, truncate = [insert + q.select(t.columns, expressions)], True
        def copy(statement):
            def run(conn):
                if not truncate:
                    return conn.execute(statement, params).rowcount
                with conn.transaction():
                    conn.execute(sql.SQL("TRUNCATE {}").format(target))
                    return conn.execute(statement, params).rowcount
            return run

        def copied(t):
            if t.name not in self.fixes:
                return self._analyze_jobs(t, self._index_jobs)
            # The fix's UPDATEs and ANALYZE do not lock each other out: side by side, and the
            # index builds once both are done (the statistics barely move with the fix).
            both = _after(2, self._index_jobs)
            return [self._job(t, "fix", self.fixes[t.name], both)] + self._analyze_jobs(t, both)

        last = _after(len(statements), copied)
        return [self._job(t, "copy", copy(s), last) for s in statements]

    def _job(self, t, kind: str, run, then) -> scheduler.Job:
        """A job of table t; when it is done, then(t) returns the jobs it unblocks."""
        return scheduler.Job(self._priority(t.name, kind), kind=kind, table=t.name, run=run,
                             then=lambda rows: then(t))

    def _analyze_jobs(self, t, then) -> list[scheduler.Job]:
        # Before the index builds: ANALYZE and CREATE INDEX lock each other out.
        def analyze(conn):
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.schema, t.name)))
        return [self._job(t, "analyze", analyze, then)]

    @staticmethod
    def _index_definitions(t) -> list[str]:
        return [d for _, d in t.indexes] + [d for _, kind, _, d in t.constraints if kind in ("p", "u")]

    def _index_jobs(self, t) -> list[scheduler.Job]:
        statements = [catalog_mod.retarget_index(d, t.qualified, self.new[t.name]) for d in self._index_definitions(t)]
        if not statements:
            return self._attach_jobs(t)
        built = _after(len(statements), self._attach_jobs)
        return [self._job(t, "index", lambda conn, s=s: conn.execute(s), built) for s in statements]

    def _attach_jobs(self, t) -> list[scheduler.Job]:
        def attach(conn):
            target = sql.Identifier(self.schema, t.name)
            with conn.transaction():
                for name, kind, definition, index_def in t.constraints:
                    if kind in ("p", "u"):
                        index_name = index_def.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
                        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                            target, sql.Identifier(name), sql.SQL("PRIMARY KEY" if kind == "p" else "UNIQUE"),
                            sql.SQL(index_name), sql.SQL(_deferrable(definition))))
                    elif kind == "c":
                        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                            target, sql.Identifier(name), sql.SQL(definition)))
                for column in t.identity:
                    conn.execute(sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({q}, {c}), coalesce(max({col}), 1), max({col}) IS NOT NULL) FROM {t}"
                    ).format(q=sql.Literal(self.new[t.name]), c=sql.Literal(column), col=sql.Identifier(column), t=target))
        return [self._job(t, "attach", attach, self._attached)]

    def _attached(self, t) -> list[scheduler.Job]:
        self.attached.add(t.name)
        ready = []
        for name, fkeys in self.fkeys.items():
            wanted = {name} | {referenced for _, _, referenced in fkeys}
            if name not in self.fk_queued and wanted <= self.attached:
                self.fk_queued.add(name)
                job = self._job(self.tables[name], "fk", self._fk_runner(name, fkeys), lambda t: [])
                # Adding a foreign key to X locks the table X references against that table's
                # own validation: not side by side (the second would only wait).
                referenced = {r for _, _, r in fkeys} - {name}
                job.can_start = lambda running, referenced=referenced: not any(
                    j.kind == "fk" and j.table in referenced for j in running)
                ready.append(job)
        return ready

    def _foreign_keys(self) -> dict[str, list[tuple[str, str, str]]]:
        """table -> [(name, definition, referenced table)]; a key out of a partial copy is dropped."""
        fkeys: dict[str, list] = {}
        for t in self.tables.values():
            for name, kind, definition, _ in t.constraints:
                if kind == "f":
                    referenced = definition.split(" REFERENCES ", 1)[1].split("(", 1)[0].strip().strip('"')
                    if referenced in self.tables:
                        fkeys.setdefault(t.name, []).append((name, definition, referenced))
        return fkeys

    def _fk_runner(self, name: str, fkeys: list):
        # One job per table: two validations of the same table would wait for each other.
        def run(conn):
            target = sql.Identifier(self.schema, name)
            with conn.transaction():
                # Definitions name the referenced table unqualified: resolve it in the copy.
                conn.execute(sql.SQL("SELECT set_config('search_path', {}, true)").format(sql.Literal(self.schema)))
                for fk, definition, _ in fkeys:
                    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
                        target, sql.Identifier(fk), sql.SQL(definition)))
            for fk, _, _ in fkeys:
                conn.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, sql.Identifier(fk)))
        return run


def _after(count: int, then):
    """A `then` for `count` jobs: nothing until the last of them is done, then then(t)."""
    left = [count]

    def step(t):
        left[0] -= 1
        return [] if left[0] else then(t)
    return step


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
