"""The outbox relay: moves outbox events to Elasticsearch in bulk, then deletes them, in
one database transaction per batch. No Django here: it runs as a thread in a notebook
kernel or as its own process (`python -m workshop.search.relay`).

Why it is safe when killed at any point (kill -9 included):
- events are deleted only in the transaction that also saw Elasticsearch accept them; a
  relay killed before that commit leaves them in the outbox, and they are sent again;
- a resent event carries the same document id and the same external version (the event
  id), so Elasticsearch answers 409 "version conflict" and keeps the document as it is:
  no duplicate, and a replayed or out-of-order batch can never make a document older;
- rows are claimed with FOR UPDATE SKIP LOCKED, so two relays never send the same batch.
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
    history: list = field(default_factory=list)  # (time, events) per batch, for the notebook


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Relay:
    def __init__(self, dsn: str, es_url: str, prefix: str, batch_size: int = 5000) -> None:
        self.dsn, self.es_url, self.prefix, self.batch_size = dsn, es_url, prefix, batch_size
        self.stats = RelayStats()
        self._conn = None
        self._es = None

    # --- connections ---------------------------------------------------------------------

    def _db(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=False, application_name="workshop-search-relay")
        return self._conn

    def _client(self):
        from elasticsearch import Elasticsearch

        if self._es is None:
            self._es = Elasticsearch(self.es_url, request_timeout=30, max_retries=0)
        return self._es

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._es is not None:
            self._es.close()
            self._es = None

    # --- one batch -----------------------------------------------------------------------

    def run_once(self) -> int:
        """Send one batch; returns how many events it moved (0: the outbox is empty)."""
        conn = self._db()
        try:
            with conn.transaction():
                rows = conn.execute(
                    "SELECT id, kind, object_id, op, payload FROM search_outboxevent "
                    "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (self.batch_size,),
                ).fetchall()
                if not rows:
                    return 0
                _crash_point("before_bulk")
                self._send(rows)
                _crash_point("after_bulk")  # sent but not yet deleted: the next relay resends
                conn.execute("DELETE FROM search_outboxevent WHERE id = ANY(%s)", ([r[0] for r in rows],))
            _crash_point("after_commit")
        except BaseException:
            # a broken connection is replaced on the next call; the transaction rolled back
            if conn.closed or conn.broken:
                self._conn = None
            raise
        self.stats.batches += 1
        self.stats.events += len(rows)
        self.stats.last_batch_at = time.time()
        self.stats.history.append((self.stats.last_batch_at, len(rows)))
        del self.stats.history[:-500]
        return len(rows)

    def _send(self, rows: list[tuple]) -> None:
        """Bulk the batch in id order; a truncate is a barrier (send what came before it, then
        delete every older document of that kind)."""
        pending: dict[tuple[str, int], dict] = {}
        for event_id, kind, object_id, op, payload in rows:
            index = f"{self.prefix}-{kind}"
            if op == "truncate":
                self._bulk(list(pending.values()))
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
        self._bulk(list(pending.values()))

    def _bulk(self, actions: list[dict]) -> None:
        from elasticsearch.helpers import bulk

        if not actions:
            return
        _ok, errors = bulk(
            self._client(),
            actions,
            raise_on_error=False,
            raise_on_exception=True,
            chunk_size=len(actions),
            max_chunk_bytes=50 * 1024 * 1024,
        )
        real = []
        for error in errors:
            info = next(iter(error.values()))
            if info.get("status") == 409:  # Elasticsearch already has this version or a newer one
                self.stats.conflicts += 1
            elif info.get("status") == 404 and next(iter(error)) == "delete":
                pass  # deleting what was never indexed
            else:
                real.append(info)
        self.stats.documents += len(actions) - len(errors)
        if real:
            raise RelayError(f"{len(real)} documents refused by Elasticsearch, e.g. {real[0].get('error')}")

    def drain(self) -> int:
        """Send batches until the outbox is empty; returns the events moved."""
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
                    listener = psycopg.connect(self.dsn, autocommit=True, application_name="workshop-search-relay")
                    listener.execute(f"LISTEN {CHANNEL}")
                self.drain()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Relay the search outbox to Elasticsearch")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("WORKSHOP_SEARCH_RELAY_DSN"),
        help="libpq connection string (default: $WORKSHOP_SEARCH_RELAY_DSN)",
    )
    parser.add_argument("--es-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--once", action="store_true", help="drain the outbox, then exit")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("give --dsn or set WORKSHOP_SEARCH_RELAY_DSN")
    relay = Relay(args.dsn, args.es_url, args.prefix, args.batch_size)
    if args.once:
        print(relay.drain())
        relay.close()
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    relay.run_forever(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
