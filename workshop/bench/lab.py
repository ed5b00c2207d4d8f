"""From a fresh clone to JupyterLab answering, installed from the wheelhouse (no network), and
the size of the environment `make lab` makes.

Three fresh clones, one after the other, each through the Makefile's own steps (the
environment, the install, JupyterLab started):
- uv with an empty cache: a laptop's first attempt, the goal's figure (lab.fresh_clone_seconds);
- uv with the cache the first one filled: a room's second attempt, or a laptop the instructor
  prepared (lab.fresh_clone_warm_cache_seconds);
- pip alone (what the Makefile does when the wheelhouse carries no uv): the baseline.
Each uses a cache folder of its own (UV_CACHE_DIR, PIP_CACHE_DIR), so the user's caches
neither help nor change. The time per step and each step's CPU seconds are in the notes: on
a loaded machine the CPU seconds say what a quiet one would take.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from workshop import config
from workshop.bench import Result, benchmark
from workshop.errors import WorkshopError

# What makes any network use fail: no index, an index and a proxy nobody listens on.
OFFLINE = {
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    "UV_OFFLINE": "1",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


def wheelhouse() -> Path:
    folder = Path(os.environ.get("WORKSHOP_WHEELHOUSE") or config.CHECKOUT_DIR / "wheelhouse")
    if not any(folder.glob("*.whl")):
        raise WorkshopError(
            f"No wheelhouse in {folder}",
            "run `make wheelhouse WHEELHOUSE_ARGS='--platforms here --no-test'` first (or set WORKSHOP_WHEELHOUSE)",
        )
    return folder.resolve()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer, whatever its status
    except OSError:
        return False


def clone_to_lab(folder: Path, wheels: Path, installer: str, cache: Path) -> dict[str, float]:
    """git clone, `make` the lab environment from `wheels` (uv or pip, their cache in `cache`),
    start JupyterLab: seconds per step (and the CPU seconds of each step's processes)."""
    env = {**os.environ, **OFFLINE, "WORKSHOP_WHEELHOUSE": str(wheels)}
    env.update({"UV_CACHE_DIR": str(cache / "uv"), "PIP_CACHE_DIR": str(cache / "pip")})
    env = {k: v for k, v in env.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    make = ["make", "--no-print-directory", "-C", str(folder)] + (["UV_WHEEL="] if installer == "pip" else [])
    steps: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def step(name: str, command: list[str]) -> None:
        before, started = _children_cpu(), time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        steps[name], cpu[name] = time.perf_counter() - started, _children_cpu() - before
        if done.returncode:
            raise RuntimeError(f"{name} failed offline ({installer}): {done.stderr.strip()[-800:]}")

    step("clone", ["git", "clone", "--quiet", str(config.CHECKOUT_DIR), str(folder)])
    step("venv", [*make, ".venv/.venv-stamp"])
    step("install", [*make, ".venv/.lab-stamp"])
    port = _free_port()
    started = time.perf_counter()
    lab = subprocess.Popen(
        [str(folder / ".venv" / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
        + ["--ServerApp.allow_root=True", f"--IdentityProvider.token={secrets.token_hex(16)}"],
        cwd=folder / "notebooks",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _answers(f"http://127.0.0.1:{port}/api"):
            if lab.poll() is not None:
                raise RuntimeError("JupyterLab exited before answering")
            time.sleep(0.1)
        steps["lab"] = time.perf_counter() - started
        cpu["lab"] = _process_cpu(lab.pid)
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    size = subprocess.run(["du", "-sm", str(folder / ".venv")], capture_output=True, text=True, check=True)
    return {
        **steps,
        **{f"{name}_cpu": seconds for name, seconds in cpu.items()},
        "total": sum(steps.values()),
        "total_cpu": sum(cpu.values()),
        "mb": float(size.stdout.split()[0]),
    }


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (and theirs)."""
    usage = os.times()
    return usage.children_user + usage.children_system


def _process_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _steps(run: dict[str, float]) -> str:
    return ", ".join(
        f"{label} {run[key]:.1f} s ({run[key + '_cpu']:.1f} s CPU)"
        for key, label in (
            ("clone", "git clone"),
            ("venv", "environment"),
            ("install", "install"),
            ("lab", "JupyterLab"),
        )
    )


@benchmark(
    "lab",
    "fresh clone to JupyterLab answering, from the wheelhouse, and the environment's size",
    names=("lab.fresh_clone_seconds", "lab.fresh_clone_warm_cache_seconds", "lab.environment_mb"),
)
def bench_lab() -> list[Result]:
    wheels = wheelhouse()
    if not any(wheels.glob("uv-*.whl")):
        raise WorkshopError(
            f"The wheelhouse {wheels} carries no uv, which `make lab` uses when it is there",
            "run `make wheelhouse` again (deploy/wheelhouse.py adds uv)",
        )
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="workshop-bench-lab-") as tmp:
        cold = clone_to_lab(Path(tmp) / "cold", wheels, "uv", Path(tmp) / "cache")
        loads.append(os.getloadavg()[0])
        warm = clone_to_lab(Path(tmp) / "warm", wheels, "uv", Path(tmp) / "cache")  # the cache the first one filled
        loads.append(os.getloadavg()[0])
        slow = clone_to_lab(Path(tmp) / "pip", wheels, "pip", Path(tmp) / "pip-cache")
        loads.append(os.getloadavg()[0])
    offline = "offline (no index, an unreachable proxy)"
    return [
        Result(
            "lab.fresh_clone_seconds",
            cold["total"],
            "s",
            baseline=slow["total"],
            ratio=slow["total"] / cold["total"],
            note=(
                f"the goal's figure (<= 15 s): a laptop's first attempt, uv's cache empty; {_steps(cold)}; "
                f"{cold['total_cpu']:.1f} s CPU in all; load average {loads[0]:.1f} before, {loads[1]:.1f} after; "
                f"baseline: the same with pip alone, {slow['total']:.1f} s ({_steps(slow)}; load average "
                f"{loads[2]:.1f} before, {loads[3]:.1f} after); {offline}; JupyterLab started by itself: "
                "`make lab` first runs workshop.setup() (the database and the dataset: setup.cold_seconds)"
            ),
        ),
        Result(
            "lab.fresh_clone_warm_cache_seconds",
            warm["total"],
            "s",
            baseline=cold["total"],
            ratio=cold["total"] / warm["total"],
            note=(
                "a second fresh clone on the same machine, uv's cache filled by the first (a room's second attempt, "
                f"or a laptop the instructor prepared); baseline: the first, cache empty; {_steps(warm)}; "
                f"{warm['total_cpu']:.1f} s CPU in all; load average {loads[1]:.1f} before, {loads[2]:.1f} after; {offline}"
            ),
        ),
        Result(
            "lab.environment_mb",
            cold["mb"],
            "MB",
            note="du -sm of the .venv `make lab` made (runtime only: no test extras, no Playwright)",
        ),
    ]
