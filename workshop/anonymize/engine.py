"""Build an anonymized copy of a schema inside PostgreSQL, set-based, in parallel.

1. Rules are validated against Django's models and the source catalog (nothing written).
   The target must be absent or a copy this engine made (the marker comment on its
   schema): nothing else is ever renamed or dropped, and neither is a copy that something
   someone else made depends on, such as a view over it (ownership.py).
2. A build schema `<target>__building` gets every table (LIKE the source, no indexes yet)
   and the seeded fake-value pools (COPY). Key material goes to each worker connection
   once, by COPY into a session-local table (session_keys.py), never as statement text.
3. A coordinator transaction locks the source tables (ACCESS SHARE, as pg_dump does),
   then exports a snapshot (pg_export_snapshot) and stays open; every read of the source
   imports it, so the copy is one state of the source even while the application writes
   to it (as pg_dump -j does). The locks keep TRUNCATE out (it is not MVCC-safe: the
   snapshot would see a table truncated after it as empty). The build shares the dataset
   loader's advisory lock throughout: a running load is waited for, a new one waits.
4. Each table is filled by INSERT ... SELECT <anonymizing expressions> FROM source, one
   statement per id range, on `workers` connections. No row ever travels to Python.
   Pseudonyms that happen to equal some original value are re-drawn (collisions.py).
5. Indexes are built, then primary/unique/check constraints attached, foreign keys added
   NOT VALID and validated in parallel, identities moved past the copied ids.
6. One transaction renames the old copy away and the build schema to `<target>`.

The jobs of steps 4-5 form an explicit graph (scheduler.py). The source is only read.
Any failure, or Ctrl-C, cancels the running queries, drops the build schema and leaves
the previous copy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from workshop.anonymize import catalog as catalog_mod
from workshop.anonymize import collisions, db, keys, pools, scheduler, session_keys
from workshop.anonymize import renumber as renumber_mod
from workshop.anonymize import rules as rules_mod
from workshop.anonymize import subset as subset_mod
from workshop.anonymize.ownership import MARKER, drop_marked, marked, refuse_others_objects
from workshop.anonymize.strategies import Fake, Pseudonymize
from workshop.errors import WorkshopError

BUILD_SUFFIX = "__building"
OLD_SUFFIX = "__old"  # the previous copy between the swap and its deletion
LOCK_NAMESPACE = 0x5750_0003  # advisory lock: one build per target at a time
RESERVED = {"public", "information_schema"}


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
        return (
            f"<b>{self.rows:,} rows</b> in {len(self.tables)} tables copied into schema <code>{self.target}</code> "
            f"in <b>{self.seconds:.2f} s</b> ({self.rows_per_second:,.0f} rows/s)<br><small>{phases}</small>"
        )

    def __str__(self) -> str:
        return f"{self.rows:,} rows in {len(self.tables)} tables -> {self.target} in {self.seconds:.2f} s ({self.rows_per_second:,.0f} rows/s)"


def check_target(conn, target: str, source: str) -> None:
    """Refuse a target the engine would rename or drop without having made it, or whose
    dropping would take along something someone else made over it."""
    if target in RESERVED or target == source:
        raise WorkshopError(
            f"The target schema {target!r} is {'the source' if target == source else 'reserved'}",
            "anonymize into a schema of its own, e.g. 'anon'",
        )
    for schema in (target, target + BUILD_SUFFIX, target + OLD_SUFFIX):
        made = marked(conn, schema)
        if made is False:
            raise WorkshopError(
                f"Schema {schema!r} exists and was not made by workshop.anonymize",
                "anonymize into another schema, e.g. 'anon' (drop that one yourself if it is disposable)",
            )
        if made:
            refuse_others_objects(conn, schema)


def _comment(source: str, building: bool = False) -> sql.Composable:
    return sql.Literal(f"anonymized copy of {source}{', being built,' if building else ''} {MARKER}")


def build(
    rules: dict | None = None,
    *,
    target: str = "anon",
    source: str = "public",
    key: bytes | None = None,
    workers: int = 2,
    progress: bool = True,
    only: list[str] | None = None,
    chunk_rows: int = 250_000,
    renumber: bool = False,
    subset: dict | None = None,
) -> Report:
    """Write the anonymized copy of schema `source` into schema `target`; returns a Report.

    rules: {"app.Model": {"field": Strategy}}, default the shop's (shop_rules.shop_rules()).
    only: model labels whose tables are copied (default: every table of the source).
    key: the master key (default keys.load_key()).
    renumber: give every integer primary key a keyed new number, the same in every foreign
    key onto it (renumber.py: what it protects and what it costs). Off by default.
    subset: {"app.Model": Q(...)}: only the rows each Q selects, and the rows of other tables
    whose foreign keys all point inside the subset (subset.py). Default: every row.
    """
    from workshop.anonymize.shop_rules import shop_rules

    # Both names become schema names (and the target's, two more with suffixes): plain identifiers only.
    db.check_schema_name(target, "Target", 63 - len(BUILD_SUFFIX))
    db.check_schema_name(source, "Source")
    if target in RESERVED or target == source:
        check_target(None, target, source)  # raises before any connection
    started = time.perf_counter()
    phases: dict[str, float] = {}
    master = key if key is not None else keys.load_key()
    hmac_key = keys.derive(keys.check(master), "hmac")
    with db.connect() as conn:  # closing it ends the session: its advisory locks go with it
        _hold_off_loads(conn)
        with conn.transaction():  # locked while read: no index vanishes under pg_get_indexdef
            tables = catalog_mod.read(conn.cursor(), source, lock=True)
        if not tables:
            raise WorkshopError(f"Schema {source!r} has no tables", "run workshop.setup() first")
        wanted = rules if rules is not None else shop_rules()
        resolved = {t.table: t for t in rules_mod.validate(wanted, {n: t.types for n, t in tables.items()})}
        if only is not None:
            keep = {rules_mod.get_model(label)._meta.db_table for label in only}
            tables = {n: t for n, t in tables.items() if n in keep}
        roots = subset_mod.validate(subset, tables, source) if subset is not None else {}
        build_schema = target + BUILD_SUFFIX
        locked = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, target]).fetchone()[0]
        if not locked:
            raise WorkshopError(f"Another anonymization into schema {target!r} is running", "wait for it to finish")
        try:
            check_target(conn, target, source)  # under the lock: nothing else renames these meanwhile
            phases["validate"] = time.perf_counter() - started
            runner = _Runner(
                conn, source, build_schema, tables, resolved, hmac_key, workers, progress, chunk_rows, renumber, roots
            )
            counts = runner.run(phases)
            mark = time.perf_counter()
            old = target + OLD_SUFFIX
            with conn.transaction():  # the swap: readers see the old copy or the new one, never half
                check_target(conn, target, source)
                drop_marked(conn, old)  # a crash's leftover
                if marked(conn, target):
                    conn.execute(
                        sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(target), sql.Identifier(old))
                    )
                conn.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(build_schema), sql.Identifier(target))
                )
                for name in counts:  # autovacuum was kept off the build: it competes for the same cores
                    conn.execute(
                        sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(sql.Identifier(target, name))
                    )
                conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(target), _comment(source)))
            phases["swap"] = time.perf_counter() - mark
            # Deleting the old copy's files (seconds for a freshly written gigabyte) happens
            # after the swap's commit, so readers are only ever held up by the renames.
            mark = time.perf_counter()
            drop_marked(conn, old)
            phases["drop old"] = time.perf_counter() - mark
        except BaseException as exc:
            _drop_quietly(conn, build_schema)
            if isinstance(exc, psycopg.Error):
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise WorkshopError(
                    f"Anonymization into {target!r} failed ({reason})",
                    f"the source and the previous {target!r} are untouched; fix the cause and run again",
                ) from None
            raise
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_NAMESPACE, target])
            except psycopg.Error:
                pass  # the session's end releases it
    return Report(
        target,
        counts,
        time.perf_counter() - started,
        phases,
        [(w, k, n, a - started, b - started) for w, k, n, a, b in runner.jobs],
    )


def _hold_off_loads(conn) -> None:
    """Share the dataset loader's advisory lock for the whole build (session level).

    A load running now is waited for (at most db.LOCK_WAIT_SECONDS); a load started during
    the build waits for the build at its advisory lock, before its TRUNCATE asks for any
    table lock. That order matters: a TRUNCATE queued behind the coordinator's ACCESS
    SHARE locks would queue the workers' own reads of the source behind it, and they
    would wait for each other until the lock timeout.
    """
    from workshop.shop.data.load import LOCK_KEY

    with conn.transaction():
        db.set_lock_wait(conn)
        try:
            conn.execute("SELECT pg_advisory_lock_shared(%s)", [LOCK_KEY])
        except psycopg.errors.LockNotAvailable:
            raise db.lock_wait_error("The dataset") from None


def _drop_quietly(conn: psycopg.Connection, schema: str) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        drop_marked(conn, schema)
    except (psycopg.Error, WorkshopError):
        pass  # the next run drops it before starting (or says what depends on it)


def _check_shapes(conn, source: str, resolved: dict) -> None:
    """Permutations need every source value in the template's shape: checked before copying."""
    problems = []
    for table in resolved.values():
        for column, strategy in table.rules:
            if isinstance(strategy, Pseudonymize) and strategy.permutes(column):
                bad = conn.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE {} !~ {}").format(
                        sql.Identifier(source, table.table),
                        sql.Identifier(column.name),
                        sql.Literal(strategy.shape_regex()),
                    )
                ).fetchone()[0]
                if bad:  # the values themselves are personal data: count them, do not show them
                    problems.append(f"{bad:,} values of {column.label} do not have the shape {strategy.template!r}")
    if problems:
        raise WorkshopError(
            "Invalid anonymization rules: " + "; ".join(problems),
            "use a template matching the data, or a hex template; nothing was written",
        )


def fake_exclusions(source: str, resolved: dict) -> list[sql.Composable]:
    """SELECTs of every original value of every faked column: pools must avoid them all."""
    return [
        sql.SQL("SELECT {}::text FROM {}").format(sql.Identifier(c.name), sql.Identifier(source, t.table))
        for t in resolved.values()
        for c, s in t.rules
        if isinstance(s, Fake)
    ]


def make_pools(cursor, schema: str | None, source: str, resolved: dict, values: dict | None = None) -> dict:
    """Draw every Fake pool, drop the values that are someone's original data, COPY the rest.
    values: filled with pool id -> the values kept (the build checks them again in its snapshot)."""
    wanted = {}
    for t in resolved.values():
        for column, strategy in t.rules:
            if isinstance(strategy, Fake):
                wanted.setdefault(strategy.pool_id(column), strategy)
    drawn = {pid: pools.draw(*pid) for pid in wanted}
    originals = pools.originals_among(
        cursor, {v for values in drawn.values() for v in values}, fake_exclusions(source, resolved)
    )
    made: dict = {}
    for pid, strategy in wanted.items():
        kept = [v for v in drawn[pid] if v not in originals]
        if not kept:
            raise WorkshopError(
                f"Every fake {strategy.provider} value is also an original value of a faked column",
                "use a bigger pool_size or another locale",
            )
        name = f"_pool_{len(made)}"
        table = sql.Identifier(schema, name) if schema else sql.Identifier(name)
        made[pid] = pools.create(cursor, table, kept)
        if values is not None:
            values[pid] = kept
    return made


def table_query(
    source: str, table: catalog_mod.Table, resolved, hmac_key: bytes, pools_by_id: dict, renumbered: dict | None = None
):
    """The table's Query (parameters, joins, key material) and its column -> SQL expression map.
    renumbered: {column: table whose ids it holds} (renumber.columns)."""
    q = session_keys.KeyedQuery(source, table.name, table.pk, hmac_key, pools_by_id)
    expressions = {}
    if resolved is not None:
        for column, strategy in resolved.rules:
            expressions[column.name] = strategy.expression(q, column)
    for column, owner in (renumbered or {}).items():
        expressions[column] = renumber_mod.expression(q, owner, column, table.types[column])
    return q, expressions


class _Runner:
    """Plans the build as a graph of jobs (see scheduler.py) and runs it on `workers` connections.

    Per table: copy (id ranges, or one statement) -> fix pseudonym collisions -> ANALYZE
    -> index builds -> attach primary/unique/check constraints and identities. Foreign keys
    of a table are added and validated once it and every table it references are attached.
    """

    def __init__(
        self,
        conn,
        source,
        schema,
        tables,
        resolved,
        hmac_key,
        workers,
        progress,
        chunk_rows,
        renumber=False,
        roots=None,
    ):
        self.conn, self.source, self.schema, self.renumber, self.roots = conn, source, schema, renumber, roots or {}
        self.tables, self.resolved, self.hmac_key = tables, resolved, hmac_key
        self.workers, self.progress, self.chunk_rows = max(1, workers), progress, chunk_rows
        self.jobs: list = []  # the timeline: (worker, kind, table, start, end), perf_counter times

    def run(self, phases: dict) -> dict[str, int]:
        mark = time.perf_counter()
        cur = self.conn.cursor()
        with self.conn.transaction():
            drop_marked(self.conn, self.schema)  # a crashed run's leftovers
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            cur.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(self.schema), _comment(self.source, True))
            )
            for t in self.tables.values():
                cur.execute(
                    sql.SQL(
                        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED "
                        "INCLUDING STORAGE INCLUDING COMMENTS) WITH (autovacuum_enabled = off)"
                    ).format(sql.Identifier(self.schema, t.name), sql.Identifier(self.source, t.name))
                )
            # Every rule's pools, even for tables left out: their originals must be excluded too.
            self.pool_values: dict = {}
            pools_by_id = make_pools(cur, self.schema, self.source, self.resolved, self.pool_values)
        phases["pools"] = time.perf_counter() - mark

        mark = time.perf_counter()
        self.fkeys = catalog_mod.foreign_keys(self.tables, self.source)
        self.renumbered = renumber_mod.columns(self.tables, self.fkeys) if self.renumber else {}
        self.queries = {
            t.name: table_query(
                self.source, t, self.resolved.get(t.name), self.hmac_key, pools_by_id, self.renumbered.get(t.name)
            )
            for t in self.tables.values()
        }
        plan = subset_mod.Plan(self.roots, self.fkeys, self.source)
        self.kept = {name: plan.where(name, q) for name, (q, _) in self.queries.items()}  # None: every row
        secrets = {name: value for q, _ in self.queries.values() for name, value in q.secrets.items()}
        connections: list = []
        coordinator = None
        try:
            for _ in range(self.workers):
                connections.append(self._worker_conn())
                # Before the snapshot: rows written after it are invisible to transactions importing it.
                session_keys.install(connections[-1], secrets)
            # The source tables are locked (ACCESS SHARE) before the snapshot is taken, until the
            # build has read them: a TRUNCATE committed after the snapshot would show them empty.
            coordinator, self.snapshot = db.export_snapshot(self.source, set(self.tables) | set(self.resolved))
            with db.in_snapshot(self.conn, self.snapshot):
                _check_shapes(self.conn, self.source, self.resolved)
                self.ranges = {t.name: self._id_range(cur, t) for t in self.tables.values()}
                for name in self.renumbered:
                    renumber_mod.check_range(name, *self.ranges[name])
                self.size = {
                    t.name: cur.execute("SELECT pg_relation_size(%s::regclass)", [t.qualified]).fetchone()[0]
                    for t in self.tables.values()
                }
            self.new = {
                t.name: cur.execute(
                    "SELECT quote_ident(%s) || '.' || quote_ident(%s)", [self.schema, t.name]
                ).fetchone()[0]
                for t in self.tables.values()
            }
            self.collisions = collisions.plan(
                self.source,
                self.schema,
                self.tables,
                self.resolved,
                self.hmac_key,
                self.snapshot,
                renumbered=bool(self.renumbered),
            )
            # A table's index builds unblock the foreign keys pointing at it: they weigh as
            # much as the biggest table whose validation waits for them.
            self.weight = dict(self.size)
            for name, fkeys in self.fkeys.items():
                for k in fkeys:
                    self.weight[k.ref_table] = max(self.weight[k.ref_table], self.size[name])
            jobs = self._graph()
            self.counts = {name: 0 for name in self.tables}
            phases["plan"] = time.perf_counter() - mark
            mark = time.perf_counter()
            self.jobs = self._execute(jobs, connections)
            phases["build"] = time.perf_counter() - mark
        finally:
            if coordinator is not None:
                coordinator.close()
            for conn in connections:
                conn.close()
        with self.conn.transaction():
            for i in range(len(pools_by_id)):
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.schema, f"_pool_{i}")))
            for name, _ in self.collisions.originals.values():
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.schema, name)))
        return self.counts

    def _execute(self, jobs: list[scheduler.Job], connections: list) -> list:
        from tqdm.auto import tqdm

        # Counted in jobs: rows alone would reach 100% with the index builds still to come.
        with tqdm(
            total=len(jobs),
            unit=" jobs",
            desc=f"Anonymizing into {self.schema}",
            disable=not self.progress,
            leave=False,
        ) as bar:

            def on_done(job, rows):
                if job.kind == "copy":
                    self.counts[job.table] += rows
                bar.set_postfix_str(f"{job.kind} {job.table}", refresh=False)
                bar.update(1)

            return scheduler.run(jobs, connections, on_done)

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

    def _id_range(self, cur, t) -> tuple:
        # From the primary key's index: no count(*), which would read every table once more.
        return cur.execute(
            sql.SQL("SELECT min({pk}), max({pk}) FROM {t}").format(
                pk=sql.Identifier(t.pk) if t.pk else sql.SQL("NULL::int"), t=sql.Identifier(self.source, t.name)
            )
        ).fetchone()

    # --- the graph ----------------------------------------------------------------------

    def _priority(self, name: str, kind: str) -> tuple:
        """Lower runs first. The table with pseudonyms to fix has the longest chain: its
        copy first (and the originals its fix reads). Short jobs that unblock others next,
        then the other tables' copies (so every chain is under way), then index builds and
        validations, biggest first so that no big job is left for last."""
        if kind == "originals":  # short, and the fix waits for them
            return (-1, -self.size.get(name, 0))
        if kind == "copy":
            return (0 if name in self.collisions.fixes else 2, -self.size.get(name, 0))
        if kind in ("fix", "analyze", "attach", "verify"):
            return (1, -self.weight.get(name, 0))
        return (3, -self.weight[name])

    def _job(self, name: str, kind: str, table: str, run, after=()) -> scheduler.Job:
        return scheduler.Job(
            self._priority(table, kind), name=name, kind=kind, table=table, run=run, after=tuple(after)
        )

    def _graph(self) -> list[scheduler.Job]:
        jobs = [self._job("verify pools", "verify", "", self._verify_pools)]
        originals = {}
        for template, (table_name, fill) in self.collisions.originals.items():
            originals[template] = f"originals {table_name}"
            fixed_tables = [n for n, (_, templates) in self.collisions.fixes.items() if template in templates]
            jobs.append(self._job(originals[template], "originals", fixed_tables[0], self._in_snapshot(fill)))
        attached = {}
        for t in self.tables.values():
            copies = [self._job(f"copy {t.name} {i}", "copy", t.name, run) for i, run in enumerate(self._copies(t))]
            jobs += copies
            before_index = [
                self._job(f"analyze {t.name}", "analyze", t.name, self._analyze(t), [j.name for j in copies])
            ]
            if t.name in self.collisions.fixes:
                # The fix's UPDATEs and ANALYZE do not lock each other out: side by side, and
                # the index builds once both are done (the statistics barely move with the fix).
                fixer, templates = self.collisions.fixes[t.name]
                before_index.append(
                    self._job(
                        f"fix {t.name}",
                        "fix",
                        t.name,
                        fixer,
                        [j.name for j in copies] + [originals[x] for x in templates],
                    )
                )
            jobs += before_index
            # ANALYZE and CREATE INDEX lock each other out: the index builds come after.
            indexes = [
                self._job(
                    f"index {t.name} {i}",
                    "index",
                    t.name,
                    lambda conn, s=s: conn.execute(s),
                    [j.name for j in before_index],
                )
                for i, s in enumerate(
                    catalog_mod.retarget_index(d, t.qualified, self.new[t.name]) for d in self._index_definitions(t)
                )
            ]
            jobs += indexes
            attached[t.name] = f"attach {t.name}"
            jobs.append(
                self._job(
                    attached[t.name], "attach", t.name, self._attach(t), [j.name for j in indexes or before_index]
                )
            )
        for name, fkeys in self.fkeys.items():
            referenced = {k.ref_table for k in fkeys} - {name}
            job = self._job(
                f"fk {name}",
                "fk",
                name,
                self._foreign_keys(name, fkeys),
                [attached[name]] + [attached[r] for r in sorted(referenced)],
            )
            # Adding a foreign key to X locks the table X references against that table's
            # own validation: not side by side (the second would only wait).
            job.can_start = lambda running, referenced=referenced: (
                not any(j.kind == "fk" and j.table in referenced for j in running)
            )
            jobs.append(job)
        return jobs

    def _in_snapshot(self, work):
        def run(conn):
            with db.in_snapshot(conn, self.snapshot):
                return work(conn)

        return run

    def _verify_pools(self, conn) -> int:
        """The pools were stripped of original values just before the snapshot: check them
        again inside it, so a value written in between cannot slip into the copy."""
        values = {v for kept in self.pool_values.values() for v in kept}
        with db.in_snapshot(conn, self.snapshot):
            found = pools.originals_among(conn.cursor(), values, fake_exclusions(self.source, self.resolved))
        if found:
            raise WorkshopError(
                f"The source changed while the fake-value pools were drawn ({len(found)} values became "
                "someone's real value)",
                "run the build again",
            )
        return 0

    def _copies(self, t) -> list:
        q, expressions = self.queries[t.name]
        target = sql.Identifier(self.schema, t.name)
        insert = sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE ").format(
            target, sql.SQL(", ").join(map(sql.Identifier, t.columns))
        )
        lo, hi = self.ranges[t.name]
        params = q.params
        kept = self.kept[t.name]
        # Tables with rules are CPU-bound: id ranges on every connection. The others are
        # copied by one statement after a TRUNCATE in the same transaction, which on a
        # server with wal_level=minimal (the embedded one) skips writing the rows to the WAL.
        if t.pk and lo is not None and not q.single_chunk and t.name in self.resolved:
            step = max(10_000, min(self.chunk_rows, (hi - lo + 1) // (2 * self.workers) + 1))
            statements = [
                insert
                + q.select(
                    t.columns,
                    expressions,
                    sql.SQL("{} BETWEEN {} AND {}{}").format(
                        sql.Identifier("s", t.pk),
                        sql.Literal(start),
                        sql.Literal(start + step - 1),
                        sql.SQL(" AND ({})").format(kept) if kept is not None else sql.SQL(""),
                    ),
                )
                for start in range(lo, hi + 1, step)
            ]
            truncate = False
        else:
            statements, truncate = [insert + q.select(t.columns, expressions, kept)], True

        def copy(statement):
            def run(conn):
                with db.in_snapshot(conn, self.snapshot):  # every chunk reads the same state of the source
                    if truncate:
                        conn.execute(sql.SQL("TRUNCATE {}").format(target))
                    return conn.execute(statement, params).rowcount

            return run

        return [copy(s) for s in statements]

    def _analyze(self, t):
        def analyze(conn):
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.schema, t.name)))

        return analyze

    @staticmethod
    def _index_definitions(t) -> list[str]:
        return [d for _, d in t.indexes] + [k.index_def for k in t.constraints if k.kind in ("p", "u")]

    def _attach(self, t):
        def attach(conn):
            target = sql.Identifier(self.schema, t.name)
            with conn.transaction():
                for k in t.constraints:
                    if k.kind in ("p", "u"):
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                                target,
                                sql.Identifier(k.name),
                                sql.SQL("PRIMARY KEY" if k.kind == "p" else "UNIQUE"),
                                sql.Identifier(k.index),
                                k.timing(),
                            )
                        )
                    elif k.kind == "c":
                        # Catalog output (pg_get_constraintdef), not user input: safe to replay.
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                                target, sql.Identifier(k.name), sql.SQL(k.check)
                            )
                        )
                for column in t.identity:
                    conn.execute(
                        sql.SQL(
                            "SELECT setval(pg_get_serial_sequence({q}, {c}), coalesce(max({col}), 1), max({col}) IS NOT NULL) FROM {t}"
                        ).format(
                            q=sql.Literal(self.new[t.name]), c=sql.Literal(column), col=sql.Identifier(column), t=target
                        )
                    )

        return attach

    def _foreign_keys(self, name: str, fkeys: list):
        # One job per table: two validations of the same table would wait for each other.
        def run(conn):
            target = sql.Identifier(self.schema, name)
            with conn.transaction():
                for k in fkeys:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
                            target, sql.Identifier(k.name), k.foreign_key_sql(self.schema)
                        )
                    )
            for k in fkeys:
                conn.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, sql.Identifier(k.name)))

        return run


PREVIEW_ROWS = 10_000  # a sample to look at, not a copy


def preview(
    model_label: str, field_name: str, strategy, *, limit: int = 8, source: str = "public", key: bytes | None = None
):
    """Sample rows before and after one rule, computed by the same SQL as build(), read-only."""
    import pandas as pd

    db.check_schema_name(source, "Source")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PREVIEW_ROWS:
        shown = repr(limit) if len(repr(limit)) <= 40 else repr(limit)[:37] + "..."
        raise WorkshopError(
            f"Preview limit {shown} is not usable", f"use a whole number of rows from 1 to {PREVIEW_ROWS}"
        )
    hmac_key = keys.derive(keys.check(key if key is not None else keys.load_key()), "hmac")
    with db.connect(autocommit=False) as conn:
        try:
            with conn.transaction():
                tables = catalog_mod.read(conn.cursor(), source)
            resolved = {
                t.table: t
                for t in rules_mod.validate(
                    {model_label: {field_name: strategy}}, {n: t.types for n, t in tables.items()}
                )
            }
            rules = next(iter(resolved.values()))
            column = rules.rules[0][0]
            cur = conn.cursor()
            _check_shapes(conn, source, resolved)
            made = make_pools(cur, "pg_temp", source, resolved)  # temporary, gone with the rollback
            q, expressions = table_query(source, tables[rules.table], rules, hmac_key, made)
            session_keys.install(conn, q.secrets)  # temporary too
            key_column = rules.pk or column.name
            rows_before = cur.execute(
                sql.SQL("SELECT {k}, {c}::text FROM {t} ORDER BY 1 LIMIT {n}").format(
                    k=sql.Identifier(key_column),
                    c=sql.Identifier(column.name),
                    t=sql.Identifier(source, rules.table),
                    n=sql.Literal(limit),
                )
            ).fetchall()
            ids = [r[0] for r in rows_before]
            select = q.select(
                [key_column, column.name],
                {column.name: sql.SQL("({})::text").format(expressions[column.name])},
                where=sql.SQL("{} = ANY(%(ids)s::{}[])").format(
                    sql.Identifier("s", key_column), sql.SQL(tables[rules.table].types[key_column])
                ),
            )
            rows_after = dict(cur.execute(select, {**q.params, "ids": ids}).fetchall())
        finally:
            conn.rollback()
    return pd.DataFrame(
        {"before": [b for _, b in rows_before], "after": [rows_after.get(i) for i in ids]},
        index=pd.Index(ids, name=rules.pk or column.name),
    )
