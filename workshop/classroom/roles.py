"""The SQL of classroom mode's ownership scheme (see the package's docstring): attendee
roles, the template's marks, and a clone that nobody else can connect to, even for an
instant. Names always go through sql.Identifier, passwords through sql.Literal (never
shown: statements with one are not logged by the workshop)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from workshop.classroom import names

# FILE_COPY copies the template's files (a checkpoint before and after); WAL_LOG, the
# default since PostgreSQL 15, copies block by block through the WAL. `workshop bench
# classroom` measures both; None keeps the server's default.
STRATEGIES = ("WAL_LOG", "FILE_COPY")
DEFAULT_STRATEGY: str | None = "FILE_COPY"


def ensure_owner_role(conn: psycopg.Connection) -> None:
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [names.OWNER_ROLE]).fetchone():
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(names.OWNER_ROLE)))


def create_attendee(conn: psycopg.Connection, name: str, password: str | None) -> bool:
    """Create (or bring back in line) an attendee's role: login, create databases, member of
    the owner role, nothing more. False when it existed already."""
    names.check_attendee(name)
    ident = sql.Identifier(name)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is not None
    verb = "ALTER" if exists else "CREATE"
    options = sql.SQL("LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 20")
    if password is not None:
        options = sql.SQL("{} PASSWORD {}").format(options, sql.Literal(password))
    conn.execute(sql.SQL(verb + " ROLE {} {}").format(ident, options))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(names.OWNER_ROLE), ident))
    return not exists


def attendees(conn: psycopg.Connection) -> list[str]:
    """The roles that are members of the owner role: the room."""
    rows = conn.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
        "JOIN pg_roles o ON o.oid = m.roleid WHERE o.rolname = %s ORDER BY r.rolname",
        [names.OWNER_ROLE],
    ).fetchall()
    return [r[0] for r in rows]


def database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def sealed(conn: psycopg.Connection, name: str) -> bool:
    """True when the database accepts connections and PUBLIC has neither CONNECT nor TEMP."""
    row = conn.execute(
        "SELECT d.datallowconn, EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "WHERE a.grantee = 0) FROM pg_database d WHERE d.datname = %s",
        [name],
    ).fetchone()
    return row is not None and row[0] and not row[1]


def seal(conn: psycopg.Connection, name: str) -> None:
    """PUBLIC loses every right on the database, then it opens (owner or superuser)."""
    ident = sql.Identifier(name)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
    conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident))


def server_supports_strategy(conn: psycopg.Connection) -> bool:
    return conn.info.server_version >= 150000


def clone(conn: psycopg.Connection, name: str, *, owner: str | None = None, strategy: str | None = DEFAULT_STRATEGY):
    """CREATE DATABASE name FROM the template, closed to connections until sealed (otherwise
    another attendee could connect in the instant between CREATE and REVOKE, and a
    connection once made outlives a later REVOKE)."""
    parts = [sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(names.TEMPLATE))]
    if owner:
        parts.append(sql.SQL("OWNER {}").format(sql.Identifier(owner)))
    if strategy and server_supports_strategy(conn):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy {strategy!r} is not one of {STRATEGIES}")
        parts.append(sql.SQL("STRATEGY {}").format(sql.SQL(strategy)))
    parts.append(sql.SQL("ALLOW_CONNECTIONS false"))
    conn.execute(sql.SQL(" ").join(parts))
    seal(conn, name)


def close_template(conn: psycopg.Connection) -> None:
    """The template: nobody connects (a clone needs its source idle), anyone with CREATEDB
    may clone it, PUBLIC has no rights on it."""
    ident = sql.Identifier(names.TEMPLATE)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(ident))


def open_template(conn: psycopg.Connection) -> None:
    """For the instructor to work in it again (prepare, or dropping it)."""
    ident = sql.Identifier(names.TEMPLATE)
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true").format(ident))
