"""Only what the engine made is written or dropped: the helpers that write into a schema
their caller names refuse one without the engine's marker, a rebuild refuses to take along
(DROP ... CASCADE) a view someone made over the copy, and the blue team's detached authors
keep their key out of every statement the server logs."""

from __future__ import annotations

import pytest
from anonymize_support import checksum, drop, rows, schemas
from psycopg import sql

from workshop.anonymize import attacks, build, db, exercises, keys
from workshop.anonymize.target import suppress
from workshop.errors import WorkshopError

KEY = b"schema-ownership-key-0123456789"
pytestmark = pytest.mark.django_db
COPIED = ("shop_customer", "shop_order", "shop_orderitem", "shop_review")


@pytest.fixture
def hand_made():
    """A schema someone made by hand: the shop's tables copied, no marker."""
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA hand_made")
        for table in COPIED:
            conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                    sql.Identifier("hand_made", table), sql.Identifier("public", table)
                )
            )
    yield "hand_made"
    drop("hand_made")


def _contents(schema: str) -> dict:
    return {table: checksum(schema, table) for table in COPIED}


def test_helpers_refuse_a_schema_the_engine_did_not_make(hand_made):
    before = _contents(hand_made)
    customers = [r[0] for r in rows("SELECT id FROM hand_made.shop_customer ORDER BY id LIMIT 3")]
    attempts = {
        "detach_reviews": lambda: attacks.detach_reviews(hand_made, key=KEY),
        "suppress": lambda: suppress(customers, schema=hand_made),
        "plant_leaks": lambda: exercises.plant_leaks(into=hand_made),
    }
    for name, attempt in attempts.items():
        with pytest.raises(WorkshopError, match="was not made by workshop.anonymize") as error:
            attempt()
        assert "\n" not in str(error.value) and hand_made in str(error.value), name
    assert _contents(hand_made) == before  # nothing written, nothing dropped
    public = checksum("public", "shop_review")
    with pytest.raises(WorkshopError, match="was not made by workshop.anonymize"):
        attacks.detach_reviews("public", key=KEY)
    assert checksum("public", "shop_review") == public
    with pytest.raises(WorkshopError, match="no schema 'nowhere'"):
        suppress(customers, schema="nowhere")


def test_plant_leaks_marks_its_copy_and_replaces_only_that():
    try:
        first = exercises.plant_leaks(into="planted_twice")
        assert first >= 4 and exercises.plant_leaks(into="planted_twice") == first  # its own: replaced
        assert rows("SELECT obj_description('planted_twice'::regnamespace)")[0][0].endswith("by workshop.anonymize")
    finally:
        drop("planted_twice")


def test_a_rebuild_refuses_to_drop_a_view_someone_made_over_the_copy():
    build(target="anon_viewed", key=KEY, progress=False)
    try:
        with db.connect() as conn:
            conn.execute("CREATE VIEW public.my_customers AS SELECT id, email FROM anon_viewed.shop_customer")
        copy = checksum("anon_viewed", "shop_customer")
        with pytest.raises(WorkshopError) as error:
            build(target="anon_viewed", key=KEY, progress=False)
        message = str(error.value)
        assert "\n" not in message and "public.my_customers" in message and "anon_viewed" in message
        assert rows("SELECT count(*) FROM public.my_customers")[0][0] > 0  # the view is still there...
        assert checksum("anon_viewed", "shop_customer") == copy  # ...over the previous copy, untouched
        assert "anon_viewed__building" not in schemas()
    finally:
        with db.connect() as conn:
            conn.execute("DROP VIEW IF EXISTS public.my_customers")
        drop("anon_viewed")


def test_the_chapter_reset_refuses_too_and_drops_nothing():
    from django.db import transaction

    from workshop.anonymize.reset import reset

    exercises.plant_leaks(into="planted_viewed")
    try:
        with db.connect() as conn:
            conn.execute("CREATE VIEW public.my_reviews AS SELECT body FROM planted_viewed.shop_review")
        with pytest.raises(WorkshopError, match="(?i)view public.my_reviews depends on schema 'planted_viewed'"):
            with transaction.atomic():  # reset runs in Django's (the test's) transaction
                reset()
                transaction.set_rollback(True)  # had it dropped anything: undone, its locks released
        assert "planted_viewed" in schemas() and rows("SELECT count(*) FROM public.my_reviews")[0][0] > 0
    finally:
        with db.connect() as conn:
            conn.execute("DROP VIEW IF EXISTS public.my_reviews")
        drop("planted_viewed")


def test_detached_authors_keep_their_key_out_of_the_server_log():
    """With log_statement = all the server logs every statement and its parameters (here
    sent to the client too, client_min_messages = log, so the test reads exactly what the
    log gets): the derived key must be in neither."""
    build(target="anon_logged", key=KEY, progress=False)
    derived = keys.derive(keys.check(KEY), "review-authors")
    logged = []
    try:
        with db.connect() as conn:
            conn.add_notice_handler(lambda d: logged.append(f"{d.message_primary} {d.message_detail or ''}"))
            for setting in ("log_statement = 'all'", "client_min_messages = 'log'", "log_parameter_max_length = -1"):
                conn.execute(sql.SQL("SET " + setting))  # constants
            moved = attacks.detach_reviews("anon_logged", key=KEY, conn=conn)
        assert moved == rows("SELECT count(*) FROM anon_logged.shop_review")[0][0]
        text = "\n".join(logged)
        assert "UPDATE" in text  # the statements were logged
        for form in (derived.hex(), derived.hex().upper(), "\\x" + derived.hex()):
            assert form not in text
    finally:
        drop("anon_logged")
