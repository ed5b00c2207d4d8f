"""Offline install: `make wheelhouse` for this platform, then `make lab`'s environment from it
with the network shut (no index, an index and a proxy nobody listens on), and every installed
distribution found among the wheelhouse's wheels, so none came from elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

from workshop.bench.lab import OFFLINE

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args], env=env, capture_output=True, text=True
    )


def test_make_lab_installs_from_the_wheelhouse_with_the_network_off():
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory(prefix="workshop-wheelhouse-") as tmp:
        wheels, venv = Path(tmp) / "wheelhouse", Path(tmp) / "venv"
        args = f"--platforms here --pythons {python} --no-test"
        built = _make("wheelhouse", f"WHEELHOUSE={wheels}", f"WHEELHOUSE_ARGS={args}", env=dict(os.environ))
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
        # the build backend and the installer travel with the wheels
        names = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels.glob("*.whl")}
        assert {"setuptools", "wheel", "uv", "jupyterlab", "django"} <= names

        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PIP_", "UV_"))}
        env.update({**OFFLINE, "WORKSHOP_WHEELHOUSE": str(wheels), "PYTHON": sys.executable})
        done = _make(f"VENV={venv}", f"{venv}/.lab-stamp", env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

        listed = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True
        )
        installed = {canonicalize_name(d["name"]): d["version"] for d in json.loads(listed.stdout)}
        available = {
            (canonicalize_name(n), str(v))
            for n, v, *_ in map(parse_wheel_filename, (w.name for w in wheels.glob("*.whl")))
        }
        # pip (and on 3.11 setuptools) came with the venv (ensurepip), the workshop from the checkout;
        # everything else from the wheelhouse
        came_with = ("pip", "setuptools", "workshop")
        foreign = {n: v for n, v in installed.items() if n not in came_with and (n, v) not in available}
        assert foreign == {}
        assert {"django", "jupyterlab", "psycopg", "workshop"} <= set(installed)
        # `make lab` installs what the notebooks need: none of the test extras
        assert not {"pytest", "playwright", "pydriller", "detect-secrets"} & set(installed)
        imported = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import workshop, django, jupyterlab; print(workshop.__file__)"],
            capture_output=True,
            text=True,
        )
        assert imported.returncode == 0 and imported.stdout.startswith(str(REPO)), imported.stderr
