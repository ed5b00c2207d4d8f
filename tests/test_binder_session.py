"""A Binder session, simulated on this machine the way repo2docker lays it out: a non-root
user whose home holds the repository, binder/postBuild run as that user at "build" time,
then binder/start wrapping the session's command, which here executes notebook 05 with
Elasticsearch. Every process of that user is sampled for its proportional set size (PSS:
shared pages divided among the processes sharing them) while the notebook runs; Binder gives a
session 1-2 GB, so the peak must stay within 1.8 GB. The figures go to
test-artifacts/binder_session.json.

Differences from Binder, stated: repo2docker builds a conda environment from
binder/environment.yml (Python 3.12); conda-forge is not reachable here, so the user gets a
venv of Debian's Python with the same packages from PyPI (the pip names of that file), and
binder/apt.txt's Java is the machine's.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

ROOT = Path(__file__).resolve().parent.parent
USER = "jovyan"  # repo2docker's user
HOME = Path("/home") / USER
MARKER = ".workshop-binder-simulation"  # only a home carrying it is ever emptied
LIMIT_MB = 1800
CONDA_TO_PIP = {"matplotlib-base": "matplotlib"}


def _requirements() -> list[str]:
    """binder/environment.yml's packages, as pip requirements (python and pip left out)."""
    import yaml

    spec = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    found = []
    for item in spec["dependencies"]:
        if isinstance(item, dict):
            found += item.get("pip", [])
            continue
        name = re.split(r"[<>=!]", item, maxsplit=1)[0]
        if name in ("python", "pip"):
            continue
        found.append(CONDA_TO_PIP.get(name, name) + item[len(name) :])
    return found


def _as_user(command: list[str], env: dict, cwd: Path, **kw) -> subprocess.CompletedProcess | subprocess.Popen:
    user = pwd.getpwnam(USER)

    def drop():
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)

    return subprocess.Popen(command, env=env, cwd=cwd, preexec_fn=drop, **kw)


def _run_as_user(command: list[str], env: dict, cwd: Path, timeout: float) -> str:
    process = _as_user(command, env, cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{' '.join(command)} failed as {USER}:\n{out[-4000:]}"
    return out


@pytest.fixture(scope="module")
def binder_home():
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must simulate the Binder session (it creates a user)")
        pytest.skip("simulating a Binder user needs root (useradd)")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
        (HOME / MARKER).write_text("made by tests/test_binder_session.py\n")  # its skeleton files are ours too
    if HOME.exists() and any(HOME.iterdir()) and not (HOME / MARKER).exists():
        pytest.fail(f"{HOME} holds files this test did not make: it will not empty it")
    for entry in HOME.iterdir() if HOME.exists() else []:
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    HOME.mkdir(exist_ok=True)
    (HOME / MARKER).write_text("made by tests/test_binder_session.py\n")
    # repo2docker copies the repository into the home folder
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (HOME / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, HOME / name)
    # Wheels for the user's environment, from this machine's pip cache (the user has none).
    wheels = Path(tempfile.mkdtemp(prefix="binder-wheels-"))  # pytest's own tmp root is private to root
    wheels.chmod(0o755)
    # Resolved by the user's Python (Debian's 3.11.2: some packages' newest versions want 3.11.5+).
    resolver = Path(tempfile.mkdtemp(prefix="binder-resolver-"))
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(resolver)], check=True)
    subprocess.run(
        [str(resolver / "bin" / "pip"), "download", "--quiet", "--dest", str(wheels), "setuptools>=77", "wheel",
         *_requirements()],
        check=True,
    )  # fmt: skip
    shutil.rmtree(resolver, ignore_errors=True)
    for wheel in wheels.iterdir():
        wheel.chmod(0o644)
    # The Elasticsearch zip this machine already downloaded, where the user's Maven repository would keep it.
    from workshop.services import es_install

    if es_install.zip_path().is_file():
        relative = es_install.zip_path().relative_to(es_install.maven_repo())
        cached = HOME / ".m2" / "repository" / relative
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(es_install.zip_path(), cached)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(HOME)], check=True)
    yield HOME, wheels
    shutil.rmtree(wheels, ignore_errors=True)


def _session_env(home: Path, venv: Path, wheels: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "USER": USER,
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "WORKSHOP_NO_DOCKER": "1",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        "WORKSHOP_ES_PORT": str(_free_port()),  # beside the node the other tests use
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PssSampler(threading.Thread):
    """Sums the PSS of every process of the user, twice a second; keeps the peak."""

    def __init__(self, uid: int) -> None:
        super().__init__(daemon=True)
        self.uid, self.peak_mb, self.at_peak = uid, 0.0, {}
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            total, parts = 0.0, {}
            for process in psutil.process_iter(["uids", "name", "cmdline"]):
                try:
                    if process.info["uids"] and process.info["uids"].real == self.uid:
                        pss = process.memory_full_info().pss / 2**20
                        total += pss
                        label = _label(process.info["cmdline"] or [process.info["name"]])
                        parts[label] = parts.get(label, 0.0) + pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            if total > self.peak_mb:
                self.peak_mb, self.at_peak = total, parts
            self.stop.wait(0.5)


def _record(sampler: PssSampler, seconds: float, env: dict, failed: list) -> None:
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    figures = {
        "peak_pss_mb": round(sampler.peak_mb, 1),
        "limit_mb": LIMIT_MB,
        "at_peak_mb": {k: round(v, 1) for k, v in sorted(sampler.at_peak.items(), key=lambda kv: -kv[1])},
        "session_seconds": round(seconds, 1),
        "python": "Debian's /usr/bin/python3 venv standing in for repo2docker's conda environment",
        "es_heap_mb": int(env.get("WORKSHOP_ES_HEAP_MB", "256")),
        "failed_cells": failed,
    }
    (artifacts / "binder_session.json").write_text(json.dumps(figures, indent=1))
    return figures


def _label(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    for needle, label in (
        ("org.elasticsearch", "Elasticsearch"),
        ("postgres", "PostgreSQL"),
        ("ipykernel", "kernel"),
        ("nbconvert", "nbconvert (the session's Jupyter stand-in)"),
        ("workshop", "workshop CLI"),
    ):
        if needle in text:
            return label
    return Path(cmdline[0]).name if cmdline else "?"


def test_binder_session_runs_the_search_chapter_with_elasticsearch_within_the_memory(binder_home, tmp_path):
    home, wheels = binder_home
    venv = home / ".venv-notebook"  # stands in for repo2docker's /srv/conda/envs/notebook
    env = _session_env(home, venv, wheels)
    _run_as_user(["/usr/bin/python3", "-m", "venv", str(venv)], env, home, timeout=300)
    _run_as_user([str(venv / "bin" / "pip"), "install", "--quiet", *_requirements()], env, home, timeout=900)
    build_log = _run_as_user(["bash", "binder/postBuild"], env, home, timeout=900)
    assert "Elasticsearch not installed" not in build_log, build_log[-2000:]

    output = home / "05-executed.ipynb"
    session = (
        "for i in $(seq 200); do workshop es status >/dev/null 2>&1 && break; sleep 2; done; "
        "jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=1200 "
        f"--output {output} notebooks/05_search.ipynb"
    )
    sampler = PssSampler(pwd.getpwnam(USER).pw_uid)
    sampler.start()
    started = time.monotonic()
    try:
        _run_as_user(["bash", "binder/start", "bash", "-c", session], env, home, timeout=1800)
    finally:
        sampler.stop.set()
        sampler.join()
        for command in (["workshop", "es", "down"], ["workshop", "db", "down"]):
            _as_user(command, env, home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait(timeout=120)
    seconds = time.monotonic() - started

    nb = json.loads(output.read_text())  # --allow-errors: written whole, an error stays in its cell
    failed = [
        (
            c["source"][:300] if isinstance(c["source"], str) else "".join(c["source"])[:300],
            o["ename"],
            o["evalue"][:500],
        )
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    _record(sampler, seconds, env, failed)
    assert not failed, f"notebook 05 failed in the Binder session: {failed[:2]}"
    shown = "\n".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in nb["cells"]
        for o in c.get("outputs", [])
    )
    assert "outbox" in shown and "not available" not in shown.lower(), "the chapter did not run on Elasticsearch"

    assert sampler.peak_mb > 100, f"the sampler saw no process of {USER}"
    assert sampler.peak_mb <= LIMIT_MB, f"peak PSS {sampler.peak_mb:.0f} MB is over {LIMIT_MB} MB: {sampler.at_peak}"
