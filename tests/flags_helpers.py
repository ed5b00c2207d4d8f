"""Fixtures shared by the tests/test_flags_*.py modules: flags committed for real (the store
and other processes read only committed rows, and NOTIFY fires only on commit), and a store
listening to the test database."""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest

__all__ = ["committed", "flag_key", "run_committed", "stop_the_process_listener", "store", "until"]

_counter = itertools.count()


def run_committed(func, *args, **kwargs):
    """Run func in a thread of its own: its own Django connection, in autocommit, so what it
    writes is committed (the test's own connection is inside a transaction rolled back later)."""
    from django.db import connections

    result: dict = {}

    def target() -> None:
        try:
            result["value"] = func(*args, **kwargs)
        except BaseException as error:  # re-raised in the test's thread
            result["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def until(condition, timeout: float = 30.0) -> bool:
    """Poll a condition the listener thread makes true (a wait, not a timing assert)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def flag_key():
    """A flag name no other test (or earlier run) uses."""
    return f"t_{os.getpid()}_{next(_counter)}"


@pytest.fixture
def committed(flag_key):
    """define() committed for real; every flag it made is deleted after the test."""
    from workshop import flags

    made: set[str] = set()

    def define(key: str = flag_key, **fields):
        made.add(key)
        return run_committed(flags.define, key, **fields)

    yield define
    for key in made:
        run_committed(flags.delete, key)


@pytest.fixture(scope="session", autouse=True)
def stop_the_process_listener(django_db_setup):
    """The process's flag client listens on the test database: stop it before pytest-django
    drops that database (it refuses while a session is connected)."""
    yield
    from workshop.flags.client import shutdown

    shutdown()


@pytest.fixture
def store(django_db_setup):
    from workshop.flags.client import conninfo
    from workshop.flags.store import FlagStore

    listening = FlagStore(conninfo(), refresh_seconds=30).start()
    yield listening
    listening.stop()
