"""Flag definitions held in process memory, invalidated by PostgreSQL LISTEN/NOTIFY.

A thread per process LISTENs on the flags channel. The trigger of migration 0002 NOTIFYs on
every change, and PostgreSQL delivers a NOTIFY only when its transaction commits (never for
a rollback), so a reload sees exactly the committed flags. A full reload every
`refresh_seconds` is the safety net for a lost connection. Checks never touch the database:
they read `store.definitions`, a dict replaced as a whole (one reference swap) on reload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import psycopg

from workshop.flags import schema
from workshop.flags.rules import Definition

log = logging.getLogger("workshop.flags")

Listener = Callable[[Mapping[str, Definition], Mapping[str, Definition]], None]


class FlagStore:
    def __init__(self, conninfo: dict | str, refresh_seconds: float = 30.0, name: str = "workshop.flags"):
        self.conninfo = conninfo
        self.refresh_seconds = refresh_seconds
        self.name = name
        self.definitions: Mapping[str, Definition] = {}
        self.version = 0  # reloads that changed something
        self.loads = 0  # every reload, changed or not
        self.loaded_at: float | None = None  # time.time() of the last reload
        self.listeners: list[Listener] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None

    # --- reading -------------------------------------------------------------------------

    def get(self, key: str) -> Definition | None:
        return self.definitions.get(key)

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
                listener(old, fresh)

    def _connect(self) -> psycopg.Connection:
        info = self.conninfo if isinstance(self.conninfo, dict) else {"conninfo": self.conninfo}
        # Named, so pg_stat_activity shows which connections are flag listeners.
        return psycopg.connect(**{**info, "application_name": f"{self.name} listener"}, autocommit=True)

    # --- the listener thread ---------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> FlagStore:
        """Start listening (once); returns when the first load is done."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._ready.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-listener", daemon=True)
            self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"flag store could not load its definitions in {timeout:.0f} s: {self.error}")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    @property
    def listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.error is None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {schema.CHANNEL}")
                    self.load(conn)  # after LISTEN: a change committed in between is not missed
                    self.error = None
                    self._ready.set()
                    self._listen(conn)
            except psycopg.Error as error:  # server restart, dropped connection: reconnect
                self.error = str(error).strip().splitlines()[0]
                log.warning("flag store: %s; reconnecting in 1 s", self.error)
                self._stop.wait(1.0)

    def _listen(self, conn: psycopg.Connection) -> None:
        next_full = time.monotonic() + self.refresh_seconds
        while not self._stop.is_set():
            # Wake at least every half second to notice stop(); psycopg keeps notifications
            # that arrive in between for the next notifies() call.
            wait = max(0.0, min(0.5, next_full - time.monotonic()))
            notified = any(True for _ in conn.notifies(timeout=wait, stop_after=1))
            if notified:
                for _ in conn.notifies(timeout=0):  # drain: one reload covers them all
                    pass
            if notified or time.monotonic() >= next_full:
                self.load(conn)
                next_full = time.monotonic() + self.refresh_seconds
