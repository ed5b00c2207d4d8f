"""The instructor's side: `workshop classroom prepare | status | reset USER | drop-all`, with
the admin URL (WORKSHOP_CLASSROOM_ADMIN_URL, a superuser of the room's server).

Generated attendee passwords go to <state folder>/classroom/attendees.tsv (0600, outside
git): one line per attendee with the URL to hand out. They are never printed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workshop.classroom import names, roles
from workshop.classroom.attendee import database_url
from workshop.errors import WorkshopError
from workshop.services import state
from workshop.services.postgres import Database, check_answers, drop_database, maintenance_database

ATTENDEES_FILE = "attendees.tsv"


def admin() -> Database:
    db = Database(names.admin_url(), "admin")
    check_answers(db, hint="check the room's server is up and WORKSHOP_CLASSROOM_ADMIN_URL is right")
    with maintenance_database(db).connect() as conn:
        if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            raise WorkshopError(
                "WORKSHOP_CLASSROOM_ADMIN_URL does not connect as a superuser",
                "use the server's superuser (e.g. postgres): it creates roles and reads every attendee's progress",
            )
    return db


def _maintenance(db: Database) -> psycopg.Connection:
    return maintenance_database(db).connect(autocommit=True)


def attendees_file() -> Path:
    folder = state.home() / "classroom"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / ATTENDEES_FILE


def _read_attendees(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)


def attendee_url(admin_url: str, role: str, password: str | None) -> str:
    """The admin URL with the attendee's credentials and the `postgres` database (setup()
    picks the attendee's own database itself)."""
    parts = urlsplit(database_url(admin_url, "postgres"))
    host = parts.netloc.rsplit("@", 1)[-1]
    cred = quote(role, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{cred}@{host}"))


@dataclass
class Prepared:
    template: str  # "built (...)" or "kept"
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    cloned: list[str] = field(default_factory=list)
    file: Path | None = None

    def __str__(self) -> str:
        lines = [f"template {names.TEMPLATE}: {self.template}"]
        if self.created or self.existing:
            lines.append(f"attendee roles: {len(self.created)} created, {len(self.existing)} already there")
        if self.cloned:
            lines.append(f"databases cloned ahead: {len(self.cloned)}")
        if self.file:
            lines.append(f"their URLs (with passwords) are in {self.file} (0600); hand each attendee their line")
        return "\n".join(lines)


def prepare(
    attendees: list[str] = (),
    *,
    size: str = "workshop",
    seed: int | None = None,
    snapshot: str | None = None,
    force: bool = False,
    passwords: bool = True,
    clone_now: bool = False,
) -> Prepared:
    """Build the template (once; `force` rebuilds it) and create the attendees' roles.
    `clone_now`: clone their databases now rather than on their first setup() (a room of
    50 cloning at once waits for the disk; see `workshop bench classroom`)."""
    from workshop.classroom import template
    from workshop.shop.data.sizes import get_size
    from workshop.shop.data.version import DEFAULT_SEED

    get_size(size)
    for name in attendees:
        names.check_attendee(name)
    db = admin()
    with _maintenance(db) as conn:
        roles.ensure_owner_role(conn)
        exists = roles.database_exists(conn, names.TEMPLATE)
        if exists and force:
            roles.open_template(conn)
            drop_database(maintenance_database(db), names.TEMPLATE)
            exists = False
        if not exists:
            ident, owner = sql.Identifier(names.TEMPLATE), sql.Identifier(names.OWNER_ROLE)
            # Collation C, as every workshop database (see postgres.ensure_database); closed until
            # PUBLIC has lost CONNECT, so no attendee can slip into the template while it fills.
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C' ALLOW_CONNECTIONS false").format(ident)
            )
            roles.seal(conn, names.TEMPLATE)
            # The owner role creates schemas there; it needs no CONNECT (the loader signs in as the
            # instructor and only then becomes it), so its members, the attendees, get none either.
            conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident, owner))
    if exists:
        report = Prepared("kept (already prepared; --force rebuilds it)")
    else:
        url = database_url(db.url, names.TEMPLATE)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(names.OWNER_ROLE)))
        filled = template.run_child(url, size, DEFAULT_SEED if seed is None else seed, snapshot)
        report = Prepared(f"built ({filled['size']} dataset, seed {filled['seed']}, {filled['rows']:,} rows)")
    with _maintenance(db) as conn:
        # Whatever was connected to it (the loader's relay, an instructor's psql): a clone
        # needs its template idle.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [names.TEMPLATE],
        )
        roles.close_template(conn)
        if attendees:
            report.file = attendees_file()
            known = _read_attendees(report.file)
            for name in attendees:
                password = None
                if passwords and name not in known:
                    password = secrets.token_urlsafe(18)
                (report.created if roles.create_attendee(conn, name, password) else report.existing).append(name)
                if password is not None:
                    known[name] = attendee_url(db.url, name, password)
                elif not passwords:
                    known[name] = attendee_url(db.url, name, None)
            state.write_private(report.file, "".join(f"{k}\t{v}\n" for k, v in sorted(known.items())))
        for name in attendees if clone_now else ():
            if not roles.database_exists(conn, names.database_for(name)):
                roles.clone(conn, names.database_for(name), owner=name)
                report.cloned.append(name)
    return report


@dataclass
class Attendee:
    role: str
    database: str
    exists: bool
    connections: int = 0
    megabytes: float = 0.0
    progress: list[dict] = field(default_factory=list)
    problem: str = ""


def room() -> list[Attendee]:
    """Every attendee with their database's state and their exercise progress."""
    from workshop.classroom import room_progress

    db = admin()
    found = []
    with _maintenance(db) as conn:
        for role in roles.attendees(conn):
            name = names.database_for(role)
            row = conn.execute(
                "SELECT pg_database_size(d.oid), (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname) "
                "FROM pg_database d WHERE d.datname = %s",
                [name],
            ).fetchone()
            found.append(Attendee(role, name, row is not None, row[1] if row else 0, row[0] / 1e6 if row else 0.0))
    for attendee in found:
        if not attendee.exists:
            continue
        try:
            with psycopg.connect(database_url(db.url, attendee.database), connect_timeout=5) as conn:
                attendee.progress = room_progress.read(conn)
        except psycopg.Error as exc:
            attendee.problem = (str(exc).strip().splitlines() or ["?"])[0][:100]
    return found


def reset(role: str) -> str:
    """Give one attendee a fresh clone of the template (their connections are ended); their
    next setup() writes their progress back from their own progress file."""
    names.check_attendee(role)
    db = admin()
    with _maintenance(db) as conn:
        if role not in roles.attendees(conn):
            raise WorkshopError(f"{role!r} is not an attendee of this room", "see `workshop classroom status`")
        if not roles.database_exists(conn, names.TEMPLATE):
            raise WorkshopError(f"The template {names.TEMPLATE!r} does not exist", "run `workshop classroom prepare`")
        name = names.database_for(role)
        drop_database(maintenance_database(db), name)
        roles.clone(conn, name, owner=role)
    dropped = _drop_indexes(name)
    return f"{role}: database {name} cloned afresh from {names.TEMPLATE}{dropped}"


def drop_all() -> list[str]:
    """The end of the conference: every attendee's database, search indexes and role, the
    template and the owner role. Returns what was dropped."""
    db = admin()
    dropped = []
    with _maintenance(db) as conn:
        for role in roles.attendees(conn):
            name = names.database_for(role)
            drop_database(maintenance_database(db), name)
            _drop_indexes(name)
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            dropped.append(role)
        if roles.database_exists(conn, names.TEMPLATE):
            roles.open_template(conn)
            drop_database(maintenance_database(db), names.TEMPLATE)
            dropped.append(names.TEMPLATE)
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names.OWNER_ROLE)))
    attendees_file().unlink(missing_ok=True)
    return dropped


def _drop_indexes(database: str) -> str:
    """Delete an attendee's search indexes (their names start with the database's prefix)."""
    from workshop.classroom import search_isolation
    from workshop.services import elasticsearch

    found = elasticsearch.find()
    if not found.available:
        return ""
    count = search_isolation.drop_indexes(elasticsearch.client(found), database)
    return f", {count} search indexes deleted" if count else ""
