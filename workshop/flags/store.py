"""Flag definitions held in process memory, invalidated by PostgreSQL LISTEN/NOTIFY.

A thread per process LISTENs on the flags channel. The trigger of migration 0002 NOTIFYs on
every change, and PostgreSQL delivers a NOTIFY only when its transaction commits (never for
a rollback), so a reload sees exactly the committed flags. A full reload every
`refresh_seconds` is the safety net for a lost connection. Checks never touch the database:
they read `store.definitions`, a dict replaced as a whole (one reference swap) on reload.

The database may be down: at boot `start()` waits for the first attempt only (a refused
connection fails at once; a silent host is bounded by `connect_timeout`), later calls never
wait, and checks answer from the last definitions loaded (the declared defaults before the
first load). The listener thread survives any exception, reconnects with a growing pause and
reports where it is in `status()` (`workshop flags status`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg

from workshop.flags import schema
from workshop.flags.memberships import Memberships
from workshop.flags.rules import Definition

log = logging.getLogger("workshop.flags")

Listener = Callable[[Mapping[str, Definition], Mapping[str, Definition]], None]

# The listener's states, as status() reports them.
STARTING, LISTENING, RECONNECTING, STOPPED = "starting", "listening", "reconnecting", "stopped"


@dataclass(frozen=True)
class StoreStatus:
    state: str
    flags: int  # definitions held (the last ones loaded)
    loads: int
    loaded_at: float | None  # time.time() of the last reload
    error: str | None  # why the last attempt failed, while reconnecting
    failures: int  # attempts failed in a row
    reconnects: int  # connections made after the first

    @property
    def ok(self) -> bool:
        return self.state == LISTENING

    def __str__(self) -> str:
        loaded = (
            f"{self.flags} flags loaded {time.time() - self.loaded_at:.0f} s ago"
            if self.loaded_at is not None
            else "nothing loaded yet: checks answer their declared defaults"
        )
        why = f"; {self.failures} failed attempts, last: {self.error}" if self.error else ""
        return f"{self.state}: {loaded}{why}; {self.reconnects} reconnections"


class FlagStore:
    def __init__(
        self,
        conninfo: dict | str,
        refresh_seconds: float = 30.0,
        name: str = "workshop.flags",
        connect_timeout: int = 5,
        max_pause: float = 5.0,
    ):
        self.conninfo = conninfo
        self.refresh_seconds = refresh_seconds
        self.name = name
        self.connect_timeout = connect_timeout
        self.max_pause = max_pause  # the longest wait between two connection attempts
        self.definitions: Mapping[str, Definition] = {}
        self.version = 0  # reloads that changed something
        self.loads = 0  # every reload, changed or not
        self.loaded_at: float | None = None  # time.time() of the last reload
        self.listeners: list[Listener] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempted = threading.Event()  # the first connection attempt is over, either way
        self.state = STOPPED
        self.error: str | None = None
        self.failures = 0
        self.reconnects = 0
        self.memberships = Memberships(lambda: self._connect("memberships"))

    # --- reading -------------------------------------------------------------------------

    def get(self, key: str) -> Definition | None:
        return self.definitions.get(key)

    @property
    def loaded(self) -> bool:
        """Whether definitions were ever loaded (before that, checks answer their defaults)."""
        return self.loaded_at is not None

    def status(self) -> StoreStatus:
        return StoreStatus(
            self.state,
            len(self.definitions),
            self.loads,
            self.loaded_at,
            self.error,
            self.failures,
            self.reconnects,
        )

    def wait_for(self, predicate: Callable[[Mapping[str, Definition]], bool], timeout: float = 5.0) -> bool:
        """Block until predicate(definitions) holds (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.definitions):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def wait_for_version(self, version: int, timeout: float = 5.0) -> bool:
        """Block until a reload newer than `version` happened."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.loads <= version:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # --- loading -------------------------------------------------------------------------

    def load(self, conn: psycopg.Connection | None = None) -> Mapping[str, Definition]:
        """Reload now (on the listener's connection, or a short-lived one)."""
        if conn is None:
            with self._connect() as own:
                fresh = schema.load_definitions(own)
        else:
            fresh = schema.load_definitions(conn)
        self._swap(fresh)
        return fresh

    def _swap(self, fresh: dict[str, Definition]) -> None:
        old = self.definitions
        with self._changed:
            self.definitions = fresh  # one reference swap: readers see the old dict or the new one
            self.loads += 1
            self.loaded_at = time.time()
            if fresh != old:
                self.version += 1
            self._changed.notify_all()
        if fresh != old:
            for listener in list(self.listeners):
                try:
                    listener(old, fresh)
                except Exception:  # one broken callback must not stop the others, nor the listener
                    log.exception("flag store: a change listener failed")

    def _connect(self, role: str = "listener") -> psycopg.Connection:
        info = self.conninfo if isinstance(self.conninfo, dict) else {"conninfo": self.conninfo}
        info = {"connect_timeout": self.connect_timeout, **info}
        # Named, so pg_stat_activity shows which connections are flag listeners.
        return psycopg.connect(**{**info, "application_name": f"{self.name} {role}"}, autocommit=True)

    # --- the listener thread ---------------------------------------------------------------

    def start(self, wait: float = 2.0) -> FlagStore:
        """Start listening (once). Only the call that starts the thread waits, for the first
        connection attempt and at most `wait` seconds; it never raises: with the database
        down, checks answer their declared defaults until a load succeeds."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._attempted.clear()
            self.state = STARTING
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-listener", daemon=True)
            self._thread.start()
            self._attempted.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self.state = STOPPED
        self.memberships.close()

    @property
    def listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.state == LISTENING

    def _run(self) -> None:
        connected_before = False
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {schema.CHANNEL}")
                    if connected_before:
                        self.reconnects += 1
                    connected_before = True
                    self.memberships.clear()  # changes made while nobody listened were not heard
                    self.load(conn)  # after LISTEN: a change committed in between is not missed
                    self.state, self.error, self.failures = LISTENING, None, 0
                    self._attempted.set()
                    self._listen(conn)
            except Exception as error:  # anything (a dropped connection, a bug): log, wait, reconnect
                self.failures += 1
                self.state = RECONNECTING
                self.error = (str(error).strip().splitlines() or [type(error).__name__])[0]
                self._attempted.set()
                pause = min(self.max_pause, 0.25 * 2 ** min(self.failures, 8))
                log.warning("flag store: %s; reconnecting in %.2g s", self.error, pause)
                self._stop.wait(pause)

    def _listen(self, conn: psycopg.Connection) -> None:
        next_full = time.monotonic() + self.refresh_seconds
        while not self._stop.is_set():
            # Wake at least every half second to notice stop(); psycopg keeps notifications
            # that arrive in between for the next notifies() call.
            wait = max(0.0, min(0.5, next_full - time.monotonic()))
            payloads = {n.payload for n in conn.notifies(timeout=wait, stop_after=1)}
            if payloads:  # drain: one reload covers them all
                payloads.update(n.payload for n in conn.notifies(timeout=0))
            if schema.MEMBERSHIPS in payloads:
                self.memberships.clear()
                payloads.discard(schema.MEMBERSHIPS)
            if payloads or time.monotonic() >= next_full:
                self.load(conn)
                next_full = time.monotonic() + self.refresh_seconds
