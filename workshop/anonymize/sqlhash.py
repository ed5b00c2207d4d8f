"""HMAC-SHA256 built from PostgreSQL's core sha256() (no pgcrypto, no superuser), and the
keyed Feistel tables that turn it into a format-preserving permutation of digit strings.

HMAC(K, m) = sha256((K xor opad) || sha256((K xor ipad) || m)), RFC 2104. The pads are
computed here and sent as bind parameters, never spelled into SQL text or stored.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from psycopg import sql

BLOCK = 64  # sha256's block size in bytes


def pads(key: bytes) -> dict[str, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return {"hmac_ipad": bytes(b ^ 0x36 for b in key), "hmac_opad": bytes(b ^ 0x5C for b in key)}


def hmac_sql(message: sql.Composable) -> sql.Composable:
    """HMAC-SHA256 of a text expression, as bytea; expects the `pads()` parameters bound."""
    return sql.SQL("sha256(%(hmac_opad)s::bytea || sha256(%(hmac_ipad)s::bytea || convert_to({}, 'UTF8')))").format(message)


def hmac_python(key: bytes, message: str) -> bytes:
    """The reference the SQL version is tested against."""
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def hmac_index_sql(message: sql.Composable, modulus: int) -> sql.Composable:
    """A keyed, uniform-enough integer in [0, modulus) from the HMAC's first 60 bits."""
    return sql.SQL("mod(('x' || left(encode({}, 'hex'), 15))::bit(60)::bigint, {})").format(
        hmac_sql(message), sql.Literal(modulus))


@lru_cache(maxsize=64)
def feistel_tables(key: bytes, domain: str, left_size: int, right_size: int, rounds: int = 4) -> tuple[list[int], ...]:
    """Round functions of a Feistel network over Z_left x Z_right, as lookup tables.

    Odd rounds add F(right) to the left half (a table indexed by the right half), even
    rounds the other way. Each step is invertible, so the whole is a bijection: distinct
    inputs give distinct outputs, which is what keeps a unique column unique.

    Each table is the SHAKE-256 stream of a keyed round seed, HMAC(key, domain|round):
    one call per round instead of one HMAC per entry (10,000 entries: 0.1 s -> 1 ms).
    """
    import numpy as np

    tables = []
    for r in range(rounds):
        size, modulus = (right_size, left_size) if r % 2 == 0 else (left_size, right_size)
        stream = hashlib.shake_256(hmac_python(key, f"{domain}|{r}")).digest(8 * size)
        tables.append((np.frombuffer(stream, dtype=">u8") % np.uint64(modulus)).astype(np.int64).tolist())
    return tuple(tables)


def feistel_python(x: int, tables: list[list[int]], left_size: int, right_size: int) -> int:
    a, b = divmod(x, right_size)
    for r, table in enumerate(tables):
        if r % 2 == 0:
            a = (a + table[b]) % left_size
        else:
            b = (b + table[a]) % right_size
    return a * right_size + b


def feistel_sql(x: sql.Composable, names: list[str], left_size: int, right_size: int) -> sql.Composable:
    """The same network in SQL; `names` are the bind parameters holding the int4[] tables."""
    # mod() rather than %, which psycopg would read as a placeholder.
    a = sql.SQL("({} / {})").format(x, sql.Literal(right_size))
    b = sql.SQL("mod({}, {})").format(x, sql.Literal(right_size))
    for r, name in enumerate(names):
        table = sql.SQL("{}::int4[]").format(sql.Placeholder(name))
        if r % 2 == 0:
            a = sql.SQL("mod({} + ({})[{} + 1], {})").format(a, table, b, sql.Literal(left_size))
        else:
            b = sql.SQL("mod({} + ({})[{} + 1], {})").format(b, table, a, sql.Literal(right_size))
    return sql.SQL("({} * {} + {})").format(a, sql.Literal(right_size), b)
