"""Test session: a real PostgreSQL (the embedded server unless WORKSHOP_DATABASE_URL is
set), Django configured the way notebooks configure it, the `tiny` dataset loaded into
pytest-django's test database (WORKSHOP_TEST_DATA_SIZE=workshop loads the notebooks' size
instead: `make test` runs the exercise tests a second time that way)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# The exercise tests (tests/test_<theme>_exercises.py) also run on the dataset the notebooks use:
# a check that passes its solution on `tiny` can refuse it on the notebook's data.
EXERCISE_TESTS = "test_*_exercises.py"
TEST_DATA_SIZE = os.environ.get("WORKSHOP_TEST_DATA_SIZE", "tiny")


# `make test` runs two lanes at once (tests/lanes.py): browser, room-run and Binder tests, and the rest.
LANE = os.environ.get("WORKSHOP_TEST_LANE", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.match(EXERCISE_TESTS):
            item.add_marker(pytest.mark.exercises)
    if LANE:
        from lanes import in_rooms

        if LANE not in ("rooms", "rest"):
            raise pytest.UsageError(f"WORKSHOP_TEST_LANE={LANE!r}: use rooms, rest, or leave it unset for every test")
        keep, other = [], []
        for item in items:
            (keep if in_rooms(item) == (LANE == "rooms") else other).append(item)
        config.hook.pytest_deselected(items=other)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str:
    return f"workshop dataset in the test database: {TEST_DATA_SIZE}"


def pytest_configure(config: pytest.Config) -> None:
    # A run started in the background by a non-interactive shell (`... &`, as CI scripts do)
    # inherits SIGINT ignored (POSIX), and so would every command the tests interrupt: the
    # Ctrl-C tests would see nothing happen. Python's own handler is what a terminal gives; a
    # handled signal is reset to the default at exec, so the tests' children get it too.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # Tests never probe the Docker stack's ports by accident: only what CI starts counts.
    os.environ.setdefault("WORKSHOP_NO_DOCKER", "1")
    from workshop import django_setup
    from workshop.services import postgres

    db = postgres.resolve()
    django_setup.configure(db.url)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Migrate the test database (pytest-django does) and load the dataset once (tiny by default)."""
    from workshop.shop.data import load

    with django_db_blocker.unblock():
        load.load(TEST_DATA_SIZE, progress=False)


@pytest.fixture(scope="module")
def es():
    """A client of the Elasticsearch node CI starts (`workshop es up`): a test using it fails
    in CI when the node is missing, and is skipped with the reason elsewhere."""
    from workshop.services import elasticsearch

    found = elasticsearch.find()
    if not found.available:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Elasticsearch: {found.problem}")
        pytest.skip(f"Elasticsearch not available: {found.problem}")
    return elasticsearch.client(found)


@pytest.fixture
def state_home():
    """A state folder of its own, outside pytest's tmp tree: servers run as other users
    (`pgserver`, `workshop-es`) when we are root and must be able to reach it, and pytest
    makes its tmp root private (0700) again whenever a pytest session starts."""
    import shutil
    import tempfile

    parent = Path(tempfile.mkdtemp(prefix="workshop-test-"))
    parent.chmod(0o755)
    home = parent / "state"
    yield home
    from workshop.services import es_node
    from workshop.services.postgres import EmbeddedPostgres

    if home.exists():
        EmbeddedPostgres(home).stop()
        es_node.stop(home)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def workshop_env(state_home: Path) -> dict[str, str]:
    """Environment for a child process with its own state folder (its own embedded server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    env.update({"WORKSHOP_HOME": str(state_home), "WORKSHOP_NO_DOCKER": "1", "WORKSHOP_DATA_SIZE": "tiny"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
