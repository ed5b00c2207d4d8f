"""The outbox backend's database side: triggers that write an outbox event in the same
transaction as every change to a searchable row, a backfill, and the relay as a thread
(notebooks) or a process (tests, the CLI).

The triggers (see triggers.py) are statement-level with transition tables: one INSERT ...
SELECT per statement, so a COPY of 300k reviews costs one extra statement, not 300k trigger
calls; an update writes events only for rows whose indexed columns changed, and a category
renamed or a product moved to another category re-sends the documents that carry it."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass

from workshop.django_setup import require_setup
from workshop.search import triggers
from workshop.search.documents import KINDS, Kind
from workshop.search.relay import CHANNEL, Relay

require_setup()

from django.db import connection  # noqa: E402

_threads: dict[tuple[str, str], tuple[threading.Thread, threading.Event, Relay]] = {}
_lock = threading.Lock()


def _trigger_sql(kind: Kind) -> list[str]:
    t, k = kind.table, kind.name

    def index_events(source: triggers.Source) -> str:
        return f"""  {source.with_sql}
  INSERT INTO search_outboxevent (kind, object_id, op, payload, created_at)
  SELECT '{k}', n.id, 'index', jsonb_build_object({kind.payload_sql}), now()
    {source.from_sql} ORDER BY n.id {source.lock};
  IF FOUND THEN PERFORM pg_notify('{CHANNEL}', ''); END IF;"""

    delete = f"""
CREATE OR REPLACE FUNCTION search_outbox_{k}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_outboxevent (kind, object_id, op, created_at)
  SELECT '{k}', o.id, 'delete', now() FROM old_rows o ORDER BY o.id;
  PERFORM pg_notify('{CHANNEL}', '');
  RETURN NULL;
END $$"""
    truncate = f"""
CREATE OR REPLACE FUNCTION search_outbox_{k}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_outboxevent (kind, op, created_at) VALUES ('{k}', 'truncate', now());
  PERFORM pg_notify('{CHANNEL}', '');
  RETURN NULL;
END $$"""
    return [
        *triggers.statements("outbox", kind, kind.columns, index_events),
        delete,
        truncate,
        f"DROP TRIGGER IF EXISTS search_outbox_del ON {t}",
        f"CREATE TRIGGER search_outbox_del AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_{k}_delete()",
        f"DROP TRIGGER IF EXISTS search_outbox_trunc ON {t}",
        f"CREATE TRIGGER search_outbox_trunc AFTER TRUNCATE ON {t} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_{k}_truncate()",
    ]


def installed() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'search_outbox_ins'")
        return cur.fetchone()[0] == len(KINDS)


def install(backfill: bool = True) -> int:
    """Create the triggers (idempotent); with backfill, queue every existing row once when
    they are first created. Returns the events queued."""
    from django.db import transaction

    queued = 0
    with transaction.atomic():
        first = not installed()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('workshop.search.outbox.install'))")
            for kind in KINDS.values():
                for statement in _trigger_sql(kind):
                    cur.execute(statement)
            if first and backfill:
                queued = queue_all(cur)
    return queued


def queue_all(cur=None, kinds: list[Kind] | None = None) -> int:
    """An index event for every row (a full reindex through the outbox), of every kind or
    of `kinds`."""

    def run(c) -> int:
        total = 0
        for kind in kinds if kinds is not None else KINDS.values():
            c.execute(
                f"INSERT INTO search_outboxevent (kind, object_id, op, payload, created_at) "
                f"SELECT '{kind.name}', n.id, 'index', jsonb_build_object({kind.payload_sql}), now() "
                f"FROM {kind.table} n {kind.payload_joins} ORDER BY n.id"
            )
            total += c.rowcount
        c.execute(f"NOTIFY {CHANNEL}")
        return total

    if cur is not None:
        return run(cur)
    with connection.cursor() as c:
        return run(c)


def uninstall() -> None:
    with connection.cursor() as cur:
        for kind in KINDS.values():
            for statement in triggers.drop_statements("outbox", kind):
                cur.execute(statement)


def pending() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM search_outboxevent")
        return cur.fetchone()[0]


@dataclass(frozen=True)
class Backlog:
    pending: int  # events waiting in the outbox
    oldest_seconds: float | None  # age of the oldest (None: empty): a relay that is not running shows here
    refused: int  # pending events Elasticsearch has refused at least once (retried, then dead-lettered)
    dead_letters: int  # events set aside after MAX_ATTEMPTS refusals
    relay: str | None = None  # the session holding the one-relay lock (None: no relay running)

    def __str__(self) -> str:
        age = f", oldest {self.oldest_seconds:,.1f} s old" if self.oldest_seconds is not None else ""
        refused = f", {self.refused:,} refused and retrying" if self.refused else ""
        relay = f"relay: {self.relay}" if self.relay else "no relay running"
        if not self.relay and (self.oldest_seconds or 0) > STALE_SECONDS:  # the alarm: nothing ships them
            relay += " (start one: `workshop search relay`)"
        return f"{self.pending:,} pending{age}{refused}; {self.dead_letters:,} dead letters; {relay}"


STALE_SECONDS = 60


def backlog() -> Backlog:
    """The outbox's depth and age, what Elasticsearch refused, and which relay runs."""
    from workshop.search import relay

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), extract(epoch FROM now() - min(created_at)), count(*) FILTER (WHERE attempts > 0) "
            "FROM search_outboxevent"
        )
        depth, oldest, refused = cur.fetchone()
        cur.execute("SELECT count(*) FROM search_deadletter")
        dead = cur.fetchone()[0]
        cur.execute(relay.HOLDER_SQL)
        holder = cur.fetchone()
    return Backlog(depth, None if oldest is None else float(oldest), refused, dead, holder[0] if holder else None)


def requeue_dead_letters() -> int:
    """After fixing what made Elasticsearch refuse them: queue the dead letters' documents
    again as they are now (a row deleted since is queued as a delete). Returns how many."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM search_deadletter RETURNING kind, object_id")
        gone = cur.fetchall()
        for kind in KINDS.values():
            ids = sorted({i for k, i in gone if k == kind.name and i is not None})
            if not ids:
                continue
            cur.execute(
                f"INSERT INTO search_outboxevent (kind, object_id, op, payload, created_at) "
                f"SELECT '{kind.name}', n.id, 'index', jsonb_build_object({kind.payload_sql}), now() "
                f"FROM {kind.table} n {kind.payload_joins} WHERE n.id = ANY(%s) ORDER BY n.id",
                [ids],
            )
            cur.execute(
                f"INSERT INTO search_outboxevent (kind, object_id, op, created_at) "
                f"SELECT '{kind.name}', i, 'delete', now() FROM unnest(%s::bigint[]) AS i "
                f"WHERE NOT EXISTS (SELECT 1 FROM {kind.table} n WHERE n.id = i) ORDER BY i",
                [ids],
            )
        cur.execute(f"NOTIFY {CHANNEL}")
        return len(gone)


def dsn() -> str:
    """A libpq connection string for the database Django uses (for the relay)."""
    from psycopg.conninfo import make_conninfo

    params = connection.get_connection_params()
    keep = {k: v for k, v in params.items() if isinstance(v, (str, int)) and k not in ("cursor_factory",)}
    return make_conninfo(**keep)


# --- the relay as a thread (notebooks) -------------------------------------------------------


def start(es_url: str, prefix: str) -> Relay:
    """Start the relay thread for this database and prefix, or return the one running
    (a notebook re-run starts nothing new)."""
    key = (dsn(), prefix)
    with _lock:
        running = _threads.get(key)
        if running and running[0].is_alive():
            if running[2].es_url == es_url:
                return running[2]
            _stop(key)
        relay = Relay(key[0], es_url, prefix)
        stop = threading.Event()
        thread = threading.Thread(target=relay.run_forever, args=(stop,), name=f"search-relay-{prefix}", daemon=True)
        thread.start()
        _threads[key] = (thread, stop, relay)
        return relay


def _stop(key) -> bool:
    running = _threads.pop(key, None)
    if not running:
        return False
    thread, stop, _relay = running
    stop.set()
    thread.join(timeout=10)
    return True


def stop(prefix: str | None = None) -> int:
    """Stop the relay threads (of one prefix, or all); returns how many were stopped."""
    with _lock:
        keys = [k for k in _threads if prefix is None or k[1] == prefix]
        return sum(_stop(k) for k in keys)


def running(prefix: str) -> Relay | None:
    with _lock:
        for (_dsn, p), (thread, _stop_event, relay) in _threads.items():
            if p == prefix and thread.is_alive():
                return relay
    return None


# --- the relay as a process (tests, CLI) -----------------------------------------------------


def spawn(es_url: str, prefix: str, env: dict | None = None, once: bool = False) -> subprocess.Popen:
    """The relay as a process that exits when this one (a notebook's kernel) dies."""
    from workshop.search import relay

    return relay.spawn(dsn(), es_url, prefix, env=env, once=once)
