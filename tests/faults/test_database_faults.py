"""Faults around the dataset and the embedded PostgreSQL: `workshop data load` interrupted
(SIGINT) and killed (SIGKILL) at seeded random points, the server killed mid-load, a full
disk, four processes calling setup() at once on a fresh state folder, and a stale
postmaster.pid naming a live unrelated process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import psycopg
import pytest
from harness import (  # tests/faults/harness.py
    SEED,
    Workshop,
    interrupt,
    one_line,
    private_parent,
    quiet_after_kill,
    said_interrupted,
)

pytestmark = pytest.mark.faults

PREVIOUS = ("tiny", 42)
NEW_SEED = 7


def _points(count: int, low: float, high: float, salt: int) -> list[float]:
    rng = random.Random(SEED + salt)
    return sorted(round(rng.uniform(low, high), 2) for _ in range(count))


def _load_seconds(shop: Workshop) -> float:
    """How long a whole `data load --force` takes here, now. The injection points are seeded
    fractions of it: fixed seconds fell after the end of the load on a quiet machine (the
    fault did not land) and before its start on a busy one. Not a speed check."""
    import time

    started = time.monotonic()
    done = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--force", "--quiet")
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_data_load_interrupted_or_killed_at_random_points(shop, tally, sig):
    """The load is one transaction: whatever the point, the previous dataset or the new one,
    complete. The points span Python's start-up, the generation and the COPY."""
    whole = _load_seconds(shop)
    for after in (round(f * whole, 2) for f in _points(4, 0.2, 0.7, salt=int(sig))):
        before = shop.dataset()
        proc = shop.spawn(shop.command("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet"))
        shot = interrupt(proc, sig, after)
        try:
            data_ok = shop.dataset() in (before, ("tiny", NEW_SEED))
        except AssertionError:
            data_ok = False
        orphans = shop.orphans(group=proc.pid)
        again = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--quiet")
        next_ok = again.returncode == 0 and shop.dataset() == PREVIOUS
        # SIGINT: one line that says nothing was left half-written (or, when it lands before
        # Python has installed its handler, a silent exit by the signal); SIGKILL: nothing
        # half-said, and the next load says nothing about leftovers
        if sig == signal.SIGINT:
            message_ok = shot.code == 0 or said_interrupted(shot) or (shot.code == -signal.SIGINT and not shot.err)
        else:
            message_ok = quiet_after_kill(shot.err, again)
        tally.record(
            f"data load {sig.name} at {after}s",
            landed=shot.landed,
            why_not=shot.why_not,
            data_ok=data_ok,
            orphans=orphans,
            message_ok=message_ok,
            next_ok=next_ok,
        )


def test_the_database_killed_mid_load_and_restarted(shop, tally):
    """SIGKILL to the postmaster while a load COPYs: the load fails with one line, crash
    recovery keeps the previous dataset, and the next command restarts the server."""
    import time

    whole = _load_seconds(shop)
    proc = shop.spawn(shop.command("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet"))
    postmaster = shop.postmaster_pid()
    time.sleep(_points(1, 0.45, 0.7, salt=3)[0] * whole)  # past start-up: generating or copying
    running = proc.poll() is None
    if running:
        os.kill(postmaster, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    landed = running and proc.returncode != 0  # it failed because of the kill, not finished before it
    message_ok = proc.returncode == 0 or (proc.returncode == 2 and one_line(err))
    again = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--quiet")
    try:
        data_ok = shop.dataset() == PREVIOUS
    except AssertionError as exc:
        print("dataset:", exc)
        data_ok = False
    print("load:", proc.returncode, err[-500:], "again:", again.returncode, again.stderr[:1500])
    tally.record(
        "postmaster SIGKILL mid-load",
        landed=landed,
        why_not=f"the load had finished (exit {proc.returncode})",
        data_ok=data_ok,
        orphans=shop.orphans(group=proc.pid),
        message_ok=message_ok,
        next_ok=again.returncode == 0 and again.stderr == "",
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs for a tablespace needs root")
def test_a_full_disk_under_the_shop_tables(shop, tally):
    """Two shop tables moved to a tablespace on a small tmpfs, then the rest of it filled:
    the load runs out of space, says so in one line, leaves the previous dataset; once the
    filler is gone, the next load works."""
    import pwd

    mount = shop.home.parent / "tinydisk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True)
    url = shop.url()
    try:
        owner = pwd.getpwnam("pgserver")
        os.chown(mount, owner.pw_uid, owner.pw_gid)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLESPACE tiny LOCATION '{mount}'")
            for table in ("shop_review", "shop_orderitem"):  # a reload writes them anew (TRUNCATE)
                conn.execute(f"ALTER TABLE {table} SET TABLESPACE tiny")
        filler = mount / "filler"
        _fill(filler)
        before = shop.dataset()
        free = os.statvfs(mount).f_bavail  # 0: the load meets a full disk
        failed = shop.run("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet")
        message_ok = failed.returncode == 2 and one_line(failed.stderr) and "disk is full" in failed.stderr
        try:
            data_ok = shop.dataset() == before
        except AssertionError:
            data_ok = False
        filler.unlink()
        again = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--force", "--quiet")
        next_ok = again.returncode == 0 and shop.dataset() == PREVIOUS
        orphans = shop.orphans()
        tally.record(
            "disk full during load (tablespace)",
            landed=free == 0 and failed.returncode != 0,
            why_not=f"{free} blocks free, load exit {failed.returncode}",
            data_ok=data_ok,
            orphans=orphans,
            message_ok=message_ok,
            next_ok=next_ok,
        )
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for table in ("shop_review", "shop_orderitem"):
                conn.execute(f"ALTER TABLE {table} SET TABLESPACE pg_default")
            conn.execute("DROP TABLESPACE IF EXISTS tiny")
        subprocess.run(["umount", str(mount)], check=False)


def test_four_processes_call_setup_at_once_on_a_fresh_state_folder(tally):
    """initdb, the tuning restart, CREATE DATABASE, migrate and the load, four times at once:
    one server, one database, one dataset, every caller succeeds."""
    import shutil

    parent = private_parent()
    fresh = Workshop(parent / "state", db_name="fresh")
    code = "import workshop; print(workshop.setup('tiny', progress=False).dataset)"
    procs = [fresh.spawn([sys.executable, "-c", code]) for _ in range(4)]
    together = [p.poll() is None for p in procs]  # all four running once the last has started
    try:
        results = [p.communicate(timeout=300) for p in procs]
        codes = [p.returncode for p in procs]
        message_ok = all(c == 0 for c in codes) and all("Traceback" not in err for _out, err in results)
        try:
            data_ok = fresh.dataset() == ("tiny", 42)
        except AssertionError:
            data_ok = False
        postmasters = [p for p in _postgres_processes(fresh) if "-D" in p]
        orphans = [f"{len(postmasters)} postmasters"] if len(postmasters) != 1 else []
        orphans += [o for p in procs for o in fresh.orphans(group=p.pid)]
        next_ok = fresh.run("setup", "--quiet").returncode == 0
        tally.record(
            "4 x setup() at once",
            landed=all(together),
            why_not=f"running together: {together}",
            data_ok=data_ok,
            orphans=orphans,
            message_ok=message_ok or print(results) or False,
            next_ok=next_ok,
        )
    finally:
        from workshop.services.postgres import EmbeddedPostgres

        EmbeddedPostgres(fresh.home).stop()
        shutil.rmtree(parent, ignore_errors=True)


def _postgres_processes(shop: Workshop) -> list[str]:
    import psutil

    found = []
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(shop.home) in cmdline:
            found.append(cmdline)
    return found


def test_a_stale_pid_file_naming_a_live_unrelated_process(shop, tally):
    """After a container restart postmaster.pid may name any live process: `db down` must not
    signal it, `db up` must start the server anyway."""
    assert shop.run("db", "down").returncode == 0
    bystander = subprocess.Popen(["sleep", "120"])
    try:
        pid_file = shop.home / "pgdata" / "postmaster.pid"
        pgdata = shop.home / "pgdata"
        pid_file.write_text(f"{bystander.pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  0  0\nready   \n")
        planted = bystander.poll() is None and shop.postmaster_pid() == bystander.pid
        down = shop.run("db", "down")
        message_ok = down.returncode == 0 and "was not running" in down.stdout
        up = shop.run("db", "up")
        next_ok = up.returncode == 0 and bystander.poll() is None
        try:
            data_ok = shop.dataset() == PREVIOUS
        except AssertionError:
            data_ok = False
        tally.record(
            "stale postmaster.pid -> live unrelated pid",
            landed=planted,
            why_not="the planted pid file did not name the live bystander",
            must_land=True,
            data_ok=data_ok,
            orphans=shop.orphans(),
            message_ok=message_ok,
            next_ok=next_ok,
        )
    finally:
        bystander.kill()
        bystander.wait()


# --- connection cuts: pg_terminate_backend of the sessions users keep open -------------------


FLAG = "faults_connection_cut"
DEFINE = "import workshop; workshop.setup(progress=False); from workshop.flags.definitions import define; define({!r}, everyone={})"


def test_the_flag_listeners_session_cut(shop, tally):
    """A process's flag listener loses its session (a server restart, an idle timeout, an
    admin's pg_terminate_backend): it reconnects, and the next flips still reach it."""
    import json
    import queue
    import threading

    from psycopg.conninfo import conninfo_to_dict

    assert shop.python(DEFINE.format(FLAG, False)).returncode == 0
    others = shop.sessions()
    env = {**shop.env, "WORKSHOP_FLAGS_CONNINFO": json.dumps(conninfo_to_dict(shop.url()))}
    worker = subprocess.Popen(
        [sys.executable, "-m", "workshop.flags.worker", FLAG],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in worker.stdout], daemon=True).start()

    def seen(state: bool, timeout: float = 25) -> bool:
        """The worker reported `everyone` == state (within the store's 30 s safety-net reload)."""
        try:
            while True:
                event = lines.get(timeout=timeout)
                if event["state"] and event["state"][1] is state:
                    return True
        except queue.Empty:
            return False

    try:
        ready = lines.get(timeout=60)
        while ready["model"] != "ready":  # the first load reports itself as a change too
            ready = lines.get(timeout=60)
        assert ready["state"][1] is False, ready
        listeners = shop.sessions() - others  # the worker's: it opened them, nothing else runs
        cut = shop.cut(listeners)
        flipped = shop.python(DEFINE.format(FLAG, True))
        data_ok = flipped.returncode == 0 and seen(True)  # the flip after the cut reached the process
        back = shop.python(DEFINE.format(FLAG, False))
        next_ok = back.returncode == 0 and seen(False) and worker.poll() is None  # and it keeps listening
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
    err = worker.stderr.read()
    # one warning line per cut session (it says why and that it reconnects), no thread died
    # with a traceback
    warnings = [line for line in err.splitlines() if line.strip()]
    message_ok = "Traceback" not in err and 1 <= len(warnings) <= len(cut)
    tally.record(
        "flag listener's session cut",
        landed=bool(cut),
        why_not="no flag listener session to cut",
        must_land=True,
        data_ok=data_ok,
        orphans=shop.orphans(group=worker.pid),
        message_ok=message_ok or print(err[-2000:]) or False,
        next_ok=next_ok,
    )


NOTEBOOK = """
import json
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cells = [
    "import workshop; workshop.setup(progress=False)",
    "from django.db import connection; from workshop.shop.models import Product",
    "connection.ensure_connection(); print('BACKEND', connection.connection.info.backend_pid, flush=True)",
    "with connection.cursor() as cursor: cursor.execute('SELECT pg_sleep(120)')",
    "print('PRODUCTS', Product.objects.count(), flush=True)",
]
for cell in cells:
    error = shell.run_cell(cell).error_in_exec
    print('CELL', json.dumps(None if error is None else [type(error).__name__, str(error)]), flush=True)
"""


def test_a_notebook_sessions_query_cut(shop, tally):
    """A notebook kernel's session is cut while a cell's query runs: that cell fails naming
    the cause, and the next cell's query works without restarting the kernel."""
    import json
    import time

    kernel = shop.spawn([sys.executable, "-c", NOTEBOOK])
    backend, cells = None, []
    for line in kernel.stdout:
        if line.startswith("BACKEND"):
            backend = int(line.split()[1])
        elif line.startswith("CELL"):
            cells.append(json.loads(line[5:]))
        if len(cells) == 3:
            break
    assert backend and cells == [None, None, None], (cells, kernel.stderr.read() if kernel.poll() else "")
    running = False
    with psycopg.connect(shop.url(), autocommit=True) as conn:
        for _ in range(100):  # until the long query is seen running
            row = conn.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", [backend]).fetchone()
            if row and row[0] == "active" and "pg_sleep" in row[1]:
                running = True
                break
            time.sleep(0.1)
    cut = shop.cut({backend}) if running else []
    out, err = kernel.communicate(timeout=120)
    cells += [json.loads(line[5:]) for line in out.splitlines() if line.startswith("CELL")]
    products = [int(line.split()[1]) for line in out.splitlines() if line.startswith("PRODUCTS")]
    with psycopg.connect(shop.url()) as conn:
        expected = conn.execute("SELECT count(*) FROM shop_product").fetchone()[0]
    failed = cells[3] if len(cells) > 3 else None
    tally.record(
        "notebook session cut mid-query",
        landed=bool(cut),
        why_not="the query was not seen running",
        must_land=True,
        data_ok=shop.dataset() == PREVIOUS,
        orphans=shop.orphans(group=kernel.pid),
        message_ok=failed is not None and "terminating connection" in failed[1],
        next_ok=products == [expected] or print(cells, err[-1500:]) or False,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem for the state folder needs root")
def test_the_state_folders_disk_full(tally):
    """The whole state folder (the server's data and WAL included) on a small tmpfs, filled
    to the last block: a load says in one line that the disk is full, the
    previous dataset survives, and once space is freed the next load works."""
    import shutil

    from workshop.services.postgres import EmbeddedPostgres

    parent = private_parent()
    mount = parent / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", str(mount)], check=True)
    small = Workshop(mount / "state", db_name="full")
    try:
        assert small.run("setup", "--size", "tiny", "--quiet").returncode == 0
        before = small.dataset()
        filler = mount / "filler"
        _fill(filler)
        free = os.statvfs(mount).f_bavail
        failed = small.run("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet")
        message_ok = failed.returncode == 2 and one_line(failed.stderr) and "disk is full" in failed.stderr
        filler.unlink()
        up = small.run("db", "up")  # the server may have stopped on a full WAL: back first
        try:
            data_ok = up.returncode == 0 and small.dataset() == before
        except AssertionError:
            data_ok = False
        again = small.run("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet")
        next_ok = again.returncode == 0 and small.dataset() == ("tiny", NEW_SEED)
        tally.record(
            "state folder's disk full during load",
            landed=free == 0 and failed.returncode != 0,
            why_not=f"{free} blocks free, load exit {failed.returncode}",
            must_land=True,
            data_ok=data_ok,
            orphans=small.orphans(),
            message_ok=message_ok or print(failed.stderr, again.stderr) or False,
            next_ok=next_ok or print(again.stderr) or False,
        )
    finally:
        EmbeddedPostgres(small.home).stop()
        subprocess.run(["umount", str(mount)], check=False)
        shutil.rmtree(parent, ignore_errors=True)


def _fill(path) -> None:
    """Write zeros to `path` until the disk refuses even one more block."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096):
            try:
                while os.write(fd, b"\0" * chunk):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
