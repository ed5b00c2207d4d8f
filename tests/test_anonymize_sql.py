"""HMAC-SHA256 built from core sha256() and the keyed Feistel permutation, checked against
Python's hmac module and against the definition of a permutation, on real PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from psycopg import sql

from workshop.anonymize import db, session_keys, sqlhash

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", [b"k" * 16, b"a much longer key than one sha256 block, " * 3])
def test_sql_hmac_equals_python(key):
    messages = ["", "jane.doe@example.com", "Zoë O'Brien", "9" * 500]
    query = sql.SQL("SELECT {} FROM unnest(%(m)s::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n").format(
        sqlhash.hmac_sql(sql.Identifier("v"))
    )
    with db.connect() as conn:
        got = [bytes(r[0]) for r in conn.execute(query, {"m": messages, **sqlhash.pads(key)})]
    assert got == [hmac.new(key, m.encode(), hashlib.sha256).digest() for m in messages]


def test_session_key_hmac_equals_python_without_binding_the_pads():
    key = b"s" * 32
    q = session_keys.KeyedQuery("public", "t", None, key)
    expression = q.hmac(sql.Identifier("v"))
    query = sql.SQL("SELECT {} FROM unnest(%(m)s::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n").format(expression)
    with db.connect() as conn:
        session_keys.install(conn, q.secrets)
        session_keys.install(conn, q.secrets)  # twice: nothing copied again
        got = [bytes(r[0]) for r in conn.execute(query, {"m": ["a", "b"]})]
        assert conn.execute("SELECT count(*) FROM pg_temp.workshop_anonymize_keys").fetchone()[0] == 2
    assert got == [hmac.new(key, m.encode(), hashlib.sha256).digest() for m in ("a", "b")]
    text = expression.as_string(None)
    assert sqlhash.pads(key)["hmac_ipad"].hex() not in text and "%(" not in text


def run_feistel_sql(tables, left, right) -> list[int]:
    q = session_keys.KeyedQuery("pg_temp", "xs", None, b"k" * 32)
    refs = [session_keys.array(q, f"test|{r}", t) for r, t in enumerate(tables)]
    permuted = sqlhash.feistel_sql(q.let(sql.SQL("s.x::bigint")), refs, left, right, let=q.let)
    with db.connect() as conn:
        conn.execute("CREATE TEMPORARY TABLE xs AS SELECT generate_series(0, %s - 1) AS x", [left * right])
        session_keys.install(conn, q.secrets)
        return [r[1] for r in conn.execute(q.select(["x", "y"], {"y": permuted}) + sql.SQL(" ORDER BY 1"))]


def test_feistel_is_a_keyed_permutation_of_ten_rounds_and_sql_agrees():
    left, right = 100, 1000
    tables = sqlhash.feistel_tables(b"k" * 32, "test", left, right)
    assert len(tables) == sqlhash.ROUNDS >= 10  # FF1's round count
    python = [sqlhash.feistel_python(x, tables, left, right) for x in range(left * right)]
    assert sorted(python) == list(range(left * right))
    assert sum(p == x for x, p in enumerate(python)) < 20  # it does move things
    assert [sqlhash.feistel_inverse_python(y, tables, left, right) for y in python] == list(range(left * right))
    # Keyed: another key (or domain) is another permutation.
    other = sqlhash.feistel_tables(b"o" * 32, "test", left, right)
    assert sum(sqlhash.feistel_python(x, other, left, right) == p for x, p in enumerate(python)) < 20
    assert run_feistel_sql(tables, left, right) == python
