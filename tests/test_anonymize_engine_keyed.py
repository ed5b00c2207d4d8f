"""Every random draw of the engine is keyed (issue 13 item 1): Noise offsets, Fake picks
by row and Shuffle orders cannot be recomputed from the code alone. Each test recomputes
the draw with the formula an attacker without the key has (the previous, unkeyed one:
hashint8extended(pk, seed) / hashtextextended(pk, seed)) and finds (almost) no match,
where that formula matched every row before; another key gives other draws."""

from __future__ import annotations

import zlib

import pytest

from workshop.anonymize import Fake, Noise, Shuffle, db, pools, preview
from workshop.anonymize.rules import get_model

KEY = b"keyed-draws-test-key-0123456789"
OTHER_KEY = b"another-keyed-draws-key-0123456"
pytestmark = pytest.mark.django_db


def unkeyed(query: str, ids: list[int], *args) -> dict:
    with db.connect() as conn:
        return dict(conn.execute(query, [*args, ids]).fetchall())


def test_noise_cannot_be_recomputed_without_the_key():
    import datetime

    amount = 30
    frame = preview("shop.Customer", "birth_date", Noise(amount), limit=400, key=KEY)
    ids = [int(i) for i in frame.index]
    offsets = {
        i: (datetime.date.fromisoformat(a) - datetime.date.fromisoformat(b)).days
        for i, b, a in zip(ids, frame.before, frame.after)
    }
    assert all(-amount <= o <= amount for o in offsets.values()) and len(set(offsets.values())) > 20
    old = unkeyed(
        "SELECT id, floor(mod(abs(hashint8extended(id, %s)), 1000000)::float8 / 1000000 * %s)::int - %s "
        "FROM public.shop_customer WHERE id = ANY(%s)",
        ids,
        0 * 1_000_003 + zlib.crc32(b"birth_date"),
        2 * amount + 1,
        amount,
    )
    same = sum(old[i] == o for i, o in offsets.items())
    assert same < len(ids) * 0.1  # chance alone: 1 in 61 rows
    other = preview("shop.Customer", "birth_date", Noise(amount), limit=400, key=OTHER_KEY)
    assert (other.after != frame.after).mean() > 0.8


def test_fake_picks_by_row_cannot_be_recomputed_without_the_key():
    frame = preview("shop.Customer", "first_name", Fake("first_name"), limit=400, key=KEY)
    ids = [int(i) for i in frame.index]
    field = get_model("shop.Customer")._meta.get_field("first_name")
    with db.connect() as conn:
        originals = {r[0] for r in conn.execute("SELECT first_name FROM public.shop_customer")}
    pool = [v for v in pools.draw("first_name", "en_US", 0, 1000, field.max_length) if v not in originals]
    old = unkeyed(
        "SELECT id, mod(abs(hashint8extended(id, %s)), %s) FROM public.shop_customer WHERE id = ANY(%s)",
        ids,
        0,
        len(pool),
    )
    assert set(frame.after) <= set(pool)
    same = sum(pool[old[i]] == after for i, after in zip(ids, frame.after))
    assert same < len(ids) * 0.1  # chance alone: about 1 in len(pool)
    other = preview("shop.Customer", "first_name", Fake("first_name"), limit=400, key=OTHER_KEY)
    assert (other.after != frame.after).mean() > 0.8


def test_shuffle_cannot_be_undone_without_the_key():
    frame = preview("shop.Customer", "email", Shuffle(seed=3), limit=400, key=KEY)
    ids = [int(i) for i in frame.index]
    old = unkeyed(
        "SELECT a.pk, b.v FROM (SELECT id AS pk, row_number() OVER (ORDER BY id) AS n FROM public.shop_customer) a "
        "JOIN (SELECT email AS v, row_number() OVER (ORDER BY hashtextextended(id::text, %s), id) AS n "
        "FROM public.shop_customer) b USING (n) WHERE a.pk = ANY(%s)",
        ids,
        3,
    )
    assert sorted(frame.after) == sorted(frame.before)  # still a permutation of the column
    assert sum(old[i] == after for i, after in zip(ids, frame.after)) < 5
    other = preview("shop.Customer", "email", Shuffle(seed=3), limit=400, key=OTHER_KEY)
    assert (other.after != frame.after).mean() > 0.9
