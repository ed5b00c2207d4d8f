"""End-to-end fixtures: JupyterLab started the way `make lab` starts it, and headless Chromium.

The browser is Debian's `chromium` (/usr/bin/chromium; .ci/run installs it), driven by
Playwright's Python package without `playwright install`: the wheel carries its driver and
the browser comes from the system. In CI (CI set) a missing browser fails the browser
tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# What a closed network needs: no sandbox as root, and none of Chromium's own calls home
# (they would only pile up refused connections).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LAB_START_TIMEOUT = 300  # the first start runs setup(): migrations and the tiny dataset


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def chromium_path() -> str | None:
    explicit = os.environ.get("WORKSHOP_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[test]'"
    if chromium_path() is None:
        return "Chromium is missing: apt-get install -y chromium chromium-driver (or set WORKSHOP_CHROMIUM)"
    return None


def require_browser() -> str:
    reason = browser_unavailable()
    if reason:
        if in_ci():
            pytest.fail(f"CI needs the browser tests: {reason}", pytrace=False)
        pytest.skip(reason)
    return chromium_path()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    return free_port()


def notebook_env(db_name: str, **extra: str) -> dict[str, str]:
    """The environment a kernel or `workshop` gets: the tiny dataset in a database of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    for keep in ("WORKSHOP_HOME", "WORKSHOP_DATABASE_URL"):  # where the server is stays as configured
        if os.environ.get(keep):
            env[keep] = os.environ[keep]
    env.update({"WORKSHOP_DATA_SIZE": "tiny", "WORKSHOP_DB_NAME": db_name, "WORKSHOP_NO_DOCKER": "1", **extra})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("JUPYTER_TOKEN", None)
    return env


def workshop_command(*args: str) -> list[str]:
    """`workshop ARGS` as `make lab` runs it: the venv's console script (module as a fallback)."""
    script = Path(sys.executable).parent / "workshop"
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "workshop.cli", *args]


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT
    token: str
    log: Path
    process: subprocess.Popen

    def lab_url(self, path: str = "", workspace: str | None = None) -> str:
        """A JupyterLab URL; with `workspace`, in a workspace of that name emptied first (?reset),
        so tabs opened by an earlier test are not restored next to this one."""
        prefix = f"{self.url}/lab/workspaces/{workspace}" if workspace else f"{self.url}/lab"
        query = f"reset&token={self.token}" if workspace else f"token={self.token}"
        return f"{prefix}/{path}?{query}" if path else f"{prefix}?{query}"

    def shutdown_sessions(self, name: str) -> None:
        """Shut down the kernels of the sessions open on notebook `name` (the page is closed)."""
        for session in json.loads(self.api("/api/sessions")):
            if session.get("path", "").endswith(name):
                request = urllib.request.Request(
                    f"{self.url}/api/sessions/{session['id']}",
                    method="DELETE",
                    headers={"Authorization": f"token {self.token}"},
                )
                urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 (our own local server)

    def api(self, path: str) -> bytes:
        request = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own local server)
            return response.read()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    """`workshop lab --no-browser` (setup(), then cmd_lab's JupyterLab command) on a free port,
    with a generated token, the tiny dataset in database workshop_browser, and a first-time
    attendee's JupyterLab profile (fresh settings, workspaces and config)."""
    require_browser()  # no point starting the server when no browser can open it
    profile = tmp_path_factory.mktemp("jupyter-profile")
    token = secrets.token_urlsafe(24)
    port = free_port()
    env = notebook_env("workshop_browser")
    env.update(
        {
            "JUPYTER_TOKEN": token,
            "JUPYTERLAB_SETTINGS_DIR": str(profile / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(profile / "lab-workspaces"),
            "JUPYTER_CONFIG_DIR": str(profile / "config"),
            "JUPYTER_RUNTIME_DIR": str(profile / "runtime"),
        }
    )
    # Autosave off: Run All fills the notebooks with outputs, which must never reach notebooks/.
    docmanager = profile / "lab-settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    stored = {p: p.read_bytes() for p in NOTEBOOKS}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "e2e-lab.log"
    with log.open("w") as out:
        # Its own session: stopping it stops the jupyter server that `workshop lab` waits on.
        process = subprocess.Popen(
            workshop_command("lab", "--port", str(port), "--no-browser"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, log, process)
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"`workshop lab` exited with {process.returncode}:\n{server.log_tail()}", pytrace=False)
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer within {LAB_START_TIMEOUT} s:\n{server.log_tail()}", pytrace=False
                    )
                time.sleep(0.3)
        yield server
    finally:
        _stop(process)
    changed = [p.name for p, data in stored.items() if p.read_bytes() != data]
    assert not changed, f"the browser tests wrote into {changed}: restore them with git checkout"


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group we started (jupyter shuts its kernels down), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    else:  # `workshop lab` is gone; its jupyter child may not be
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def browser():
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    # launch() gives every run a fresh temporary profile (Playwright refuses --user-data-dir here).
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = console_errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
