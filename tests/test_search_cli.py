"""`workshop search ...` from the shell: one line for what an attendee can fix, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.django_db


def workshop(*args: str) -> subprocess.CompletedProcess:
    from django.db import connection

    env = {**os.environ, "WORKSHOP_DB_NAME": connection.settings_dict["NAME"], "WORKSHOP_NO_DOCKER": "1"}
    return subprocess.run(
        [sys.executable, "-m", "workshop.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_malformed_query_is_one_line_and_exit_2():
    done = workshop("search", "query", 'lamp "frosted')
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        'workshop: unbalanced quote: the " at position 6 is never closed. Close the phrase.'
    ]


def test_status_lists_every_backend_and_says_why_one_is_unavailable():
    from workshop.search import zombodb

    # asked before and after: in CI, ZomboDB may be starting in the background meanwhile
    before = zombodb.unavailable_reason()
    done = workshop("search", "status")
    after = zombodb.unavailable_reason()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for backend in ("postgres", "outbox", "signals", "zombodb"):
        assert any(line.startswith(backend) for line in lines), done.stdout
    zombodb_line = next(line for line in lines if line.startswith("zombodb"))
    assert zombodb_line.split(None, 1)[1] in {f"unavailable: {r}" if r else "ok" for r in (before, after)}
