"""A room's server from the embedded server's machinery (tests, `workshop bench classroom`).

The embedded server trusts whoever reaches its socket: right for one attendee, wrong for a
room. This one is EmbeddedPostgres in <state>/classroom/pgdata whose pg_hba.conf, after the
first start, asks every role for its password (SCRAM) on the unix socket, the only way in
(no TCP). The superuser's generated password is in <state>/classroom/admin.pass (0600), and
only admin_url() carries it.

Its socket lives in the data folder, which only the server's account may enter: every
attendee of such a room runs as the account that started it (tests, the benchmark). A room
of Unix users points WORKSHOP_DATABASE_URL at a PostgreSQL of its own (see README).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

from workshop.services import state
from workshop.services.postgres import Database, EmbeddedPostgres

HBA = (
    "# workshop classroom: every role signs in with its password (SCRAM), unix socket only\n"
    "local all all scram-sha-256\n"
)


class ClassroomServer(EmbeddedPostgres):
    reset_hint = "stop it and delete <state>/classroom/pgdata"

    @property
    def folder(self) -> Path:
        folder = self.home / "classroom"
        folder.mkdir(mode=state.folder_mode(), exist_ok=True)
        return folder

    @property
    def pgdata(self) -> Path:
        return self.folder / "pgdata"

    @property
    def run_dir(self) -> Path:
        folder = self.folder / "run"
        folder.mkdir(mode=state.folder_mode(), exist_ok=True)
        return folder

    @property
    def password_file(self) -> Path:
        return self.folder / "admin.pass"

    def settings(self) -> dict[str, str]:
        # 50 attendees with a kernel or two each, the instructor and the benchmark's probes
        return {**super().settings(), "max_connections": "300"}

    def _start(self, pgserver) -> Database:
        db = super()._start(pgserver)
        if self.password_file.is_file():
            password = quote(self.password_file.read_text().strip(), safe="")
            db = Database(db.url.replace("postgres:@", f"postgres:{password}@", 1), db.source)
        return db

    def start(self) -> Database:
        db = super().start()
        if not self.password_file.is_file():
            db = self._require_passwords(db)
        return db

    def _require_passwords(self, db: Database) -> Database:
        """First start: a password for the superuser, then SCRAM for everyone."""
        password = secrets.token_urlsafe(24)
        with db.connect(autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(f"ALTER ROLE postgres PASSWORD '{password}'")  # token_urlsafe: no quote possible
            state.write_private(self.password_file, password)
            hba = self.pgdata / "pg_hba.conf"
            owner = hba.stat()
            state.write_private(hba, HBA)
            os.chown(hba, owner.st_uid, owner.st_gid)
            conn.execute("SELECT pg_reload_conf()")
        return Database(db.url.replace("postgres:@", f"postgres:{quote(password, safe='')}@", 1), db.source)

    def admin_url(self) -> str:
        return self.start().url
