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
        # the workshop came from the checkout, everything else from the wheelhouse: uv made the
        # environment (no ensurepip) and installed pip and itself from there too
        foreign = {n: v for n, v in installed.items() if n != "workshop" and (n, v) not in available}
        assert foreign == {}
        assert {"django", "jupyterlab", "psycopg", "workshop", "pip", "uv"} <= set(installed)
        # `make lab` installs what the notebooks need: none of the test extras
        assert not {"pytest", "playwright", "pydriller", "detect-secrets"} & set(installed)
        # JupyterLab's news toast is off: the page config JupyterLab reads disables its plugin
        read = "import json; from jupyterlab_server.config import get_static_page_config as c; print(json.dumps(c()))"
        page_config = subprocess.run([str(venv / "bin" / "python"), "-c", read], capture_output=True, text=True)
        assert json.loads(page_config.stdout)["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"]
        imported = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import workshop, django, jupyterlab; print(workshop.__file__)"],
            capture_output=True,
            text=True,
        )
        assert imported.returncode == 0 and imported.stdout.startswith(str(REPO)), imported.stderr


def test_the_environment_is_made_by_this_machines_uv_from_a_wheelhouse_for_every_platform(tmp_path, monkeypatch):
    """A room's wheelhouse holds uv for every platform (and maybe an older one): deploy/uv_venv.py
    takes the newest for this machine, by the platform tags `make wheelhouse` downloads for it."""
    monkeypatch.syspath_prepend(str(REPO / "deploy"))
    import uv_venv
    import wheelhouse

    platforms = {
        "linux-x86_64": "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "linux-aarch64": "manylinux_2_17_aarch64.manylinux2014_aarch64",
        "macos-x86_64": "macosx_10_12_x86_64",
        "macos-arm64": "macosx_11_0_arm64",
        "windows-amd64": "win_amd64",
    }
    for tags in [*platforms.values(), "musllinux_1_1_x86_64"]:
        (tmp_path / f"uv-0.13.9-py3-none-{tags}.whl").touch()
    (tmp_path / f"uv-0.9.2-py3-none-{platforms[wheelhouse.here()]}.whl").touch()
    assert uv_venv.uv_wheel(tmp_path).name == f"uv-0.13.9-py3-none-{platforms[wheelhouse.here()]}.whl"
    assert uv_venv.uv_wheel(tmp_path / "nothing-here") is None
