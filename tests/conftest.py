"""Test session: a real PostgreSQL (the embedded server unless WORKSHOP_DATABASE_URL is
set), Django configured the way notebooks configure it, the `tiny` dataset loaded into
pytest-django's test database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Tests never probe the Docker stack's ports by accident: only what CI starts counts.
    os.environ.setdefault("WORKSHOP_NO_DOCKER", "1")
    from workshop import django_setup
    from workshop.services import postgres

    db = postgres.resolve()
    django_setup.configure(db.url)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Migrate the test database (pytest-django does) and load the tiny dataset once."""
    from workshop.shop.data import load

    with django_db_blocker.unblock():
        load.load("tiny", progress=False)


@pytest.fixture
def workshop_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a child process with its own state folder (its own embedded server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    env.update({"WORKSHOP_HOME": str(tmp_path / "state"), "WORKSHOP_NO_DOCKER": "1", "WORKSHOP_DATA_SIZE": "tiny"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    yield env
    from workshop.services.postgres import EmbeddedPostgres

    if (tmp_path / "state").exists():
        EmbeddedPostgres(tmp_path / "state").stop()


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
