"""Exercise progress the instructor can see for the whole room.

Each attendee's progress (the local progress file's entries: passed, attempts, hints,
revealed; answers are never stored anywhere) is mirrored into a table of the attendee's own
database, `workshop_classroom.progress`. No other attendee can connect to that database; the
instructor's role reads every attendee's table for `workshop classroom status`.

The whole local file is upserted on every change and on every setup(): after the instructor
resets an attendee's database, their next setup() writes their progress back.
"""

from __future__ import annotations

import datetime as dt

import psycopg

SCHEMA = "workshop_classroom"
DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.progress (
        chapter text NOT NULL,
        exercise integer NOT NULL,
        passed_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        hints integer NOT NULL DEFAULT 0,
        revealed boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (chapter, exercise))""",
)
UPSERT = f"""INSERT INTO {SCHEMA}.progress (chapter, exercise, passed_at, attempts, hints, revealed, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, now())
ON CONFLICT (chapter, exercise) DO UPDATE SET passed_at = excluded.passed_at, attempts = excluded.attempts,
  hints = excluded.hints, revealed = excluded.revealed, updated_at = now()
WHERE ({SCHEMA}.progress.passed_at, {SCHEMA}.progress.attempts, {SCHEMA}.progress.hints, {SCHEMA}.progress.revealed)
  IS DISTINCT FROM (excluded.passed_at, excluded.attempts, excluded.hints, excluded.revealed)"""


def ensure_table(conn: psycopg.Connection) -> None:
    for statement in DDL:
        conn.execute(statement)


def _rows(data: dict) -> list[tuple]:
    rows = []
    for chapter, exercises in data.items():
        for number, entry in exercises.items():
            passed_at = entry.get("passed_at")
            rows.append(
                (
                    str(chapter),
                    int(number),
                    dt.datetime.strptime(passed_at, "%Y-%m-%dT%H:%M:%S%z") if passed_at else None,
                    int(entry.get("attempts", 0)),
                    int(entry.get("hints", 0)),
                    bool(entry.get("revealed")),
                )
            )
    return rows


def push(data: dict) -> str:
    """Mirror the local progress into the attendee's database. "" when done or outside
    classroom mode, else a short note why not (the check's verdict stands either way)."""
    from workshop import config
    from workshop.classroom import attendee
    from workshop.errors import WorkshopError

    own = attendee.own()
    # nothing passed or tried yet: no connection, no table (read() says [])
    if not data or (own is None and not config.classroom()):
        return ""
    try:
        # A chapter that needs no set-up (01) still reports to the room: its database is found here.
        own = own or attendee.database()
        # A connection of its own: the notebook's may be inside a transaction the learner broke.
        with own.connect(autocommit=False) as conn:
            ensure_table(conn)
            with conn.cursor() as cursor:
                cursor.executemany(UPSERT, _rows(data))
    except WorkshopError as problem:
        return f"room progress not saved: {problem.problem}"
    except (psycopg.Error, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        return f"room progress not saved: {first}"
    return ""


def read(conn: psycopg.Connection) -> list[dict]:
    """One attendee's rows (from a connection to their database); [] before any check."""
    found = conn.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.progress"]).fetchone()[0]
    if found is None:
        return []
    cursor = conn.execute(
        f"SELECT chapter, exercise, passed_at, attempts, hints, revealed FROM {SCHEMA}.progress ORDER BY 1, 2"
    )
    return [
        {"chapter": c, "exercise": e, "passed_at": p, "attempts": a, "hints": h, "revealed": r}
        for c, e, p, a, h, r in cursor.fetchall()
    ]
