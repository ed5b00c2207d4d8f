# ruff: noqa: F811  (pytest fixtures imported from search_support are redefined as arguments)
"""The relay's operation against the real node: an event Elasticsearch refuses does not
stop the queue and ends in the dead-letter table; one relay at a time (a second one waits,
and takes over when the first dies); a relay process exits when its parent dies; a lost
index is re-filled by install()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from search_support import committed, es_url, installed, make_product, prefix  # noqa: F401 (fixtures)

from workshop.search import api, consistency, outbox
from workshop.search.relay import Relay

pytestmark = pytest.mark.elasticsearch


def relay_for(es, prefix, **options) -> Relay:
    return Relay(outbox.dsn(), es_url(es), prefix, **options)


def wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def lock_holders() -> set[str]:
    """application_name of the sessions holding the one-relay advisory lock."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (hashtext('workshop.search.relay')::bigint & 4294967295)"
        )
        return {row[0] for row in cur.fetchall()}


@pytest.mark.django_db
def test_the_dead_letter_table_exists():
    """(Also the django_db test that makes pytest-django create the test database.)"""
    from workshop.search.models import DeadLetter

    assert DeadLetter.objects.count() == 0


def test_a_refused_event_lets_the_queue_flow_then_lands_in_the_dead_letter_table(es, prefix, installed):
    from django.db import connection

    poisoned = make_product("Poisoned lamp")
    with connection.cursor() as cur:  # a field the strict mapping does not know (a newer payload, say)
        cur.execute(
            "UPDATE search_outboxevent SET payload = payload || '{\"colour\": \"red\"}' WHERE object_id = %s AND kind = 'product'",
            [poisoned.pk],
        )
    behind = [make_product(f"Behind the poison {i}") for i in range(3)]
    relay = relay_for(es, prefix, max_attempts=3)
    relay.drain()
    for product in behind:  # the queue behind the refused event flowed
        assert es.get(index=f"{prefix}-product", id=product.pk)["_source"]["title"] == product.title
    status = outbox.backlog()
    assert (status.pending, status.refused, status.dead_letters) == (1, 1, 0), status
    from workshop.search.models import DeadLetter, OutboxEvent

    # refused with the first batch, then again alone (a batch that moves nothing ends the drain)
    assert OutboxEvent.objects.get().attempts == 2
    assert relay.run_once() == 1  # the third refusal sets it aside
    status = outbox.backlog()
    assert (status.pending, status.dead_letters) == (0, 1), status
    letter = DeadLetter.objects.get()
    assert (letter.kind, letter.object_id, letter.attempts) == ("product", poisoned.pk, 3)
    assert "colour" in letter.error and "strict" in letter.error
    assert relay.stats.dead_letters == 1 and relay.stats.refused == 3
    assert "1 dead letters" in str(status)
    # fixed (here: nothing to fix in the row itself): queue it again as it is now
    assert outbox.requeue_dead_letters() == 1
    relay.drain()
    relay.close()
    assert outbox.backlog().dead_letters == 0
    assert consistency.compare_elasticsearch(es, prefix).total == 0


def test_status_shows_the_outbox_depth_age_and_dead_letters(installed):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE search_outboxevent SET created_at = now() - interval '90 seconds'")
        cur.execute(
            "INSERT INTO search_deadletter (event_id, kind, object_id, op, attempts, error, created_at, failed_at) "
            "VALUES (1, 'product', 1, 'index', 5, 'refused', now(), now())"
        )
    depth = outbox.pending()
    env = {**os.environ, "WORKSHOP_DB_NAME": connection.settings_dict["NAME"], "WORKSHOP_NO_DOCKER": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "search", "status"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("outbox triggers"))
    assert f"{depth:,} pending" in line and "1 dead letters" in line
    assert line.endswith("no relay running (start one: `workshop search relay`)")  # old events, nobody shipping
    age = float(line.split("oldest ")[1].split(" s old")[0].replace(",", ""))
    assert age >= 90


def test_a_second_relay_waits_while_the_first_holds_the_outbox(es, prefix, installed):
    first, second = relay_for(es, prefix, batch_size=10), relay_for(es, prefix)
    assert first.run_once() == 10  # holds the lock from now on
    assert outbox.backlog().relay == f"workshop-search-relay {os.getpid()}"
    before = outbox.pending()
    assert before > 0
    assert second.drain(lock_wait=0) == 0 and second.stats.standby  # ships nothing while the first lives
    assert outbox.pending() == before
    with pytest.raises(Exception, match="another relay holds the outbox"):
        second.drain(lock_wait=0.5)
    first.close()  # the first goes away (its connection ends: so does its lock)
    assert second.drain() == before and not second.stats.standby
    second.close()
    assert consistency.compare_elasticsearch(es, prefix).total == 0


def test_two_relay_processes_one_ships_the_other_takes_over_when_it_dies(es, prefix, installed):
    relays = [outbox.spawn(es_url(es), prefix) for _ in range(2)]
    try:
        names = {f"workshop-search-relay {p.pid}": p for p in relays}
        assert wait_until(lambda: outbox.pending() == 0 and len(lock_holders()) == 1)
        products = [make_product(f"Two relays {i}") for i in range(20)]
        for step, product in enumerate(products * 3):
            product.title = f"Two relays {product.pk} step {step}"
            product.save()
        holders = lock_holders()
        assert len(holders) == 1 and holders <= names.keys()  # exactly one of the two
        active = names[holders.pop()]
        standby = next(p for p in relays if p is not active)
        active.send_signal(signal.SIGKILL)
        active.wait(timeout=30)
        products[0].delete()
        for product in products[1:]:
            product.title += " after the takeover"
            product.save()
        assert wait_until(lambda: lock_holders() == {f"workshop-search-relay {standby.pid}"})
        assert wait_until(lambda: outbox.pending() == 0)
    finally:
        for p in relays:
            p.terminate()
            p.wait(timeout=30)
    assert consistency.compare_elasticsearch(es, prefix).total == 0


PARENT = """
import sys, time
from workshop.search import relay
child = relay.spawn(sys.argv[1], sys.argv[2], sys.argv[3])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_relay_process_exits_when_its_parent_dies(es, prefix, installed):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, outbox.dsn(), es_url(es), prefix], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline() or 0)
    try:
        assert child, "the parent did not start a relay"
        assert wait_until(lambda: f"workshop-search-relay {child}" in lock_holders())  # it runs
        parent.send_signal(signal.SIGKILL)  # the kernel dies
        parent.wait(timeout=30)
        assert wait_until(lambda: not alive(child), seconds=15), "the relay outlived its parent"
    finally:
        if child and alive(child):
            os.kill(child, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_install_refills_a_lost_index(es, prefix, installed, monkeypatch):
    monkeypatch.setattr(api, "prefix", lambda backend: prefix)
    relay = relay_for(es, prefix)
    relay.drain()
    es.indices.delete(index=f"{prefix}-product")  # lost (deleted by hand, a node wiped)
    make_product("Written after the loss")  # the relay's write re-creates the index with a guessed mapping
    relay.drain()
    assert es.indices.exists(index=f"{prefix}-product")
    assert consistency.compare_elasticsearch(es, prefix).missing > 0
    print(api.install("outbox", relay=False))
    relay.drain()
    relay.close()
    mapping = es.indices.get_mapping(index=f"{prefix}-product")[f"{prefix}-product"]["mappings"]
    assert mapping["dynamic"] == "strict"  # ours again
    assert consistency.compare_elasticsearch(es, prefix).total == 0
