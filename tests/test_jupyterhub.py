"""The room's JupyterHub (deploy/jupyterhub/jupyterhub_config.py), smoke-tested for real:
JupyterHub from PyPI, configurable-http-proxy from npm (installed here when missing), 127.0.0.1
only, three attendees in classroom mode on one shared PostgreSQL (tests/classroom_support.py).

Each attendee's server is started through the Hub's REST API with an admin token made for this
run, then notebook 00 runs in a kernel that server started, over its kernel websocket, as
JupyterLab would run it. Users are the DummyAuthenticator's with SimpleLocalProcessSpawner: every
server runs as the test's own account, the only one that may reach the classroom server's socket
(workshop/classroom/server.py), and CI runs as root where useradd would leave users behind on
the machine. The PAM/Unix-user mode is the same config with WORKSHOP_HUB_AUTH=pam.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.classroom_support import room_fixture  # noqa: F401 (the `room` fixture)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"
NOTEBOOK = "00_setup_check.ipynb"
USERS = ("attendee1", "attendee2", "attendee3")

pytestmark = pytest.mark.slow


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must be able to run the JupyterHub smoke test: {what}")
    pytest.skip(what)


def _proxy() -> str:
    """configurable-http-proxy: on PATH, or installed from npm into the checkout's state folder."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    prefix = REPO / ".workshop" / "npm"
    local = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    if not local.exists():
        if not shutil.which("npm"):
            _missing("configurable-http-proxy is not installed and there is no npm to install it")
        done = subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(prefix), "configurable-http-proxy@^4"],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            _missing(f"npm install configurable-http-proxy failed: {done.stderr.strip()[-500:]}")
    return str(local)


def _http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(request, data=data, timeout=60) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")[:500]}
    except urllib.error.URLError as exc:  # not listening yet
        return 0, {"error": str(exc.reason)}


def _wait_ready(hub: str, token: str, user: str, hub_process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert hub_process.poll() is None, "the Hub stopped"
        status, model = _http("GET", f"{hub}/hub/api/users/{user}", token)
        server = (model.get("servers") or {}).get("", {})
        if status == 200 and server.get("ready"):
            return
        time.sleep(1)
    raise AssertionError(f"{user}'s server was not ready after {timeout} s: {model}")


async def _run_cells(base: str, token: str, kernel_id: str, cells: list[str]) -> tuple[list[str], str]:
    """Execute `cells` in the kernel over its websocket (the Jupyter message protocol, as
    JupyterLab speaks it); returns the errors, one line each (it stops at the first), and stdout."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    socket = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    session = uuid.uuid4().hex
    errors: list[str] = []
    stdout: list[str] = []
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "session": session}
            header.update({"username": "smoke", "version": "5.3", "date": ""})
            content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
            content.update({"allow_stdin": False, "stop_on_error": True})
            message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
            await socket.write_message(json.dumps({**message, "buffers": []}))
            replied = idle = False
            while True:
                raw = await asyncio.wait_for(socket.read_message(), timeout=300)
                assert raw is not None, "the kernel's websocket closed"
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if reply["msg_type"] == "stream" and reply["content"]["name"] == "stdout":
                    stdout.append(reply["content"]["text"])
                if reply["msg_type"] == "error":
                    errors.append(f"{reply['content']['ename']}: {reply['content']['evalue']}")
                replied = replied or reply["msg_type"] == "execute_reply"
                idle = idle or (reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle")
                if replied and idle:  # the reply (shell) and the outputs (iopub) may come in either order
                    break
            if errors:
                break
    finally:
        socket.close()
    return errors, "".join(stdout)


def _run_async(coroutine):
    """Run a coroutine to its end in a thread of its own: in the full suite the browser tests'
    Playwright (sync API, session-scoped) keeps an event loop running in the main thread, where
    asyncio.run() refuses to start another."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _run_notebook(hub: str, token: str, user: str) -> list[str]:
    import nbformat

    base = f"{hub}/user/{user}"
    status, session = _http(
        "POST", f"{base}/api/sessions", token, {"path": NOTEBOOK, "type": "notebook", "kernel": {"name": "python3"}}
    )
    assert status == 201, (status, session)
    notebook = nbformat.read(REPO / "notebooks" / NOTEBOOK, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert len(cells) >= 3
    return _run_async(_run_cells(base, token, session["kernel"]["id"], cells))[0]


def _kernel_variables(hub: str, token: str, user: str) -> dict:
    """What the user's kernel sees: its classroom database and the user it runs for."""
    base = f"{hub}/user/{user}"
    status, kernels = _http("GET", f"{base}/api/kernels", token)
    assert status == 200 and kernels, (status, kernels)
    code = (
        "import json, os\nfrom django.db import connection\n"
        "print('RESULT', json.dumps({'db': connection.settings_dict['NAME'], "
        "'classroom': os.environ.get('WORKSHOP_CLASSROOM'), 'user': os.environ.get('JUPYTERHUB_USER')}))"
    )
    errors, stdout = _run_async(_run_cells(base, token, kernels[0]["id"], [code]))
    assert errors == [], errors
    return json.loads(stdout.split("RESULT ", 1)[1])


@pytest.fixture(name="hub")
def hub_fixture(room, unused_tcp_port):
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        _missing("jupyterhub is not installed in this environment (make install)")
    from workshop.classroom import instructor

    proxy = _proxy()
    instructor.prepare(list(USERS), size="tiny")  # the template is the room's; roles for attendee1..3
    folder = room.home.parent / "hub"
    folder.mkdir()
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSHOP_", "JUPYTERHUB_"))}
    env.update(
        {
            "WORKSHOP_HUB_AUTH": "dummy",
            "WORKSHOP_HUB_PASSWORD": secrets.token_urlsafe(16),
            "WORKSHOP_HUB_ATTENDEES": str(instructor.attendees_file()),
            "WORKSHOP_HUB_ROOM": str(folder / "homes"),
            "WORKSHOP_HUB_PORT": str(unused_tcp_port),
            "WORKSHOP_HUB_PROXY": proxy,
            "WORKSHOP_HUB_ADMIN_TOKEN": token,
            "WORKSHOP_VENV": str(Path(sys.executable).parent.parent),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    log = (folder / "hub.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the proxy and the users' servers are its children: stopped together
    )
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        deadline = time.monotonic() + 120
        while _http("GET", f"{url}/hub/api/", token)[0] != 200:
            assert process.poll() is None, (folder / "hub.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Hub did not answer in 120 s"
            time.sleep(0.5)
        yield url, token, process, folder
    finally:
        for user in USERS:  # stop the servers through the Hub, then the Hub and its proxy
            _http("DELETE", f"{url}/hub/api/users/{user}/server", token)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_three_attendees_run_notebook_00_on_the_hub(hub):
    url, token, process, folder = hub
    for user in USERS:
        assert _http("GET", f"{url}/hub/api/users/{user}", token)[0] == 200  # from attendees.tsv
        status, answer = _http("POST", f"{url}/hub/api/users/{user}/server", token)
        assert status in (201, 202), (status, answer)
    for user in USERS:
        _wait_ready(url, token, user, process)

    for user in USERS:
        errors = _run_notebook(url, token, user)
        assert errors == [], f"{user}: {errors}\n" + (folder / "hub.log").read_text()[-3000:]
        seen = _kernel_variables(url, token, user)
        # each attendee on their own database of the shared server, cloned from the template
        assert seen == {"db": f"room_{user}", "classroom": "1", "user": user}
        assert (folder / "homes" / user / "notebooks" / NOTEBOOK).is_file()
