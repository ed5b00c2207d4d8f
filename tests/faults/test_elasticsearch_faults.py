"""Faults around the local Elasticsearch node, on a node of its own (own state folder, own
port; never the shared one on 9201): `workshop es up` interrupted and killed while the node
boots, the node killed and started again, a stale node.json naming a live unrelated
process. Skipped with the reason when no node can be installed here; required in CI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys

import pytest
from harness import SEED, Workshop, interrupt, one_line, private_parent  # tests/faults/harness.py

pytestmark = pytest.mark.faults


def _free_port() -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 100 < 65536:
            return port
    raise RuntimeError("no free port")


@pytest.fixture(scope="module")
def node():
    from workshop.errors import WorkshopError
    from workshop.services import es_node

    parent = private_parent()
    shop = Workshop(parent / "state")
    shop.env["WORKSHOP_ES_PORT"] = str(_free_port())
    shop.env["WORKSHOP_ANONYMIZE_KEY"] = "f" * 64  # must never reach the JVM
    try:
        es_node.install(shop.home)
    except WorkshopError as exc:
        shutil.rmtree(parent, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to install Elasticsearch: {exc}")
        pytest.skip(f"cannot install an Elasticsearch node here: {exc}")
    yield shop
    es_node.stop(shop.home)
    shutil.rmtree(parent, ignore_errors=True)


def _record(shop: Workshop) -> dict | None:
    try:
        return json.loads((shop.home / "elasticsearch" / "node.json").read_text())
    except (OSError, ValueError):
        return None


def _node_processes(shop: Workshop) -> list[int]:
    import psutil

    home = str(shop.home / "elasticsearch")
    return [p.pid for p in psutil.process_iter(attrs=("cmdline",)) if home in " ".join(p.info["cmdline"] or [])]


def test_es_up_interrupted_while_the_node_boots(node, tally):
    """Ctrl-C during `es up`: the half-started JVM is stopped, nothing is left running."""
    after = round(random.Random(SEED + 30).uniform(3.0, 6.0), 2)
    proc = node.spawn(node.command("es", "up"))
    code, _out, err = interrupt(proc, signal.SIGINT, after)
    message_ok = code == 130 and one_line(err)
    orphans = [f"node process {pid}" for pid in _node_processes(node)] + node.orphans(group=proc.pid)
    tally.record(
        f"es up SIGINT at {after}s", data_ok=_record(node) is None, orphans=orphans, message_ok=message_ok, next_ok=True
    )  # the next `es up` is the next test's


def test_es_up_killed_while_the_node_boots_then_the_node_killed(node, tally):
    """SIGKILL to `es up`: the node it launched is recorded, so the next `es up` adopts it
    (no second JVM). Then the node itself is killed: `es up` starts a new one."""
    after = round(random.Random(SEED + 31).uniform(6.0, 9.0), 2)  # later: the JVM is up, not yet healthy
    proc = node.spawn(node.command("es", "up"))
    interrupt(proc, signal.SIGKILL, after)
    again = node.run("es", "up")
    record = _record(node)
    next_ok = again.returncode == 0 and record is not None
    stray = [pid for pid in _node_processes(node) if record and pid not in node.services()]
    tally.record(f"es up SIGKILL at {after}s", data_ok=True, orphans=stray, message_ok=True, next_ok=next_ok)

    environ = open(f"/proc/{record['pid']}/environ", "rb").read().decode(errors="replace")
    assert "WORKSHOP_ANONYMIZE_KEY" not in environ and "f" * 64 not in environ

    os.killpg(record["pid"], signal.SIGKILL)  # the node dies mid-operation
    status = node.run("es", "status")
    message_ok = status.returncode == 1
    up = node.run("es", "up")
    down = node.run("es", "down")
    tally.record(
        "Elasticsearch node SIGKILL, restarted",
        data_ok=True,
        orphans=node.orphans(),
        message_ok=message_ok,
        next_ok=up.returncode == 0 and down.returncode == 0,
    )


def test_a_stale_node_record_naming_a_live_unrelated_process(node, tally):
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(node.home / "elasticsearch" / "elasticsearch-x")]
    )
    try:
        base = node.home / "elasticsearch"
        home = str(base / "elasticsearch-x")
        (base / "node.json").write_text(
            json.dumps({"pid": bystander.pid, "url": "http://127.0.0.1:1", "home": home, "started": 1700000000})
        )
        down = node.run("es", "down")
        message_ok = down.returncode == 0 and "No local Elasticsearch node" in down.stdout
        tally.record(
            "stale node.json -> live unrelated pid",
            data_ok=True,
            orphans=[],
            message_ok=message_ok,
            next_ok=bystander.poll() is None,
        )
    finally:
        bystander.kill()
        bystander.wait()
