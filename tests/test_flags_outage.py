"""The flags with PostgreSQL down: checks answer at once (the declared defaults before the
first load, the last definitions loaded after it), and the listener survives, reconnects and
says where it is. A real server that is stopped and started again, and an address where no
server listens; no mocks. No Django here: the store needs only psycopg. (The listener's
connection terminated by the server, a failing callback and `workshop flags status` are in
test_flags_store.py.)"""

from __future__ import annotations

import psycopg
from flags_helpers import until  # the helper only: its autouse fixture needs Django's database

from workshop.flags import schema
from workshop.flags.client import FlagClient
from workshop.flags.store import LISTENING, RECONNECTING, FlagStore

# The three tables the store reads, as migration 0001 makes them (the columns it reads).
TABLES = """
CREATE TABLE flags_flagdefinition (id bigserial PRIMARY KEY, key varchar(100) UNIQUE NOT NULL,
    enabled boolean NOT NULL DEFAULT true, everyone boolean NOT NULL DEFAULT false,
    percentage numeric(5, 2) NOT NULL DEFAULT 0, fully_on_since timestamptz);
CREATE TABLE flags_flagdefinition_users (flagdefinition_id bigint, user_id integer);
CREATE TABLE flags_flagdefinition_groups (flagdefinition_id bigint, group_id integer);
CREATE TABLE auth_user_groups (user_id integer, group_id integer);
INSERT INTO flags_flagdefinition (key, everyone) VALUES ('new_checkout', true);
INSERT INTO flags_flagdefinition (key) VALUES ('staff_tools');
INSERT INTO flags_flagdefinition_groups SELECT id, 7 FROM flags_flagdefinition WHERE key = 'staff_tools';
INSERT INTO auth_user_groups VALUES (42, 7);
"""


def test_with_no_server_at_boot_checks_answer_their_declared_defaults(tmp_path):
    nowhere = {"host": str(tmp_path), "dbname": "workshop", "user": "workshop"}  # a socket folder, no server
    store = FlagStore(nowhere).start()  # returns after the first attempt; it used to raise after 10 s
    try:
        client = FlagClient(store, on_unknown="error")  # "error": still no UnknownFlagError, nothing is loaded
        assert client.is_on("new_checkout", default=True) is True
        assert client.is_on("new_checkout", default=False) is False
        status = store.status()
        assert status.state == RECONNECTING and not status.ok and status.loaded_at is None
        assert status.failures >= 1 and "No such file" in status.error, status
        assert "nothing loaded yet" in str(status)
        assert store._thread.is_alive(), "the listener keeps trying"
    finally:
        store.stop()


def test_a_stopped_server_leaves_the_last_definitions_and_the_listener_comes_back(state_home):
    from workshop.services.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(state_home)
    url = server.start().url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLES)
    store = FlagStore(url, refresh_seconds=30, max_pause=0.5).start()
    try:
        client = FlagClient(store, on_unknown="error")
        assert store.status().ok and client.is_on("new_checkout") is True
        member, stranger = client.context_for_user_id(42), client.context_for_user_id(43)
        assert client.is_on("staff_tools", context=member) is True  # group 7: its groups read once
        server.stop()
        assert until(lambda: store.status().state == RECONNECTING), store.status()
        assert client.is_on("new_checkout") is True, "the last definitions loaded still answer"
        queries = store.memberships.queries
        assert client.is_on("staff_tools", context=client.context_for_user_id(42)) is True, "the groups last read"
        assert client.is_on("staff_tools", context=stranger) is False, "a user never read: no groups, no error"
        assert store.memberships.queries == queries, "no attempt to reach the stopped server on a check"
        assert set(store.definitions) == {"new_checkout", "staff_tools"} and store.status().flags == 2
        server.start()
        assert until(lambda: store.status().state == LISTENING), store.status()
        assert store.status().reconnects == 1
        with psycopg.connect(url, autocommit=True) as conn:
            with conn.transaction():  # migration 0002's trigger is not here: NOTIFY by hand
                conn.execute("UPDATE flags_flagdefinition SET enabled = false")
                conn.execute(f"NOTIFY {schema.CHANNEL}")
        assert store.wait_for(lambda d: not d["new_checkout"].enabled, timeout=15), "listening again"
        assert client.is_on("new_checkout") is False
    finally:
        store.stop()
        server.stop()
