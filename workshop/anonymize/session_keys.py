"""Key material reaches PostgreSQL once per connection, by COPY into a session-local
temporary table, and statements read it from there.

Bind parameters and statement text are what a server logs (log_min_duration_statement,
log_statement, log_parameter_max_length, auto_explain); COPY's data never is. The HMAC
pads and the Feistel round tables are equivalent to the key, so the engine's statements
name them by an opaque id, `(SELECT b FROM pg_temp.workshop_anonymize_keys WHERE name = ...)`,
which PostgreSQL evaluates once per statement (an InitPlan), not per row.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from psycopg import sql

from workshop.anonymize import sqlhash
from workshop.anonymize.query import Query

TABLE = sql.Identifier("pg_temp", "workshop_anonymize_keys")


def secret_name(key: bytes, purpose: str) -> str:
    """An opaque, key-bound id for one piece of key material (safe to show in SQL text)."""
    return hmac.new(key, f"workshop.anonymize/name|{purpose}".encode(), hashlib.sha256).hexdigest()[:24]


@dataclass
class KeyedQuery(Query):
    """A Query whose key material lives in the session table instead of bind parameters.
    `secrets` (name -> bytes or list of int) is what `install()` must put there first."""

    secrets: dict = field(default_factory=dict)

    def secret_bytes(self, purpose: str, value: bytes) -> sql.Composable:
        name = secret_name(self.hmac_key, purpose)
        self.secrets[name] = value
        return sql.SQL("(SELECT b FROM {} WHERE name = {})").format(TABLE, sql.Literal(name))

    def secret_array(self, purpose: str, values) -> sql.Composable:
        name = secret_name(self.hmac_key, purpose)
        self.secrets[name] = list(values)
        # `|| '{}'` hands the statement a detoasted copy: a 40 kB array read straight
        # from the table stays a TOAST pointer, detoasted again on every row (20x slower).
        return sql.SQL("(SELECT a || '{{}}'::int4[] FROM {} WHERE name = {})").format(TABLE, sql.Literal(name))

    def _pads(self) -> dict:
        p = sqlhash.pads(self.hmac_key)
        return {
            "ipad": self.secret_bytes("hmac_ipad", p["hmac_ipad"]),
            "opad": self.secret_bytes("hmac_opad", p["hmac_opad"]),
        }

    def hmac(self, message: sql.Composable) -> sql.Composable:
        return sqlhash.hmac_sql(message, **self._pads())

    def hmac_index(self, message: sql.Composable, modulus: int) -> sql.Composable:
        return sqlhash.hmac_index_sql(message, modulus, **self._pads())

    def keyed_int64(self, message: sql.Composable) -> sql.Composable:
        return sqlhash.keyed_int64_sql(message, ipad=self._pads()["ipad"])


def install(conn, secrets: dict) -> None:
    """Put `secrets` (name -> bytes | list[int]) in this session's table, those not there yet.

    Call it outside transactions that import a snapshot: rows committed after the
    snapshot was taken are invisible inside them."""
    if not secrets:
        return
    cur = conn.cursor()
    if not cur.execute("SELECT to_regclass('pg_temp.workshop_anonymize_keys') IS NOT NULL").fetchone()[0]:
        cur.execute(sql.SQL("CREATE TEMPORARY TABLE {} (name text PRIMARY KEY, b bytea, a int4[])").format(TABLE))
    present = {name for (name,) in cur.execute(sql.SQL("SELECT name FROM {}").format(TABLE))}
    missing = {name: value for name, value in secrets.items() if name not in present}
    if missing:
        with cur.copy(sql.SQL("COPY {} (name, b, a) FROM STDIN").format(TABLE)) as copy:
            for name, value in missing.items():
                # Arrays as their text literal: psycopg adapting 300,000 ints one by one takes seconds.
                copy.write_row(
                    (name, value, None)
                    if isinstance(value, bytes)
                    else (name, None, "{" + ",".join(map(str, value)) + "}")
                )


def int64_draw(q: Query, source: sql.Composable) -> sql.Composable:
    """A keyed 64-bit value of `source` (text, sqlhash.keyed_int64_sql), with the
    session's key material when q keeps it there, bound pads otherwise."""
    if isinstance(q, KeyedQuery):
        return q.keyed_int64(source)
    q.params.update(sqlhash.pads(q.hmac_key))
    return sqlhash.keyed_int64_sql(source)


def array(q: Query, purpose: str, values) -> sql.Composable:
    """An int4[] of key material: from the session table, or bound on a plain Query."""
    if isinstance(q, KeyedQuery):
        return q.secret_array(purpose, values)
    return sql.SQL("{}::int4[]").format(q.named_param(f"k{len(q.params)}", list(values)))
