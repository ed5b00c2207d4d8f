"""build(renumber=True): every integer primary key gets a keyed new number, the same in
every foreign key onto it; original ids do not come back; collisions are still fixed."""

from __future__ import annotations

import pytest
from anonymize_support import rows
from psycopg import sql

from workshop.anonymize import build, db, keys, renumber, sqlhash
from workshop.anonymize.shop_rules import NATIONAL_ID

KEY = b"renumber-test-key-0123456789"
OTHER_KEY = b"renumber-other-key-012345678"
pytestmark = pytest.mark.django_db


def national_id_pseudonym(value: str) -> str:
    tables = sqlhash.feistel_tables(keys.derive(KEY, "hmac"), f"fpe|{NATIONAL_ID.template}", 10**4, 10**4)
    y = sqlhash.feistel_python(int(value[1:].replace("-", "")), tables, 10**4, 10**4)
    return f"9{y // 10**6:02d}-{y // 10**4 % 100:02d}-{y % 10**4:04d}"


@pytest.fixture(scope="module")
def renumbered(django_db_setup, django_db_blocker):
    """A copy with renumbered ids, built over a planted national-id collision (restored after)."""
    with django_db_blocker.unblock(), db.connect() as conn:
        (d, d_nid), (e, e_nid) = conn.execute(
            "SELECT id, national_id FROM public.shop_customer ORDER BY id LIMIT 2"
        ).fetchall()
        first_draw = national_id_pseudonym(e_nid)
        try:
            conn.execute("UPDATE public.shop_customer SET national_id = %s WHERE id = %s", [first_draw, d])
            build(target="anon_renum", key=KEY, progress=False, renumber=True)
            yield {"e": e, "first_draw": first_draw}
        finally:
            conn.execute("UPDATE public.shop_customer SET national_id = %s WHERE id = %s", [d_nid, d])
            conn.execute("DROP SCHEMA IF EXISTS anon_renum CASCADE")
            conn.execute("DROP SCHEMA IF EXISTS anon_renum2 CASCADE")


def test_every_foreign_key_follows_its_row(renumbered):
    hmac_key = keys.derive(KEY, "hmac")
    new_customer = lambda i: renumber.forward(hmac_key, "shop_customer", i)  # noqa: E731
    source = rows(
        "SELECT o.id, o.customer_id, c.email FROM public.shop_order o JOIN public.shop_customer c ON c.id = o.customer_id"
    )
    copy = {
        r[0]: r[1:]
        for r in rows(
            "SELECT o.id, o.customer_id, c.email FROM anon_renum.shop_order o JOIN anon_renum.shop_customer c ON c.id = o.customer_id"
        )
    }
    assert len(copy) == len(source)
    for order, customer, email in source:
        copied_customer, copied_email = copy[renumber.forward(hmac_key, "shop_order", order)]
        assert copied_customer == new_customer(customer)
        assert copied_email == sqlhash.hmac_python(hmac_key, email).hex()[:16] + "@example.com"  # the same person
    assert (
        rows(
            "SELECT count(*) FILTER (WHERE NOT convalidated), count(*) FROM pg_constraint "
            "WHERE connamespace = 'anon_renum'::regnamespace AND contype = 'f'"
        )[0][0]
        == 0
    )


def test_original_ids_do_not_come_back_and_the_key_decides(renumbered):
    for table in ("shop_customer", "shop_order", "shop_product", "auth_user"):
        source = {r[0] for r in rows(sql.SQL("SELECT id FROM {}").format(sql.Identifier("public", table)))}
        copy = {r[0] for r in rows(sql.SQL("SELECT id FROM {}").format(sql.Identifier("anon_renum", table)))}
        assert len(copy) == len(source) and len(copy & source) <= 1  # 2^30 possible ids: overlap is chance
    build(target="anon_renum2", key=OTHER_KEY, progress=False, renumber=True, only=["shop.Customer"])
    ids = {r[0] for r in rows("SELECT id FROM anon_renum.shop_customer")}
    other = {r[0] for r in rows("SELECT id FROM anon_renum2.shop_customer")}
    assert len(ids & other) <= 1


def test_identities_continue_and_collisions_are_still_redrawn(renumbered):
    nid = rows(
        "SELECT national_id FROM anon_renum.shop_customer WHERE id = %s",
        [renumber.forward(keys.derive(KEY, "hmac"), "shop_customer", renumbered["e"])],
    )[0][0]
    assert nid != renumbered["first_draw"]  # that is customer d's real id
    assert nid not in {r[0] for r in rows("SELECT national_id FROM public.shop_customer")}
    with db.connect() as conn, conn.transaction(force_rollback=True):
        top = conn.execute("SELECT max(id) FROM anon_renum.shop_category").fetchone()[0]
        new_id = conn.execute(
            "INSERT INTO anon_renum.shop_category (name, slug) VALUES ('x', 'x') RETURNING id"
        ).fetchone()[0]
        assert new_id > top
