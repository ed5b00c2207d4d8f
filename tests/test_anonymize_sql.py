"""HMAC-SHA256 built from core sha256() and the keyed Feistel permutation, checked against
Python's hmac module and against the definition of a permutation, on real PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from psycopg import sql

from workshop.anonymize import db, sqlhash

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", [b"k" * 16, b"a much longer key than one sha256 block, " * 3])
def test_sql_hmac_equals_python(key):
    messages = ["", "jane.doe@example.com", "Zoë O'Brien", "9" * 500]
    query = sql.SQL("SELECT {} FROM unnest(%(m)s::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n").format(
        sqlhash.hmac_sql(sql.Identifier("v")))
    with db.connect() as conn:
        got = [bytes(r[0]) for r in conn.execute(query, {"m": messages, **sqlhash.pads(key)})]
    assert got == [hmac.new(key, m.encode(), hashlib.sha256).digest() for m in messages]


def test_feistel_is_a_permutation_and_sql_agrees():
    left, right = 100, 1000
    tables = sqlhash.feistel_tables(b"k" * 32, "test", left, right)
    python = [sqlhash.feistel_python(x, tables, left, right) for x in range(left * right)]
    assert sorted(python) == list(range(left * right))
    assert sum(p == x for x, p in enumerate(python)) < 20  # it does move things
    names = [f"t{i}" for i in range(len(tables))]
    query = sql.SQL("SELECT {} FROM generate_series(0, %(n)s - 1) AS x ORDER BY x").format(
        sqlhash.feistel_sql(sql.SQL("x::bigint"), names, left, right))
    with db.connect() as conn:
        got = [r[0] for r in conn.execute(query, {"n": left * right, **dict(zip(names, tables))})]
    assert got == python
