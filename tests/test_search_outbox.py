# ruff: noqa: F811  (pytest fixtures imported from search_support are redefined as arguments)
"""The outbox backend against the real Elasticsearch node: only committed changes arrive,
replays and out-of-order batches never make a document older, a relay killed with
SIGKILL at any point resumes without loss or duplicates, and Elasticsearch going away
gives one clear line while the relay catches up when it is back."""

from __future__ import annotations

import random
import signal
import socket
import time

import pytest
from django.db import transaction
from search_support import committed, es_url, installed, make_product, prefix  # noqa: F401 (fixtures)

from workshop.search import consistency, outbox
from workshop.search.relay import CRASH_ENV, Relay

pytestmark = pytest.mark.elasticsearch


def relay_for(es, prefix, url=None) -> Relay:
    return Relay(outbox.dsn(), url or es_url(es), prefix)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_the_triggers_write_the_outbox_in_the_writing_transaction():
    """(Also the django_db test that makes pytest-django create the test database.)"""
    from django.db import connection

    outbox.install(backfill=False)
    outbox.install(backfill=False)  # idempotent
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'search_outbox_%'")
        assert cur.fetchone()[0] == 11  # insert, update, delete, truncate on products and reviews; category changes (3)
    before = outbox.pending()
    product = make_product("Outboxed lamp")
    product.title = "Outboxed lamp, renamed"
    product.save()
    from workshop.search.models import OutboxEvent

    events = list(OutboxEvent.objects.order_by("-id")[:2])
    assert outbox.pending() == before + 2
    assert [e.payload["title"] for e in events] == ["Outboxed lamp, renamed", "Outboxed lamp"]
    assert events[0].id > events[1].id and {e.object_id for e in events} == {product.pk}


def test_the_analyzer_is_english_exactly_when_the_node_has_it(es, prefix):
    from elasticsearch import BadRequestError

    from workshop.search import es as es_side

    try:
        es.indices.analyze(analyzer="english", text="x")
        has_english = True
    except BadRequestError:
        has_english = False
    chosen = es_side.choose_analyzer(es)
    assert chosen.name == ("english" if has_english else "standard")
    assert "English analyzer" in chosen.reason  # it says which, and why
    index = es_side.index_name(prefix, "product")
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["title"]["analyzer"] == chosen.name == mapping["_meta"]["analyzer"]
    tokens = [t["token"] for t in es.indices.analyze(index=index, field="title", text="Running Lamps")["tokens"]]
    assert tokens == (["run", "lamp"] if has_english else ["running", "lamps"])


def test_only_committed_changes_reach_elasticsearch(es, prefix, installed):
    relay = relay_for(es, prefix)
    kept = make_product("Glimmerwick committed lamp")
    try:
        with transaction.atomic():
            make_product("Glimmerwick rolled back lamp")
            raise RuntimeError
    except RuntimeError:
        pass
    relay.drain()
    relay.close()
    assert consistency.compare_elasticsearch(es, prefix).total == 0
    from workshop.search import es as es_side
    from workshop.search.query import parse

    found = es_side.search(es, prefix, outbox.KINDS["product"], parse("glimmerwick"), size=10)
    assert found["ids"] == [kept.pk]


def test_a_replayed_or_older_event_never_makes_a_document_older(es, prefix, installed):
    relay = relay_for(es, prefix)
    relay.drain()
    product = make_product("Version one")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT max(id) FROM search_outboxevent")
        first_event = cur.fetchone()[0]
        cur.execute("SELECT kind, object_id, op, payload FROM search_outboxevent WHERE id = %s", [first_event])
        old_event = cur.fetchone()
    product.title = "Version two"
    product.save()
    relay.drain()
    index = f"{prefix}-product"
    assert es.get(index=index, id=product.pk)["_source"]["title"] == "Version two"
    # the old event again (a replay after a crash, or a slow relay's late batch)
    relay._send([(first_event, *old_event)])
    assert relay.stats.conflicts >= 1
    doc = es.get(index=index, id=product.pk)
    assert doc["_source"]["title"] == "Version two" and doc["_version"] > first_event
    relay.close()
    assert consistency.compare_elasticsearch(es, prefix).total == 0


@pytest.mark.parametrize("point", ["before_bulk", "after_bulk", "after_commit"])
def test_a_relay_killed_at_any_point_resumes_without_loss_or_duplicates(es, prefix, installed, point):
    import os

    products = [make_product(f"Killtest {point} {i}") for i in range(30)]
    for p in products[:10]:
        p.title += " updated"
        p.save()
    products[-1].delete()
    before = outbox.pending()
    crashed = outbox.spawn(es_url(es), prefix, env={**os.environ, CRASH_ENV: point})
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    left = outbox.pending()
    assert (left == before) if point != "after_commit" else (0 <= left < before)
    resumed = outbox.spawn(es_url(es), prefix, once=True)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert outbox.pending() == 0
    result = consistency.compare_elasticsearch(es, prefix)
    assert result.total == 0, result  # nothing lost, nothing extra, nothing stale
    assert es.count(index=f"{prefix}-product")["count"] == outbox.KINDS["product"].model().objects.count()


def test_sigkill_at_a_random_moment_under_writes(es, prefix, installed):
    rng = random.Random(7)
    relay = outbox.spawn(es_url(es), prefix)
    try:
        products = [make_product(f"Randomkill {i}") for i in range(40)]
        for step in range(120):
            p = rng.choice(products)
            p.title = f"Randomkill {p.pk} step {step}"
            p.save()
            if step == 60:
                time.sleep(rng.uniform(0, 0.3))
                relay.send_signal(signal.SIGKILL)
                relay.wait(timeout=30)
                relay = outbox.spawn(es_url(es), prefix)
    finally:
        relay.terminate()
        relay.wait(timeout=30)
    drained = outbox.spawn(es_url(es), prefix, once=True)
    drained.communicate(timeout=120)
    assert consistency.compare_elasticsearch(es, prefix).total == 0


def test_elasticsearch_away_then_back_the_relay_catches_up(es, prefix, installed):
    away = relay_for(es, prefix, url=f"http://127.0.0.1:{closed_port()}")
    product = make_product("Away and back lamp")
    with pytest.raises(Exception) as caught:
        away.run_once()
    assert "Connection" in type(caught.value).__name__
    assert outbox.pending() > 0  # kept for later, nothing lost
    away.close()
    back = relay_for(es, prefix)
    back.drain()
    back.close()
    assert outbox.pending() == 0
    assert es.get(index=f"{prefix}-product", id=product.pk)["_source"]["title"] == "Away and back lamp"
    assert consistency.compare_elasticsearch(es, prefix).total == 0


def test_the_relay_thread_recovers_by_itself_when_elasticsearch_returns(es, prefix, installed):
    """A relay thread (as in the notebook) pointed at a node that is down keeps retrying
    and says why; the same thread's next attempts succeed once the node answers."""
    import threading

    relay = relay_for(es, prefix, url=f"http://127.0.0.1:{closed_port()}")
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        product = make_product("Comeback lamp")
        deadline = time.time() + 20
        while not relay.stats.last_error and time.time() < deadline:
            time.sleep(0.05)
        assert "Connection" in relay.stats.last_error
        relay.es_url = es_url(es)  # the node is back (same effect as it restarting on that port)
        relay._es = None
        deadline = time.time() + 30
        while outbox.pending() and time.time() < deadline:
            time.sleep(0.05)
        assert outbox.pending() == 0
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert es.get(index=f"{prefix}-product", id=product.pk)["_source"]["title"] == "Comeback lamp"


def test_the_search_api_says_clearly_when_elasticsearch_goes_away(es, prefix, installed, monkeypatch):
    from workshop.errors import WorkshopError
    from workshop.search import api
    from workshop.search import es as es_side

    monkeypatch.setattr(api, "prefix", lambda backend: prefix)
    relay = relay_for(es, prefix)
    relay.drain()
    relay.close()
    es.indices.refresh(index=f"{prefix}-product")
    assert api.products().search("lamp", backend="outbox").exists()
    # mid-session: the cached client's node stops answering
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setattr(api, "_clients", {dead: es_side.client(dead)})
    with pytest.raises(WorkshopError) as caught:
        api.products().search("lamp", backend="outbox")
    message = str(caught.value)
    assert "does not answer" in message and "workshop es up" in message and "\n" not in message
    # and when none is found at all
    monkeypatch.setenv("WORKSHOP_ELASTICSEARCH_URL", dead)
    with pytest.raises(WorkshopError, match="not available"):
        api.products().search("lamp", backend="outbox")


def test_elasticsearch_queries_relevance_chaining_facets_highlights_typos(es, prefix, installed, monkeypatch):
    from workshop.search import api

    monkeypatch.setattr(api, "prefix", lambda backend: prefix)
    in_title = make_product("Quillfeather reading lamp", "warm light")
    in_text = make_product("Reading light", "shaped like a quillfeather, quillfeather bright", price=90)
    relay = relay_for(es, prefix)
    relay.drain()
    relay.close()
    es.indices.refresh(index=f"{prefix}-*")
    qs = api.products().search("quillfeather", backend="outbox")
    assert list(qs) == [in_title, in_text] and qs[0].score > qs[1].score  # the title weighs more
    assert list(qs.filter(price__gt=50)) == [in_text]  # chained ORM filter
    assert qs.facets() == {in_title.category.name: 2}
    row = qs.results(1)[0]
    assert "<mark>Quillfeather</mark>" in row["highlights"]["title"]
    assert api.products().search("quilfeather", backend="outbox").count() == 0
    fuzzy = api.products().search("quilfeather", backend="outbox", fuzzy=True)
    assert set(fuzzy) == {in_title, in_text} and fuzzy.search_state.fuzzy
    # JSON typed into the box is searched as words (none of them in any product), never as a query:
    # spliced into the DSL, match_all would return every product
    hostile = api.products().search('{"query": {"match_all": {}}} quillfeather', backend="outbox")
    assert hostile.count() == 0
