"""From a fresh clone to JupyterLab answering, installed from the wheelhouse (no network), and
the size of the environment `make lab` makes. Side by side: the same install with pip alone
(the Makefile uses uv when the wheelhouse carries it)."""

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


def clone_to_lab(folder: Path, wheels: Path, installer: str) -> dict[str, float]:
    """git clone, `make` the lab environment from `wheels`, start JupyterLab: seconds per step."""
    env = {**os.environ, **OFFLINE, "WORKSHOP_WHEELHOUSE": str(wheels)}
    env = {k: v for k, v in env.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(config.CHECKOUT_DIR), str(folder)], check=True)
    cloned = time.perf_counter()
    make = ["make", "--no-print-directory", "-C", str(folder), ".venv/.lab-stamp"]
    if installer == "pip":
        make.append("UV_WHEEL=")
    done = subprocess.run(make, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"make lab's install failed offline ({installer}): {done.stderr.strip()[-800:]}")
    installed = time.perf_counter()
    port = _free_port()
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
        answered = time.perf_counter()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    size = subprocess.run(["du", "-sm", str(folder / ".venv")], capture_output=True, text=True, check=True)
    return {
        "clone": cloned - started,
        "install": installed - cloned,
        "lab": answered - installed,
        "total": answered - started,
        "mb": float(size.stdout.split()[0]),
    }


@benchmark(
    "lab",
    "fresh clone to JupyterLab answering, from the wheelhouse, and the environment's size",
    names=("lab.fresh_clone_seconds", "lab.environment_mb"),
)
def bench_lab() -> list[Result]:
    wheels = wheelhouse()
    with tempfile.TemporaryDirectory(prefix="workshop-bench-lab-") as tmp:
        fast = clone_to_lab(Path(tmp) / "uv", wheels, "uv" if any(wheels.glob("uv-*.whl")) else "pip")
        slow = clone_to_lab(Path(tmp) / "pip", wheels, "pip")
    steps = f"clone {fast['clone']:.1f} s, install {fast['install']:.1f} s, JupyterLab {fast['lab']:.1f} s"
    return [
        Result(
            "lab.fresh_clone_seconds",
            fast["total"],
            "s",
            baseline=slow["total"],
            ratio=slow["total"] / fast["total"],
            note=f"{steps}; baseline: the same with pip alone (install {slow['install']:.1f} s); "
            "offline (no index, unreachable proxy); the dataset loads later, in notebook 00 "
            "(setup.cold_seconds); goal <= 15 s",
        ),
        Result(
            "lab.environment_mb",
            fast["mb"],
            "MB",
            note="du -sm of the .venv `make lab` made (runtime only: no test extras, no Playwright)",
        ),
    ]
