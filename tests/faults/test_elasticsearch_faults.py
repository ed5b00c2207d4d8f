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
import subprocess
import sys

import pytest
from harness import (  # tests/faults/harness.py
    SEED,
    Workshop,
    interrupt,
    private_parent,
    quiet_after_kill,
    said_interrupted,
    with_node,
)

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def node():
    from workshop.services import es_node

    parent = private_parent()
    shop = with_node(Workshop(parent / "state"))
    shop.env["WORKSHOP_ANONYMIZE_KEY"] = "f" * 64  # must never reach the JVM
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


KEPT = "faults-kept"  # an index written once the node is up: it must survive every fault
KEPT_DOCS = 200


def _es(node: Workshop):
    from elasticsearch import Elasticsearch

    return Elasticsearch(_record(node)["url"], request_timeout=30, max_retries=0)


def _kept(node: Workshop) -> int | None:
    """Documents in the kept index (None: no node or no index)."""
    try:
        with _es(node) as es:
            return es.count(index=KEPT)["count"]
    except Exception:  # noqa: BLE001 (no record, no node, no index: nothing kept)
        return None


def test_es_up_interrupted_while_the_node_boots(node, tally):
    """Ctrl-C during `es up`: the half-started JVM is stopped, nothing is left running; the
    next `es up` starts a node (which then gets the documents the later faults must keep)."""
    after = round(random.Random(SEED + 30).uniform(3.0, 6.0), 2)
    proc = node.spawn(node.command("es", "up"))
    shot = interrupt(proc, signal.SIGINT, after)
    message_ok = said_interrupted(shot)
    orphans = [f"node process {pid}" for pid in _node_processes(node)] + node.orphans(group=proc.pid)
    data_ok = _record(node) is None  # no record of a node that is not running
    up = node.run("es", "up")
    next_ok = up.returncode == 0 and _record(node) is not None
    if next_ok:
        from elasticsearch.helpers import bulk

        with _es(node) as es:
            bulk(es, ({"_index": KEPT, "_id": str(i), "n": i} for i in range(KEPT_DOCS)), refresh=True)
        next_ok = _kept(node) == KEPT_DOCS
    down = node.run("es", "down")  # the next test boots a node of its own
    tally.record(
        f"es up SIGINT at {after}s",
        landed=shot.landed,
        why_not=shot.why_not,
        data_ok=data_ok,
        orphans=orphans,
        message_ok=message_ok,
        next_ok=(next_ok and down.returncode == 0) or print(up.stdout[-800:], up.stderr[-1500:]) or False,
    )


def test_es_up_killed_while_the_node_boots_then_the_node_killed(node, tally):
    """SIGKILL to `es up`: the node it launched is recorded, so the next `es up` adopts it
    (no second JVM). Then the node itself is killed: `es up` starts a new one, and the
    documents indexed before both faults are all there."""
    import psutil

    after = round(random.Random(SEED + 31).uniform(6.0, 9.0), 2)  # later: the JVM is up, not yet healthy
    proc = node.spawn(node.command("es", "up"))
    shot = interrupt(proc, signal.SIGKILL, after)
    again = node.run("es", "up")
    record = _record(node)
    next_ok = again.returncode == 0 and record is not None
    stray = [pid for pid in _node_processes(node) if record and pid not in node.services()]
    tally.record(
        f"es up SIGKILL at {after}s",
        landed=shot.landed,
        why_not=shot.why_not,
        data_ok=_kept(node) == KEPT_DOCS,
        orphans=stray,
        message_ok=quiet_after_kill(shot.err, again),
        next_ok=next_ok,
    )

    environ = open(f"/proc/{record['pid']}/environ", "rb").read().decode(errors="replace")
    assert "WORKSHOP_ANONYMIZE_KEY" not in environ and "f" * 64 not in environ

    jvm = psutil.Process(record["pid"])
    os.killpg(record["pid"], signal.SIGKILL)  # the node dies mid-operation
    try:
        jvm.wait(timeout=30)
        died = True
    except psutil.TimeoutExpired:
        died = False
    status = node.run("es", "status")
    message_ok = status.returncode == 1 and one_line_out(status)
    up = node.run("es", "up")
    data_ok = up.returncode == 0 and _kept(node) == KEPT_DOCS  # the translog is replayed
    down = node.run("es", "down")
    tally.record(
        "Elasticsearch node SIGKILL, restarted",
        landed=died,
        why_not="the node outlived SIGKILL",
        must_land=True,
        data_ok=data_ok,
        orphans=node.orphans(),
        message_ok=message_ok or print(status.stdout, status.stderr) or False,
        next_ok=up.returncode == 0 and down.returncode == 0,
    )


def one_line_out(done: subprocess.CompletedProcess) -> bool:
    """`es status` reports on stdout: one line, no traceback."""
    text = done.stdout + done.stderr
    return len([line for line in text.splitlines() if line.strip()]) == 1 and "Traceback" not in text


def test_a_stale_node_record_naming_a_live_unrelated_process(node, tally):
    """node.json names a live process that is not a node (a pid reused after a reboot): `es
    down` must not signal it, and `es up` starts a real node anyway, the kept documents in it."""
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", str(node.home / "elasticsearch" / "elasticsearch-x")]
    )
    try:
        base = node.home / "elasticsearch"
        home = str(base / "elasticsearch-x")
        (base / "node.json").write_text(
            json.dumps({"pid": bystander.pid, "url": "http://127.0.0.1:1", "home": home, "started": 1700000000})
        )
        planted = bystander.poll() is None and _record(node)["pid"] == bystander.pid
        down = node.run("es", "down")
        message_ok = down.returncode == 0 and "No local Elasticsearch node" in down.stdout
        spared = bystander.poll() is None
        up = node.run("es", "up")
        next_ok = up.returncode == 0 and _record(node)["pid"] != bystander.pid
        data_ok = spared and _kept(node) == KEPT_DOCS
        stop = node.run("es", "down")
        tally.record(
            "stale node.json -> live unrelated pid",
            landed=planted,
            why_not="the planted record did not name the live bystander",
            must_land=True,
            data_ok=data_ok,
            orphans=[o for o in node.orphans() if not o.startswith(f"{bystander.pid}:")],  # it is ours to end
            message_ok=message_ok,
            next_ok=next_ok and stop.returncode == 0,
        )
    finally:
        bystander.kill()
        bystander.wait()
