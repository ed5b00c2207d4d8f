"""The in-memory store and its invalidation: NOTIFY across processes, nothing seen from a
rolled-back transaction, the periodic refresh, and what a TTL cache gets wrong meanwhile."""

from __future__ import annotations

import select
import tomllib
from pathlib import Path

import psycopg
import pytest
from flags_helpers import *  # noqa: F403  (fixtures: committed, flag_key, store, ...)

from workshop.flags import processes, schema
from workshop.flags.client import conninfo
from workshop.flags.store import FlagStore
from workshop.flags.ttl import TTLFlagCache

pytestmark = pytest.mark.django_db


def test_the_sql_names_match_the_models():
    from workshop.flags.models import FlagDefinition

    assert FlagDefinition._meta.db_table == schema.TABLE
    assert FlagDefinition.users.through._meta.db_table == schema.USERS_TABLE
    assert FlagDefinition.groups.through._meta.db_table == schema.GROUPS_TABLE


def test_a_committed_flip_reaches_every_worker_process(committed, flag_key):
    committed(percentage=0)
    with processes.Workers(conninfo(), flag_key, count=3) as workers:
        seen = workers.flip(percentage=35.0)  # raises TimeoutError if a worker never sees it
        again = workers.flip(enabled=False)
    assert len(seen["notify"]) == 3 and len(again["notify"]) == 3


def test_a_flip_in_a_rolled_back_transaction_is_never_seen(committed, flag_key, store):
    committed(percentage=10)
    committed(f"{flag_key}_sentinel", percentage=0)
    assert store.wait_for(lambda d: f"{flag_key}_sentinel" in d)
    versions = []
    store.listeners.append(lambda old, new: versions.append(new.get(flag_key)))
    with psycopg.connect(**conninfo()) as conn:  # not autocommit: one transaction
        conn.execute(f"UPDATE {schema.TABLE} SET enabled = false WHERE key = %s", [flag_key])
        conn.rollback()
    # NOTIFYs arrive in commit order: once the sentinel's flip is seen, the rolled-back one
    # would have been seen before it, had it been sent.
    processes.commit_flip(conninfo(), f"{flag_key}_sentinel", percentage=1.0)
    assert store.wait_for(lambda d: d[f"{flag_key}_sentinel"].percentage == 1.0)
    assert all(v.enabled for v in versions) and store.get(flag_key).enabled


def test_the_periodic_refresh_catches_up_without_notify(committed, flag_key):
    committed(percentage=5)
    quiet = FlagStore(conninfo(), refresh_seconds=0.2)
    quiet._listen = _refresh_only.__get__(quiet)  # as if every NOTIFY were lost
    quiet.start()
    try:
        assert quiet.get(flag_key).percentage == 5
        processes.commit_flip(conninfo(), flag_key, percentage=60.0)
        assert quiet.wait_for(lambda d: d[flag_key].percentage == 60, timeout=10)
    finally:
        quiet.stop()


def _refresh_only(self, conn) -> None:
    """FlagStore._listen without LISTEN's notifications: only the periodic full reload."""
    conn.execute(f"UNLISTEN {schema.CHANNEL}")
    while not self._stop.wait(self.refresh_seconds):
        self.load(conn)


def test_a_ttl_cache_keeps_answering_the_old_flag(committed, flag_key, store):
    committed(percentage=100)
    cache = TTLFlagCache(conninfo(), ttl=3600)
    try:
        assert cache.get(flag_key).percentage == 100 and cache.queries == 1
        processes.commit_flip(conninfo(), flag_key, enabled=False)
        assert store.wait_for(lambda d: not d[flag_key].enabled)  # the NOTIFY store obeys...
        assert cache.get(flag_key).enabled, "...the TTL cache still serves the old definition"
        cache.ttl = 0
        assert not cache.get(flag_key).enabled and cache.queries == 2  # and pays a query to refresh
    finally:
        cache.close()


def test_the_listener_survives_a_failing_change_callback(committed, flag_key, store):
    committed(percentage=5)
    assert store.wait_for(lambda d: flag_key in d)

    def broken(old, new):
        raise RuntimeError("a widget's callback has a bug")

    store.listeners.append(broken)
    processes.commit_flip(conninfo(), flag_key, percentage=6.0)
    assert store.wait_for(lambda d: d[flag_key].percentage == 6)
    processes.commit_flip(conninfo(), flag_key, percentage=7.0)
    assert store.wait_for(lambda d: d[flag_key].percentage == 7), "the listener died with the callback"
    assert store.listening and store.status().ok


def test_a_terminated_listener_connection_reconnects_and_says_so(committed, flag_key, store):
    committed(percentage=5)
    assert store.wait_for(lambda d: flag_key in d)
    with psycopg.connect(**conninfo(), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'workshop.flags listener' AND datname = current_database()"
        ).fetchall()
    assert killed
    processes.commit_flip(conninfo(), flag_key, percentage=78.0)
    assert store.wait_for(lambda d: d[flag_key].percentage == 78, timeout=15)
    assert store.status().ok and store.status().reconnects >= 1


def test_the_status_command_reports_the_listener(capsys):
    from workshop.cli import main

    assert main(["flags", "status"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("this process: listening:"), said
    listeners = int(said.rsplit(":", 1)[1])
    assert listeners >= 1, said


def test_a_notification_that_arrives_before_the_reload_statement_is_kept(committed, flag_key):
    """The listener reloads on its LISTEN connection. psycopg before 3.2.4 dropped every
    notification read while another statement ran on that connection (psycopg release notes,
    3.2.4, ticket #962), so a flip committed during the reload waited for the periodic refresh.
    Made deterministic: the notification is on the listener's socket before the reload runs."""
    committed(percentage=5)
    reloading = FlagStore(conninfo())  # not started: the test drives the listener's connection
    with reloading._connect() as conn:
        conn.execute(f"LISTEN {schema.CHANNEL}")
        processes.commit_flip(conninfo(), flag_key, percentage=6.0)
        readable, _, _ = select.select([conn.fileno()], [], [], 10)
        assert readable, "the NOTIFY never reached the listener's socket"
        reloading.load(conn)  # the reload's SELECT reads the socket first
        heard = [n.payload for n in conn.notifies(timeout=2, stop_after=1)]
    assert heard == [schema.TABLE], f"the notification was dropped by the reload (psycopg {psycopg.__version__})"


def test_the_psycopg_pin_excludes_the_versions_that_drop_notifications():
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    (psycopg_pin,) = [r for r in map(Requirement, pyproject["project"]["dependencies"]) if r.name == "psycopg"]
    assert not psycopg_pin.specifier.contains("3.2.3"), psycopg_pin
    assert psycopg_pin.specifier.contains(psycopg.__version__), "the installed psycopg is outside the pin"


def test_percentile():
    assert processes.percentile([1, 2, 3, 4, 5], 50) == 3
    assert processes.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
