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
from harness import SEED, Workshop, interrupt, one_line, private_parent  # tests/faults/harness.py

pytestmark = pytest.mark.faults

PREVIOUS = ("tiny", 42)
NEW_SEED = 7


def _points(count: int, low: float, high: float, salt: int) -> list[float]:
    rng = random.Random(SEED + salt)
    return sorted(round(rng.uniform(low, high), 2) for _ in range(count))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_data_load_interrupted_or_killed_at_random_points(shop, tally, sig):
    """The load is one transaction: whatever the point, the previous dataset or the new one,
    complete. Python start-up takes ~1 s, generation and COPY ~1-2 s more: the points span it."""
    for after in _points(3, 0.8, 3.5, salt=int(sig)):
        before = shop.dataset()
        proc = shop.spawn(shop.command("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet"))
        code, _out, err = interrupt(proc, sig, after)
        try:
            data_ok = shop.dataset() in (before, ("tiny", NEW_SEED))
        except AssertionError:
            data_ok = False
        # SIGINT: one line that says nothing was left half-written (or, when it lands before
        # Python has installed its handler, a silent exit by the signal); SIGKILL: nothing to say
        if sig == signal.SIGINT:
            message_ok = code == 0 or (code == 130 and one_line(err)) or (code == -signal.SIGINT and not err)
        else:
            message_ok = True
        orphans = shop.orphans(group=proc.pid)
        again = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--quiet")
        next_ok = again.returncode == 0 and shop.dataset() == PREVIOUS
        tally.record(
            f"data load {sig.name} at {after}s",
            data_ok=data_ok,
            orphans=orphans,
            message_ok=message_ok,
            next_ok=next_ok,
        )


def test_the_database_killed_mid_load_and_restarted(shop, tally):
    """SIGKILL to the postmaster while a load COPYs: the load fails with one line, crash
    recovery keeps the previous dataset, and the next command restarts the server."""
    import time

    proc = shop.spawn(shop.command("data", "load", "--size", "tiny", "--seed", str(NEW_SEED), "--force", "--quiet"))
    postmaster = shop.postmaster_pid()
    time.sleep(_points(1, 1.5, 2.5, salt=3)[0])
    if proc.poll() is None:
        os.kill(postmaster, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    message_ok = proc.returncode == 0 or (proc.returncode == 2 and one_line(err))
    again = shop.run("data", "load", "--size", "tiny", "--seed", str(PREVIOUS[1]), "--quiet")
    next_ok = again.returncode == 0
    try:
        data_ok = shop.dataset() == PREVIOUS
    except AssertionError as exc:
        print("dataset:", exc)
        data_ok = False
    print(
        "load:",
        proc.returncode,
        err[-500:],
        "again:",
        again.returncode,
        again.stdout[-300:],
        again.stderr[:1500],
        (shop.home / "pgdata" / "log").read_text()[-3000:],
    )
    orphans = shop.orphans(group=proc.pid)
    tally.record(
        "postmaster SIGKILL mid-load",
        data_ok=data_ok,
        orphans=orphans,
        message_ok=message_ok,
        next_ok=next_ok and again.stderr == "",
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
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)  # fill the disk to the last page
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        before = shop.dataset()
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
        tally.record("disk full during load", data_ok=data_ok, orphans=orphans, message_ok=message_ok, next_ok=next_ok)
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
            data_ok=data_ok,
            orphans=shop.orphans(),
            message_ok=message_ok,
            next_ok=next_ok,
        )
    finally:
        bystander.kill()
        bystander.wait()
