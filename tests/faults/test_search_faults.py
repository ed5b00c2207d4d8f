"""Faults users meet while the search outbox relay runs, on a private workshop with its own
Elasticsearch node: the relay's database sessions cut (pg_terminate_backend) idle and in
the middle of a backlog, and the node paused (SIGSTOP) while products change and a search
runs, then resumed (SIGCONT). Outcomes: every change reaches the index, the relay survives,
a search on a paused node fails in one line, and works once resumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import psycopg
import pytest
from harness import Workshop, one_line, private_parent, with_node  # tests/faults/harness.py

pytestmark = pytest.mark.faults

PRODUCTS = "workshop-faults-outbox-product"  # es.prefix_for("faults", "outbox") + "-product"


@pytest.fixture(scope="module")
def search():
    """The tiny dataset, a node of its own, the outbox backend installed (no relay yet)."""
    from workshop.services import es_node
    from workshop.services.postgres import EmbeddedPostgres

    parent = private_parent()
    shop = with_node(Workshop(parent / "state"))
    try:
        for step in (("setup", "--size", "tiny", "--quiet"), ("es", "up"), ("search", "install", "outbox")):
            done = shop.run(*step)
            assert done.returncode == 0, (step, done.stderr)
        yield shop
    finally:
        EmbeddedPostgres(shop.home).stop()
        es_node.stop(shop.home)
        shutil.rmtree(parent, ignore_errors=True)


class RunningRelay:
    """`workshop search relay` in the foreground, its stderr in a file (read at any time);
    with `batch_size`, the relay module itself with that batch size (many short batches)."""

    def __init__(self, shop: Workshop, batch_size: int | None = None) -> None:
        self.shop = shop
        self.others = shop.sessions()  # whatever connects later while it runs is the relay
        self.log = shop.home / "relay.err"
        with open(self.log, "w") as err:
            command, env = shop.command("search", "relay"), shop.env
            if batch_size:
                command = [sys.executable, "-m", "workshop.search.relay", "--batch-size", str(batch_size)]
                command += ["--es-url", _node(shop)["url"], "--prefix", PRODUCTS.removesuffix("-product")]
                env = {**env, "WORKSHOP_SEARCH_RELAY_DSN": shop.url()}
            self.proc = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 90) -> None:
        """Until the relay is in its loop (its LISTEN session open, so it has found the node
        and drained once): a fault injected while it still starts tests its start-up instead."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.shop.url(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"the relay exited while starting: {self.errors()[-1500:]}"
                listening = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'workshop-search-relay %%' "
                    "AND query ILIKE 'LISTEN %%'"
                ).fetchone()[0]
                if listening:
                    return
                time.sleep(0.1)
        raise AssertionError(f"the relay did not start listening within {timeout:.0f} s: {self.errors()[-1500:]}")

    def stop(self) -> int:
        """Ctrl-C, as in a terminal; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)

    def errors(self) -> str:
        return self.log.read_text()


def _pending(shop: Workshop) -> int:
    with psycopg.connect(shop.url()) as conn:
        return conn.execute("SELECT count(*) FROM search_outboxevent").fetchone()[0]


def _titles(shop: Workshop) -> dict[int, str]:
    with psycopg.connect(shop.url()) as conn:
        return dict(conn.execute("SELECT id, title FROM shop_product").fetchall())


def _indexed(shop: Workshop) -> dict[int, str] | None:
    """{id: title} of every product document in the outbox backend's index."""
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import scan

    try:
        with Elasticsearch(_node(shop)["url"], request_timeout=30, max_retries=0) as es:
            es.indices.refresh(index=PRODUCTS)
            return {int(d["_id"]): d["_source"]["title"] for d in scan(es, index=PRODUCTS, _source=["title"])}
    except Exception:  # noqa: BLE001 (a node that does not answer has nothing to compare)
        return None


def _caught_up(shop: Workshop, timeout: float = 120) -> bool:
    """The outbox drained and the index holds exactly the products' titles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pending(shop) == 0 and _indexed(shop) == _titles(shop):
            return True
        time.sleep(0.5)
    return False


def _retitle(shop: Workshop, mark: str, count: int = 5) -> list[int]:
    """Append `mark` to the titles of `count` products (the triggers queue the events)."""
    with psycopg.connect(shop.url()) as conn:
        rows = conn.execute(
            "UPDATE shop_product SET title = title || ' ' || %s "
            "WHERE id IN (SELECT id FROM shop_product ORDER BY id LIMIT %s) RETURNING id",
            [mark, count],
        ).fetchall()
    return [r[0] for r in rows]


QUEUE_EVERYTHING = (  # a full reindex through the outbox, three times: a backlog of several batches
    "import workshop; workshop.setup(progress=False); from workshop.search import outbox\n"
    "for _ in range(3): outbox.queue_all()"
)


def _cut_mid_batch(shop: Workshop, relay: RunningRelay, timeout: float = 120) -> list[int]:
    """Cut the relay's session while it holds a batch's transaction open (rows claimed, the
    bulk request to Elasticsearch under way, nothing deleted yet); the pids really cut."""
    relays = list(shop.sessions() - relay.others)  # before the queueing process connects
    queue = shop.spawn([sys.executable, "-c", QUEUE_EVERYTHING])
    deadline = time.monotonic() + timeout
    with psycopg.connect(shop.url(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s) "
                "AND xact_start IS NOT NULL AND query ILIKE '%%search_outboxevent%%'",
                [relays],
            ).fetchall()
            cut = [pid for pid, done in rows if done]
            if cut or (queue.poll() is not None and _pending(shop) == 0):
                break
            time.sleep(0.005)
    assert queue.wait(timeout=120) == 0, queue.stderr.read()
    return cut


@pytest.mark.parametrize("moment", ["idle", "mid-batch"])
def test_the_relays_sessions_cut(search, tally, moment):
    """pg_terminate_backend of the relay's sessions, when it waits for NOTIFY (idle) or in
    the middle of a batch (sent, not yet deleted from the outbox): it reconnects, sends that
    batch again (the external versions make it harmless), nothing queued is lost, and later
    changes still arrive."""
    relay = RunningRelay(search, batch_size=None if moment == "idle" else 20)  # 42 batches of the backlog
    try:
        assert _caught_up(search), "the relay did not catch up before the fault"
        if moment == "idle":
            cut = search.cut(search.sessions() - relay.others)
        else:
            cut = _cut_mid_batch(search, relay)
        changed = _retitle(search, f"cut{moment}")
        data_ok = _caught_up(search)
        later = _retitle(search, f"after{moment}")
        next_ok = relay.proc.poll() is None and _caught_up(search) and bool(changed) and bool(later)
    finally:
        code = relay.stop()
    errors = relay.errors()
    tally.record(
        f"search relay sessions cut ({moment})",
        landed=bool(cut),
        why_not="no relay session found" + (" inside a batch" if moment != "idle" else ""),
        must_land=moment == "idle",
        data_ok=data_ok,
        orphans=search.orphans(group=relay.proc.pid),
        message_ok=code == 0 and "Traceback" not in errors or print(errors[-2000:]) or False,
        next_ok=next_ok,
    )


def test_elasticsearch_paused_then_resumed(search, tally):
    """SIGSTOP to the node (a laptop lid closed on a VM, a debugger, a GC pause): products
    change meanwhile, a search fails in one line instead of hanging; after SIGCONT the relay
    delivers every change and the search finds them."""
    pid = _node(search)["pid"]  # the JVM, leader of its own process group
    relay = RunningRelay(search)
    try:
        assert _caught_up(search), "the relay did not catch up before the fault"
        jvm = psutil.Process(pid)
        os.killpg(pid, signal.SIGSTOP)
        try:
            stopped = _wait_for(lambda: jvm.status() == psutil.STATUS_STOPPED)
            changed = _retitle(search, "pausemark", count=3)
            paused = search.run("search", "query", "pausemark", "--backend", "outbox", timeout=120)
            stopped = stopped and jvm.status() == psutil.STATUS_STOPPED  # still paused when it answered
        finally:
            os.killpg(pid, signal.SIGCONT)
        message_ok = paused.returncode == 2 and one_line(paused.stderr) and "does not answer" in paused.stderr
        data_ok = _caught_up(search)
        found = search.run("search", "query", "pausemark", "--backend", "outbox")
        next_ok = (
            relay.proc.poll() is None
            and found.returncode == 0
            and all(f" {i} " in found.stdout for i in changed)
            and f"{len(changed)} matches" in found.stdout
        )
    finally:
        code = relay.stop()
    tally.record(
        "Elasticsearch paused (SIGSTOP) and resumed",
        landed=stopped,
        why_not="the node was not seen stopped while the search ran",
        must_land=True,
        data_ok=data_ok,
        orphans=search.orphans(group=relay.proc.pid),
        message_ok=message_ok or print(paused.stdout, paused.stderr) or False,
        next_ok=(next_ok and code == 0) or print(found.stdout, found.stderr, relay.errors()[-1500:]) or False,
    )


def _wait_for(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _node(shop: Workshop) -> dict:
    return json.loads((shop.home / "elasticsearch" / "node.json").read_text())
