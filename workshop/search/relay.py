"""The outbox relay: moves outbox events to Elasticsearch in bulk, then deletes them, in
one database transaction per batch. No Django here: it runs as a thread in a notebook
kernel or as its own process (`python -m workshop.search.relay`).

Why it is safe when killed at any point (kill -9 included):
- events are deleted only in the transaction that also saw Elasticsearch accept them; a
  relay killed before that commit leaves them in the outbox, and they are sent again;
- a resent event carries the same document id and the same external version (the event
  id), so Elasticsearch answers 409 "version conflict" and keeps the document as it is:
  no duplicate, and a replayed or out-of-order batch can never make a document older;
- one relay at a time per database: each holds a session advisory lock while it works, and
  a second one waits as a standby, taking over within a second of the first dying (its
  lock goes with its connection). Two relays shipping side by side could each send a
  document's events out of order: B ships a newer delete while A retries an older index,
  and once Elasticsearch has forgotten the delete's tombstone (`index.gc_deletes`, 60 s) the
  older index event brings the document back. External versions only guard inside that
  window, so the lock rules the second relay out instead;
- a document Elasticsearch refuses (the mapping is strict) is retried with the rest of the
  queue flowing; after MAX_ATTEMPTS refusals its event moves to the dead-letter table
  (search_deadletter). Connection failures, 429 and 5xx are not the document's fault: they
  retry the whole batch and count no attempt.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

CHANNEL = "search_outbox"
CRASH_ENV = "WORKSHOP_SEARCH_RELAY_CRASH"  # tests: SIGKILL ourselves at a named point
DSN_ENV = "WORKSHOP_SEARCH_RELAY_DSN"
MAX_ATTEMPTS = 5  # refusals of one event before it moves to the dead-letter table
LOCK = "hashtext('workshop.search.relay')"  # the advisory lock key: one relay per database
# who holds the lock (pg_locks splits a bigint key into classid, the high half, and objid)
HOLDER_SQL = (
    f"SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    f"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    f"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    f"AND l.classid::bigint = (({LOCK}::bigint >> 32) & 4294967295) AND l.objid::bigint = ({LOCK}::bigint & 4294967295)"
)
TRANSIENT = {429, 500, 502, 503, 504}  # item statuses that are the node's state, not the document's


APPLICATION_NAME = f"workshop-search-relay {os.getpid()}"  # tests tell the relays apart by pid


class RelayError(RuntimeError):
    pass


@dataclass
class RelayStats:
    batches: int = 0
    events: int = 0
    documents: int = 0
    conflicts: int = 0  # replays Elasticsearch refused because it already had that version or a newer one
    last_error: str = ""
    last_batch_at: float = 0.0
    errors: int = 0
    refused: int = 0  # events Elasticsearch refused (each retried up to MAX_ATTEMPTS times)
    dead_letters: int = 0  # events this relay moved to the dead-letter table
    standby: bool = False  # another relay holds the lock: this one waits
    history: list = field(default_factory=list)  # (time, events) per batch, for the notebook


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Relay:
    def __init__(
        self, dsn: str, es_url: str, prefix: str, batch_size: int = 5000, max_attempts: int = MAX_ATTEMPTS
    ) -> None:
        self.dsn, self.es_url, self.prefix, self.batch_size = dsn, es_url, prefix, batch_size
        self.max_attempts = max_attempts
        self.stats = RelayStats()
        self._conn = None
        self._es = None
        self._locked = False

    # --- connections ---------------------------------------------------------------------

    def _db(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            self._locked = False  # a session lock ends with its connection
            self._conn = psycopg.connect(self.dsn, autocommit=False, application_name=APPLICATION_NAME)
        return self._conn

    def _lock(self) -> bool:
        """Hold the one-relay lock (a session advisory lock on the batch connection)."""
        conn = self._db()
        if not self._locked:
            with conn.transaction():  # a session lock outlives the transaction that took it
                self._locked = conn.execute(f"SELECT pg_try_advisory_lock({LOCK})").fetchone()[0]
        self.stats.standby = not self._locked
        return self._locked

    def _client(self):
        from elasticsearch import Elasticsearch

        if self._es is None:
            self._es = Elasticsearch(self.es_url, request_timeout=30, max_retries=0)
        return self._es

    def close(self) -> None:
        self._locked = False
        if self._conn is not None:
            self._conn.close()  # releases the one-relay lock
            self._conn = None
        if self._es is not None:
            self._es.close()
            self._es = None

    # --- one batch -----------------------------------------------------------------------

    def run_once(self) -> int:
        """Send one batch; returns how many events left the outbox (sent, superseded or
        dead-lettered). 0: the outbox is empty, only refused events are left, or another
        relay holds the lock (stats.standby)."""
        conn = self._db()
        try:
            if not self._lock():
                return 0
            with conn.transaction():
                rows = conn.execute(
                    "SELECT id, kind, object_id, op, payload FROM search_outboxevent ORDER BY id LIMIT %s FOR UPDATE",
                    (self.batch_size,),
                ).fetchall()
                if not rows:
                    return 0
                _crash_point("before_bulk")
                refused = self._send(rows)
                _crash_point("after_bulk")  # sent but not yet deleted: the next relay resends
                conn.execute(
                    "DELETE FROM search_outboxevent WHERE id = ANY(%s)", ([r[0] for r in rows if r[0] not in refused],)
                )
                kept = self._set_aside(conn, refused)
            _crash_point("after_commit")
        except BaseException:
            # a broken connection is replaced on the next call; the transaction rolled back
            if conn.closed or conn.broken:
                self._conn = None
                self._locked = False
            raise
        moved = len(rows) - kept
        self.stats.batches += 1
        self.stats.events += moved
        self.stats.last_batch_at = time.time()
        self.stats.history.append((self.stats.last_batch_at, moved))
        del self.stats.history[:-500]
        return moved

    def _set_aside(self, conn, refused: dict[int, str]) -> int:
        """Count a refusal on each refused event; move those refused max_attempts times to
        the dead-letter table. Returns how many stay in the outbox."""
        if not refused:
            return 0
        ids, errors = list(refused), [refused[i][:2000] for i in refused]
        conn.execute(
            "UPDATE search_outboxevent e SET attempts = e.attempts + 1, last_error = r.error "
            "FROM unnest(%s::bigint[], %s::text[]) AS r(id, error) WHERE e.id = r.id",
            (ids, errors),
        )
        dead = conn.execute(
            "WITH moved AS (DELETE FROM search_outboxevent WHERE id = ANY(%s) AND attempts >= %s RETURNING *) "
            "INSERT INTO search_deadletter (event_id, kind, object_id, op, payload, attempts, error, created_at, failed_at) "
            "SELECT id, kind, object_id, op, payload, attempts, last_error, created_at, now() FROM moved",
            (ids, self.max_attempts),
        ).rowcount
        self.stats.refused += len(refused)
        self.stats.dead_letters += dead
        return len(refused) - dead

    def _send(self, rows: list[tuple]) -> dict[int, str]:
        """Bulk the batch in id order; a truncate is a barrier (send what came before it, then
        delete every older document of that kind). Returns {event id: error} of the events
        whose document Elasticsearch refused."""
        pending: dict[tuple[str, int], dict] = {}
        refused: dict[int, str] = {}
        for event_id, kind, object_id, op, payload in rows:
            index = f"{self.prefix}-{kind}"
            if op == "truncate":
                refused.update(self._bulk(list(pending.values())))
                pending.clear()
                self._client().delete_by_query(
                    index=index, query={"range": {"version": {"lt": event_id}}}, refresh=True, conflicts="proceed"
                )
                continue
            # the newest event per document wins within a batch (fewer documents to send)
            action = {
                "_op_type": "index" if op == "index" else "delete",
                "_index": index,
                "_id": str(object_id),
                "version": event_id,
                "version_type": "external",
            }
            if op == "index":
                document = json.loads(payload) if isinstance(payload, str) else payload
                action["_source"] = {**document, "version": event_id}
            pending[(kind, object_id)] = action
        refused.update(self._bulk(list(pending.values())))
        return refused

    def _bulk(self, actions: list[dict]) -> dict[int, str]:
        from elasticsearch.helpers import bulk

        if not actions:
            return {}
        _ok, errors = bulk(
            self._client(),
            actions,
            raise_on_error=False,
            raise_on_exception=True,
            chunk_size=len(actions),
            max_chunk_bytes=50 * 1024 * 1024,
        )
        version = {(a["_index"], a["_id"]): a["version"] for a in actions}  # the event each action came from
        refused: dict[int, str] = {}
        transient = []
        for error in errors:
            info = next(iter(error.values()))
            status = info.get("status")
            if status == 409:  # Elasticsearch already has this version or a newer one
                self.stats.conflicts += 1
            elif status == 404 and next(iter(error)) == "delete":
                pass  # deleting what was never indexed
            elif status in TRANSIENT:
                transient.append(info)
            else:
                refused[version[(info["_index"], info["_id"])]] = f"{status}: {json.dumps(info.get('error'))}"
        self.stats.documents += len(actions) - len(errors)
        if transient:  # the node is busy or failing: the whole batch again later, no attempt counted
            raise RelayError(f"{len(transient)} documents not taken by Elasticsearch, e.g. {transient[0].get('error')}")
        return refused

    def drain(self, lock_wait: float = 30.0) -> int:
        """Send batches until the outbox holds only refused events (or nothing); returns the
        events moved. Waits up to `lock_wait` seconds for another relay to finish (then
        raises); with lock_wait=0 a standby returns 0 at once."""
        deadline = time.monotonic() + lock_wait
        while not self._lock():
            if time.monotonic() >= deadline:
                if lock_wait:
                    raise RelayError(f"another relay holds the outbox (waited {lock_wait:g} s); stop it first")
                return 0
            time.sleep(0.2)
        total = 0
        while moved := self.run_once():
            total += moved
        return total

    def pending(self) -> int:
        conn = self._db()
        with conn.transaction():
            return conn.execute("SELECT count(*) FROM search_outboxevent").fetchone()[0]

    # --- the loop ------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Drain, then sleep until NOTIFY (or poll_seconds, a safety net); errors (database
        or Elasticsearch away) are recorded and retried with a growing pause."""
        import psycopg

        listener = None
        pause = 0.2
        while not stop.is_set():
            try:
                if listener is None or listener.closed:
                    listener = psycopg.connect(self.dsn, autocommit=True, application_name=APPLICATION_NAME)
                    listener.execute(f"LISTEN {CHANNEL}")
                self.drain(lock_wait=0)  # a standby waits for NOTIFY like an idle relay, then tries again
                self.stats.last_error = ""
                pause = 0.2
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
            except Exception as exc:  # noqa: BLE001 (everything is retried; the error is shown in stats)
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if listener is not None:
                    listener.close()
                    listener = None
                self.close()
                stop.wait(pause)
                pause = min(pause * 2, 5.0)
        if listener is not None:
            listener.close()
        self.close()


def watch_parent(stop: threading.Event, parent: int, every: float = 0.5) -> threading.Thread:
    """Set `stop` when the process that started us is gone: a relay started by a notebook
    kernel must not outlive it (an orphan is re-parented, so its parent pid changes)."""

    def watch() -> None:
        while not stop.wait(every):
            if os.getppid() != parent:
                stop.set()

    thread = threading.Thread(target=watch, name="search-relay-parent-watch", daemon=True)
    thread.start()
    return thread


def spawn(dsn: str, es_url: str, prefix: str, env: dict | None = None, once: bool = False):
    """The relay as a child process that exits when this process dies."""
    import subprocess

    # the connection string goes through the environment, not argv (ps shows argv to everyone)
    env = {**(env if env is not None else os.environ), DSN_ENV: dsn}
    cmd = [sys.executable, "-m", "workshop.search.relay", "--es-url", es_url, "--prefix", prefix]
    cmd += ["--parent", str(os.getpid())] + (["--once"] if once else [])
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Relay the search outbox to Elasticsearch")
    parser.add_argument(
        "--dsn",
        default=os.environ.get(DSN_ENV),
        help=f"libpq connection string (default: ${DSN_ENV})",
    )
    parser.add_argument("--es-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--once", action="store_true", help="drain the outbox, then exit")
    parser.add_argument("--parent", type=int, help="exit when the process with this pid is no longer our parent")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error(f"give --dsn or set {DSN_ENV}")
    relay = Relay(args.dsn, args.es_url, args.prefix, args.batch_size)
    if args.once:
        try:
            print(relay.drain(lock_wait=60))
        except RelayError as problem:  # another relay kept the outbox: one line, not a traceback
            print(f"relay: {problem}", file=sys.stderr)
            return 2
        finally:
            relay.close()
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.parent:
        watch_parent(stop, args.parent)
    relay.run_forever(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
