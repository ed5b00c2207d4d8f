"""Which groups each user is in, read once per user and process, then kept until the
membership table changes: migration 0003's trigger NOTIFYs the flags channel with the payload
"memberships" and the listener clears this cache (on every (re)connection too, when a
notification may have been missed). So a job's `flags.is_on(key, user=u)` costs no query
after the first check for u, as a request's checks do.

Reads go through a connection of their own in autocommit: only committed memberships are
cached (never a row of a transaction that may yet roll back), as only committed flags are.
The cache is used only while the listener is listening, since only then is it told of changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger("workshop.flags")


class Memberships:
    def __init__(self, connect: Callable[[], psycopg.Connection], limit: int = 100_000):
        self._connect = connect
        self.limit = limit  # users kept; past it the cache starts again (a bound, not an LRU)
        self.table = "auth_user_groups"  # the user model's groups table and its columns (client.py sets them)
        self.user_column, self.group_column = "user_id", "group_id"
        self._groups: dict[int, frozenset[int]] = {}
        self._generation = 0  # bumped by clear(): a read that started before must not be kept
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self.queries = 0  # membership reads made (the bench's and the tests' counter)

    def group_ids(self, user_id: int) -> frozenset[int]:
        found = self._groups.get(user_id)
        if found is not None:
            return found
        with self._lock:
            generation = self._generation
            groups = frozenset(self._read(user_id))
            if generation == self._generation:
                if len(self._groups) >= self.limit:
                    self._groups = {}
                self._groups[user_id] = groups
        return groups

    def cached(self, user_id: int) -> frozenset[int] | None:
        """The groups last read for this user, or None (the database is down: no read)."""
        return self._groups.get(user_id)

    def read(self, user_id: int) -> frozenset[int]:
        """The user's groups from the database, not kept (the listener is not listening)."""
        with self._lock:
            return frozenset(self._read(user_id))

    def clear(self) -> None:
        self._generation += 1
        self._groups = {}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _read(self, user_id: int) -> list[int]:
        statement = sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
            sql.Identifier(self.group_column), sql.Identifier(self.table), sql.Identifier(self.user_column)
        )
        for attempt in (1, 2):  # a connection the server closed is opened again once
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                self.queries += 1
                return [row[0] for row in self._conn.execute(statement, [user_id])]
            except psycopg.OperationalError:
                self._conn = None
                if attempt == 2:
                    raise
        return []
