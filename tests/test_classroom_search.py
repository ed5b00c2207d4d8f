"""One Elasticsearch node for the room: each attendee's indexes carry their own database's
name, and the workshop's API refuses another attendee's index (tried from two attendees'
processes on a real node)."""

from __future__ import annotations

import pytest

from tests.classroom_support import room_fixture  # noqa: F401 (the `room` fixture)
from workshop.classroom import names

ALICE = """
import time
from workshop import search
from workshop.shop.models import Product
search.install("signals")
product = Product.objects.order_by("pk").first()
product.title = "Zanzibarlamp of a kind"
product.save()
for _ in range(60):
    found = search.products().search("zanzibarlamp", backend="signals").count()
    if found:
        break
    time.sleep(0.25)
print(json.dumps(found))
"""

BOB = """
from workshop import search
from workshop.errors import WorkshopError
from workshop.search import api, es as es_side
from workshop.search.documents import PRODUCT
search.install("signals")
mine = search.products().search("zanzibarlamp", backend="signals").count()
try:
    es_side.search(api.es_client(), es_side.prefix_for(%r, "signals"), PRODUCT, search.parse("zanzibarlamp"), size=5)
    refused = ""
except WorkshopError as exc:
    refused = str(exc)
print(json.dumps([mine, refused]))
"""


def test_an_attendee_finds_their_own_documents_and_cannot_search_anothers_index(room, es):
    alice, bob = f"a{room.tag}", f"b{room.tag}"
    if room.es_url is None:
        pytest.fail("the room found no Elasticsearch although the es fixture did")
    assert room.run(alice, ALICE) == 1
    mine, refused = room.run(bob, BOB % names.database_for(alice))
    assert mine == 0  # bob's index is his own copy: alice's change is not in it
    assert "is not one of yours" in refused and "\n" not in refused
    assert es.indices.exists(index=f"workshop-{names.database_for(alice)}-signals-product")
