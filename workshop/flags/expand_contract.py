"""An expand/contract migration gated by flags, on a small table of its own.

The change: `flags_demo_contact.full_name` becomes `first_name` + `last_name`. Renaming in
one migration breaks every process still running the old code; instead:

1. expand:    add the new columns, nullable (old code does not notice them);
2. dual write (flag `contacts_write_split`): new code writes both shapes; a backfill fills
   the old rows;
3. read new   (flag `contacts_read_split`): readers switch, a percentage at a time; turning
   the flag off is the rollback, instantly, because the old column is still written;
4. contract:  once the read flag has been on for everyone long enough (the stale-flag
   detector says so), drop `full_name` and delete both flags.

Each function takes the flags' answers as arguments (a request's snapshot gives them), so
the same code runs before, during and after the change.
"""

from __future__ import annotations

import psycopg

TABLE = "flags_demo_contact"
WRITE_FLAG, READ_FLAG = "contacts_write_split", "contacts_read_split"
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]


def reset(conn: psycopg.Connection) -> None:
    """Phase 0: the table as the old code knows it."""
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, full_name text NOT NULL)")
    for name in PEOPLE[:2]:
        conn.execute(f"INSERT INTO {TABLE} (full_name) VALUES (%s)", [name])


def expand(conn: psycopg.Connection) -> None:
    """Phase 1: additive only, so old code keeps working. (Adding a nullable column without
    a default is a catalog change in PostgreSQL: no table rewrite, a brief lock.)"""
    conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS first_name text, "
                 f"ADD COLUMN IF NOT EXISTS last_name text")


def backfill(conn: psycopg.Connection) -> int:
    """Phase 2, once dual writes are on: old rows get the new shape (in batches in real life)."""
    return conn.execute(f"UPDATE {TABLE} SET first_name = split_part(full_name, ' ', 1), "
                        f"last_name = substr(full_name, length(split_part(full_name, ' ', 1)) + 2) "
                        f"WHERE first_name IS NULL").rowcount


def contract(conn: psycopg.Connection) -> None:
    """Phase 4: only when no running code reads or writes full_name any more."""
    conn.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS full_name")


def columns(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = current_schema() "
        "ORDER BY ordinal_position", [TABLE])]


def write(conn: psycopg.Connection, name: str, write_split: bool) -> None:
    """The application's write path, under the write flag."""
    first, _, last = name.partition(" ")
    has_old = "full_name" in columns(conn)
    if write_split and has_old:
        conn.execute(f"INSERT INTO {TABLE} (full_name, first_name, last_name) VALUES (%s, %s, %s)", [name, first, last])
    elif write_split:
        conn.execute(f"INSERT INTO {TABLE} (first_name, last_name) VALUES (%s, %s)", [first, last])
    else:
        conn.execute(f"INSERT INTO {TABLE} (full_name) VALUES (%s)", [name])


def read(conn: psycopg.Connection, read_split: bool) -> list[str]:
    """The application's read path, under the read flag."""
    if read_split:
        rows = conn.execute(f"SELECT first_name || ' ' || last_name FROM {TABLE} ORDER BY id")
    else:
        rows = conn.execute(f"SELECT full_name FROM {TABLE} ORDER BY id")
    return [r[0] for r in rows]


def walk_through(conn: psycopg.Connection) -> list[dict]:
    """Every phase in order, with what both read paths return at each step (None: that path
    would fail, which is exactly the state the flags must never allow)."""
    steps = []

    def record(phase: str, write_flag: bool, read_flag: bool) -> None:
        answers = {}
        for flag_on in (False, True):
            try:
                with conn.transaction():
                    answers[flag_on] = read(conn, flag_on)
            except psycopg.Error:
                answers[flag_on] = None
        steps.append({"phase": phase, "columns": ", ".join(columns(conn)), WRITE_FLAG: write_flag,
                      READ_FLAG: read_flag, "read old path": answers[False], "read new path": answers[True]})

    reset(conn)
    record("0 old schema", False, False)
    expand(conn)
    write(conn, PEOPLE[2], write_split=False)  # old code still running: writes only full_name
    record("1 expand", False, False)
    write(conn, PEOPLE[3], write_split=True)  # write flag on: both shapes
    backfill(conn)
    record("2 dual write + backfill", True, False)
    record("3 read new (flag on)", True, True)
    contract(conn)
    record("4 contract (flags deleted)", True, True)
    return steps
