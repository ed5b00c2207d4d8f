"""Helpers shared by the anonymization engine's tests: raw reads of the test database
(outside the ORM, since the copies live in schemas Django does not know)."""

from __future__ import annotations

from psycopg import sql

from workshop.anonymize import db


def rows(query, params=None):
    with db.connect() as conn:
        return conn.execute(query, params).fetchall()


def checksum(schema: str, table: str) -> str:
    """One hash of a table's whole content, in an order that needs no primary key."""
    return rows(
        sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t").format(sql.Identifier(schema, table))
    )[0][0]


def schemas() -> set[str]:
    return {r[0] for r in rows("SELECT nspname FROM pg_namespace")}


def drop(*names):
    with db.connect() as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


# Six people (id, birth date, ZIP, gender) whose equivalence classes can be checked by hand:
# each test module says what it expects of them.
PEOPLE = [
    (1, "1980-03-01", "02134", "F"),
    (2, "1980-11-30", "02139", "F"),
    (3, "1990-01-01", "10001", "M"),
    (4, "1990-06-15", "10002", "M"),
    (5, "1990-12-31", "10003", "M"),
    (6, "1990-07-04", "10001", "F"),
]
