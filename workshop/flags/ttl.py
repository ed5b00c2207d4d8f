"""The model the workshop's store replaces: each process caches what it read for `ttl`
seconds. django-waffle with a per-process cache (LocMemCache, Django's default) behaves like
this: saving a flag deletes the cached copy only in the saving process; the others keep theirs
until the cache timeout. A flip reaches a process only when its copy expires, so for up to
`ttl` seconds processes disagree, and every expiry costs a query on the request that hits it."""

from __future__ import annotations

import time
from collections.abc import Mapping

import psycopg

from workshop.flags import schema
from workshop.flags.rules import Definition


class TTLFlagCache:
    def __init__(self, conninfo: dict | str, ttl: float = 5.0):
        self.conninfo = conninfo
        self.ttl = ttl
        self.queries = 0
        self._fetched_at = float("-inf")
        self._definitions: Mapping[str, Definition] = {}
        self._conn: psycopg.Connection | None = None

    @property
    def definitions(self) -> Mapping[str, Definition]:
        if time.monotonic() - self._fetched_at > self.ttl:
            if self._conn is None or self._conn.closed:
                info = self.conninfo if isinstance(self.conninfo, dict) else {"conninfo": self.conninfo}
                self._conn = psycopg.connect(**info, autocommit=True)
            self._definitions = schema.load_definitions(self._conn)
            self._fetched_at = time.monotonic()
            self.queries += 1
        return self._definitions

    def get(self, key: str) -> Definition | None:
        return self.definitions.get(key)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
