"""What `workshop.setup()` does in classroom mode: find the attendee's own database on the
room's server, cloning it from the template on first use. Remembers it for the rest of the
process (the room's progress table, the search indexes' names)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg

from workshop import config
from workshop.classroom import names, roles
from workshop.errors import WorkshopError
from workshop.services.postgres import Database, connect_checked, with_database

_own: Database | None = None
_own_name: str | None = None
clone_seconds: float | None = None  # this process's clone of the template, when it made one (the room's benchmark)
FIX_ASK = "ask the instructor"


def own() -> Database | None:
    """The attendee database this process set up, or None outside classroom mode."""
    return _own


def own_database() -> str | None:
    """Its name (what the search indexes' names start with)."""
    return _own_name


def database_url(server_url: str, name: str) -> str:
    """The server's URL with `name` as its database: the path replaced and a ?dbname= (which
    libpq would prefer to the path) removed."""
    parts = urlsplit(with_database(server_url, name))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def database() -> Database:
    """The attendee's database, created from the template on the first call."""
    global _own, _own_name
    url = config_url()
    server = Database(url, "classroom")
    hint = f"check the room's server is up and {config.ENV_DATABASE_URL} is what the instructor gave"
    # the server's maintenance database (libpq's own parsing replaces whatever the URL named),
    # and one connection where a check and then this one would make two
    with connect_checked(server, hint, dbname="postgres", autocommit=True) as conn:
        role, superuser = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if superuser:
            raise WorkshopError(
                f"Classroom mode connects as an attendee, and {role!r} is a superuser",
                f"use the attendee URL the instructor gave you; the instructor uses {config.ENV_CLASSROOM_ADMIN_URL}",
            )
        name = names.database_for(role)
        # two kernels of one attendee starting at once: one clones and seals, the other waits
        # (sealing concurrently can fail with "tuple concurrently updated" on the catalog row)
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"workshop classroom {name}"])
        try:
            if not roles.database_exists(conn, name):
                _create(conn, name, role)
            elif not roles.sealed(conn, name):  # a clone interrupted before it opened
                _seal(conn, name, role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"workshop classroom {name}"])
    _own, _own_name = Database(database_url(url, name), "classroom"), name
    return _own


def config_url() -> str:
    import os

    url = os.environ.get(config.ENV_DATABASE_URL)
    if not url:
        raise WorkshopError(
            f"{config.ENV_CLASSROOM}=1 needs {config.ENV_DATABASE_URL}, the room's server",
            f"set it to the URL the instructor gave you, or unset {config.ENV_CLASSROOM}",
        )
    return url


def _create(conn: psycopg.Connection, name: str, role: str) -> None:
    global clone_seconds
    started = time.perf_counter()
    try:
        roles.clone(conn, name)
        clone_seconds = time.perf_counter() - started
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        _seal(conn, name, role)  # another kernel of ours won the race (and may not have sealed it yet)
    except psycopg.errors.InvalidCatalogName:
        raise WorkshopError(
            f"The room's template database {names.TEMPLATE!r} does not exist yet",
            f"{FIX_ASK} to run `workshop classroom prepare`",
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        reason = str(exc).strip().splitlines()[0][:160]
        raise WorkshopError(
            f"Role {role!r} may not create its database {name!r} ({reason})",
            f"{FIX_ASK}: `workshop classroom prepare --attendees {role}` gives the role what it needs",
        ) from None
    except psycopg.errors.ObjectInUse:
        raise WorkshopError(
            f"The template {names.TEMPLATE!r} is in use (someone is connected to it), so it cannot be cloned",
            f"{FIX_ASK} to run `workshop classroom prepare` again, which closes it",
        ) from None


def _seal(conn: psycopg.Connection, name: str, role: str) -> None:
    if not roles.sealed(conn, name):
        try:
            roles.seal(conn, name)
        except psycopg.errors.InsufficientPrivilege:
            raise WorkshopError(
                f"Database {name!r} exists but is not {role!r}'s",
                f"{FIX_ASK} to run `workshop classroom reset {role}`",
            ) from None
