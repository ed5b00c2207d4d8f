"""Helpers of the fault-injection suite (fixtures in conftest.py).

The fault-injection suite: SIGINT and SIGKILL at seeded random points of real commands,
services killed mid-operation, a full disk, stale pid files. Each fault runs against a
private embedded PostgreSQL (its own state folder) and, for Elasticsearch, a private node
on another port: never the shared ones.

After each fault the suite checks: the previous dataset/copy intact or the new one
complete, no orphan processes, a one-line error that says what to do, the next call
succeeds. The tally goes to test-artifacts/faults.json (the `workshop bench --json` format).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SEED = 20261129  # the injection points are random, but the same on every run


SUITES = ARTIFACTS / "faults"  # one file per suite (test module): a re-run replaces its own file only


@dataclass
class Fault:
    """One fault and its measured outcome. `landed`: the target was still running when the
    signal or kill arrived (or the service was really cut); a fault that did not land is
    shown, never counted as injected."""

    name: str
    landed: bool
    data_ok: bool
    orphans: list
    message_ok: bool
    next_ok: bool
    why_not: str = ""  # why it did not land
    reported: str = ""  # a known defect of another module (the test is xfail)

    @property
    def survived(self) -> bool:
        return self.data_ok and not self.orphans and self.message_ok and self.next_ok

    def line(self) -> str:
        if not self.landed:
            return f"{self.name}: NOT LANDED ({self.why_not})"
        return (
            f"{self.name}: {'survived' if self.survived else 'FAILED'} (data_ok={self.data_ok}, "
            f"orphans={self.orphans}, one_line={self.message_ok}, next_ok={self.next_ok})"
            + (f" [known: {self.reported}]" if self.reported else "")
        )


@dataclass
class Tally:
    """The faults of one pytest run, by suite; `tally.suite(name)` records into one suite."""

    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}")
    faults: dict[str, list[Fault]] = field(default_factory=dict)

    def suite(self, name: str) -> SuiteTally:
        return SuiteTally(self, name)


@dataclass
class SuiteTally:
    run: Tally
    name: str

    def record(
        self,
        name: str,
        *,
        landed: bool,
        data_ok: bool,
        orphans: list,
        message_ok: bool,
        next_ok: bool,
        why_not: str = "",
        reported: str = "",
        must_land: bool = False,
    ) -> Fault:
        """Keep one fault's outcome, then fail on any bad one (landed or not), and on a fault
        that `must_land` (not a random point: a cut, a pause) but did not. A known defect of
        another module: the test carries xfail(strict=True) and `reported` says which, for the
        log; the fault is counted like any other."""
        fault = Fault(name, landed, data_ok, list(orphans), message_ok, next_ok, why_not or "", reported)
        self.run.faults.setdefault(self.name, []).append(fault)
        assert landed or not must_land, f"{name}: the fault did not land ({why_not}): nothing was tested"
        assert not orphans, f"{name}: orphan processes {orphans}"
        assert data_ok, f"{name}: data lost"
        assert message_ok, f"{name}: no one-line error"
        assert next_ok, f"{name}: the next call failed"
        return fault


def write_suites(run: Tally, modules: set[str]) -> None:
    """Replace the file of every suite this run recorded, drop the files of suites whose
    module is gone, and rebuild the combined summary from what is left."""
    SUITES.mkdir(parents=True, exist_ok=True)
    finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for suite, faults in run.faults.items():
        _write_json(
            SUITES / f"{suite}.json",
            {"suite": suite, "run_id": run.run_id, "finished": finished, "faults": [asdict(f) for f in faults]},
        )
    suites = []
    for path in sorted(SUITES.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            faults = [Fault(**f) for f in data["faults"]]
        except (OSError, ValueError, TypeError, KeyError):
            path.unlink()  # unreadable or of an older format: stale
            continue
        if data["suite"] not in modules:
            path.unlink()  # its test module is gone: stale
            continue
        suites.append((data, faults))
    _write_json(ARTIFACTS / "faults.json", summary(suites))
    log = [f"# {d['suite']}: run {d['run_id']}, finished {d['finished']}" for d, _ in suites]
    log += [f"{d['suite']}: {f.line()}" for d, faults in suites for f in faults]
    (ARTIFACTS / "faults.log").write_text("\n".join(log) + "\n")


def summary(suites: list[tuple[dict, list[Fault]]]) -> list[dict]:
    """The `workshop bench --json` format: {name, value, unit, baseline, ratio, note} rows,
    totals over the suites' latest runs, then per suite."""

    def counts(faults: list[Fault]) -> dict[str, tuple[int, str]]:
        landed = [f for f in faults if f.landed]
        return {
            "landed": (len(landed), "faults that hit a running target (goal: >= 25 over all suites)"),
            "not_landed": (len(faults) - len(landed), "target already finished, or the cut found no session"),
            "survived": (sum(f.survived for f in landed), "data complete, no orphans, one-line error, next call ok"),
            "data_lost": (sum(not f.data_ok for f in faults), "goal: 0"),
            "orphans": (sum(len(f.orphans) for f in faults), "goal: 0"),
        }

    runs = ", ".join(f"{d['suite']} {d['run_id']}" for d, _ in suites)
    rows = [
        _row(f"faults.{name}", value, f"{note}; suites: {runs}")
        for name, (value, note) in counts([f for _, faults in suites for f in faults]).items()
    ]
    for data, faults in suites:
        rows += [
            _row(f"faults.{data['suite']}.{n}", v, f"run {data['run_id']}") for n, (v, _) in counts(faults).items()
        ]
    return rows


def _row(name: str, value: int, note: str) -> dict:
    return {"name": name, "value": value, "unit": "count", "baseline": None, "ratio": None, "note": note}


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


class Workshop:
    """A private workshop: its own state folder, embedded server and environment."""

    def __init__(self, home: Path, db_name: str = "faults") -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
        self.env.update(
            {
                "WORKSHOP_HOME": str(home),
                "WORKSHOP_NO_DOCKER": "1",
                "WORKSHOP_DATA_SIZE": "tiny",
                "WORKSHOP_DB_NAME": db_name,
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "workshop.cli", *args]

    def run(self, *args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args), env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout
        )

    def python(self, code: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        # its own session: its whole process group is ours to inspect (and nothing else is)
        return subprocess.Popen(
            argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )

    def url(self) -> str:
        done = self.run("db", "url")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def dataset(self) -> tuple | None:
        """(size, seed) of the complete dataset, after checking its tables hold exactly the
        rows it promises; None when there is none. Raises AssertionError on a torn dataset."""
        with psycopg.connect(self.url()) as conn:
            row = conn.execute(
                "SELECT size, seed, row_counts FROM shop_dataset ORDER BY loaded_at DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            size, seed, counts = row
            for table, expected in counts.items():
                if isinstance(expected, int):
                    found = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # names from our catalog
                    assert found == expected, f"{table}: {found} rows, the dataset says {expected}"
            return size, seed

    def sessions(self) -> set[int]:
        """Backend pids of the client sessions connected now (other than this query's)."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchall()
        return {pid for (pid,) in rows}

    def cut(self, pids: set[int]) -> list[int]:
        """pg_terminate_backend of those sessions (a connection cut); the pids really cut."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
            ).fetchall()
        return [pid for pid, cut in rows if cut]

    def postmaster_pid(self) -> int | None:
        pid_file = self.home / "pgdata" / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def services(self) -> set[int]:
        """Pids of the services this state folder runs (and their children)."""
        pids: set[int] = set()
        roots = [self.postmaster_pid()]
        try:
            roots.append(json.loads((self.home / "elasticsearch" / "node.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            pass
        for pid in filter(None, roots):
            try:
                proc = psutil.Process(pid)
                pids |= {pid, *(c.pid for c in proc.children(recursive=True))}
            except psutil.Error:
                pass
        return pids

    def orphans(self, group: int | None = None, settle: float = 10) -> list[str]:
        """Processes left behind: members of the injected command's process group, and
        processes that mention this state folder, other than its services; client
        backends still connected to its server. Waits up to `settle` s for them to go."""
        deadline = time.monotonic() + settle
        while True:
            found = self._leftovers(group)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.3)

    def _leftovers(self, group: int | None) -> list[str]:
        services = self.services()
        found = []
        for proc in psutil.process_iter(attrs=("pid", "cmdline", "status")):
            if proc.info["pid"] in services or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            try:
                in_group = group is not None and os.getpgid(proc.info["pid"]) == group
            except OSError:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if in_group or (str(self.home) in cmdline and proc.info["pid"] != os.getpid()):
                found.append(f"{proc.info['pid']}: {cmdline[:120]}")
        if self.postmaster_pid() in services:
            try:
                with psycopg.connect(self.url(), connect_timeout=5) as conn:
                    others = conn.execute(
                        "SELECT pid, left(query, 60) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid()"
                    ).fetchall()
                found += [f"backend {pid}: {query}" for pid, query in others]
            except psycopg.Error:
                pass
        return found


def said_interrupted(shot: Injection) -> bool:
    """A command stopped by Ctrl-C said so in one line and ended with 130, or by the signal
    itself: for some interruption points CPython, after its normal shutdown, restores SIG_DFL
    and kills itself with SIGINT although the command caught the KeyboardInterrupt (seen with
    strace); a shell shows 130 either way."""
    return shot.code in (130, -signal.SIGINT) and one_line(shot.err)


def one_line(stderr: str) -> bool:
    """Exactly one line that says what to do, and no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and "Traceback" not in stderr and lines[0].startswith("workshop: ")


@dataclass
class Injection:
    """What a signal sent to a running command did: `landed` when the command was still
    running when it arrived and did not then finish its work normally (exit 0)."""

    landed: bool
    code: int | None  # the exit status (negative: killed by that signal)
    out: str
    err: str
    why_not: str = ""


def interrupt(proc: subprocess.Popen, sig: int, after: float, marker: str | None = None) -> Injection:
    """Send `sig` to the process `after` seconds into its run (if still running); wait. With
    `marker`, the seconds count from the line the process prints when the step under test
    begins (its imports and set-up are not what the fault is about)."""
    if marker is not None and not _read_until(proc, marker):
        proc.wait(timeout=120)
        err = proc.stderr.read()
        return Injection(False, proc.returncode, "", err, f"it never began (exit {proc.returncode})")
    try:
        out, err = proc.communicate(timeout=after)
        return Injection(False, proc.returncode, out, err, f"the command had finished (exit {proc.returncode})")
    except subprocess.TimeoutExpired:
        pass
    # Not yet waited for, the pid cannot be reused: a process that exited meanwhile is a
    # zombie, the signal does nothing, and its exit status says it finished by itself.
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    if not running or proc.returncode == 0:
        return Injection(False, proc.returncode, out, err, f"the command finished first (exit {proc.returncode})")
    return Injection(True, proc.returncode, out, err)


def time_from_marker(proc: subprocess.Popen, marker: str) -> float:
    """Seconds from the process's `marker` line to its exit (it must exit 0): the length of the
    step a fault is aimed at, measured on this machine at this dataset size."""
    assert _read_until(proc, marker), f"no {marker!r} line: {proc.stderr.read()[-1000:]}"
    began = time.monotonic()
    assert proc.wait(timeout=300) == 0, proc.stderr.read()[-1000:]
    return time.monotonic() - began


def _read_until(proc: subprocess.Popen, marker: str) -> bool:
    """Read the process's output up to its `marker` line; False if it ended without one."""
    return any(line.strip() == marker for line in proc.stdout)


def quiet_after_kill(err: str, following: subprocess.CompletedProcess) -> bool:
    """What the user sees after a SIGKILL: the killed command cannot explain itself, so it
    must not have printed a half error either, and the next command must say nothing about
    leftovers (exit 0, empty stderr)."""
    return "Traceback" not in err and following.returncode == 0 and following.stderr.strip() == ""


def private_parent() -> Path:
    """A folder outside pytest's private tmp tree (the servers' own users must reach it)."""
    parent = Path(tempfile.mkdtemp(prefix="workshop-faults-"))
    parent.chmod(0o755)
    return parent


def with_node(shop: Workshop) -> Workshop:
    """`shop` with an Elasticsearch node installed in its state folder, on a free port (never
    the shared one on 9201). Skipped with the reason when no node can be installed here;
    required in CI."""
    import shutil

    import pytest

    from workshop.errors import WorkshopError
    from workshop.services import es_node

    shop.env["WORKSHOP_ES_PORT"] = str(_free_port())
    try:
        es_node.install(shop.home)
    except WorkshopError as exc:
        shutil.rmtree(shop.home.parent, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to install Elasticsearch: {exc}")
        pytest.skip(f"cannot install an Elasticsearch node here: {exc}")
    return shop


def _free_port() -> int:
    """A free port whose transport port (+100) is in range too."""
    import socket

    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 100 < 65536:
            return port
    raise RuntimeError("no free port")
