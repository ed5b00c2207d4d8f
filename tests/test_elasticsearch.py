"""Smoke test against a real Elasticsearch node: index shop products, refresh, search,
highlight. CI starts the node (`make test` -> `workshop es up`) and this test fails there
if it is missing; elsewhere it is skipped with the reason."""

from __future__ import annotations

import os
import uuid

import pytest

from workshop.services import elasticsearch
from workshop.shop.models import Product


@pytest.fixture
def index(es):
    name = f"test-products-{uuid.uuid4().hex[:8]}"
    es.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={
            "properties": {
                "title": {"type": "text"},
                "description": {"type": "text"},
                "brand": {"type": "keyword"},
                # the test distribution lacks mapper-extras: no scaled_float
                "price": {"type": "float"},
            }
        },
    )
    yield name
    es.indices.delete(index=name)


def test_the_node_is_the_major_version_the_client_speaks(es):
    from importlib.metadata import version

    health = es.cluster.health()
    assert health["status"] in ("green", "yellow")
    assert (
        elasticsearch.find().version.split(".")[0] == version("elasticsearch").split(".")[0] == str(elasticsearch.MAJOR)
    )


@pytest.mark.django_db
def test_index_refresh_search_and_highlight_shop_products(es, index):
    from elasticsearch.helpers import bulk

    products = list(Product.objects.order_by("id")[:40])
    actions = [
        {
            "_index": index,
            "_id": p.id,
            "_source": {"title": p.title, "description": p.description, "brand": p.brand, "price": float(p.price)},
        }
        for p in products
    ]
    indexed, errors = bulk(es, actions)
    assert indexed == len(products) and not errors
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == len(products)

    target = products[7]
    word = max(target.title.split()[1:], key=len).strip(",")  # a distinctive word of one title
    found = es.search(index=index, query={"match": {"title": word}}, highlight={"fields": {"title": {}}})
    hits = found["hits"]["hits"]
    assert str(target.id) in {h["_id"] for h in hits}
    expected = {str(p.id) for p in products if word.lower() in p.title.lower().replace(",", " ").split()}
    assert {h["_id"] for h in hits} == expected
    highlighted = next(h for h in hits if h["_id"] == str(target.id))["highlight"]["title"][0]
    assert f"<em>{word}</em>".lower() in highlighted.lower()


def test_a_malformed_query_string_is_a_clear_error_not_a_crash(es, index):
    from elasticsearch import BadRequestError

    with pytest.raises(BadRequestError):
        es.search(index=index, query={"query_string": {"query": "title:(unbalanced"}})


def test_a_node_on_this_machine_is_found_even_behind_an_http_proxy(es, unused_tcp_port):
    """Behind a corporate proxy, http_proxy is set for everything; urllib would send the
    health check for 127.0.0.1 to the proxy (here a dead port) and find nothing. A fresh
    process: urllib builds its default opener, with the proxies of that moment, only once."""
    import subprocess
    import sys

    url = elasticsearch.find().url
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update({name: f"http://127.0.0.1:{unused_tcp_port}" for name in ("http_proxy", "HTTP_PROXY")})
    env["WORKSHOP_ELASTICSEARCH_URL"] = url
    code = "from workshop.services import elasticsearch as e; f = e.find(); print(f.url or f.problem)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == url
