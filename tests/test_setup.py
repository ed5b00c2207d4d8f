"""workshop.setup() as a notebook uses it: in fresh processes, twice, after a restart,
and interrupted in the middle of a load."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from workshop.errors import WorkshopError

SETUP = """
import json, workshop
status = workshop.setup(progress=False)
print(json.dumps({"source": status.database_source, "dataset": status.dataset, "migrations": len(status.migrations_applied),
                  "customers": status.row_counts.get("shop_customer"), "text": str(status)}))
"""


def run_setup(env, script=SETUP) -> dict:
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_setup_is_idempotent_across_processes(workshop_env):
    first = run_setup(workshop_env)
    assert first["source"] == "embedded"
    assert first["dataset"].startswith("tiny") and first["customers"] == 400
    assert first["migrations"] > 0
    second = run_setup(workshop_env)  # a restarted kernel
    assert second["migrations"] == 0 and second["customers"] == 400
    assert "PostgreSQL" in second["text"] and "Elasticsearch" in second["text"]


def test_setup_twice_in_one_process_and_status_renders(workshop_env):
    script = """
import json, workshop
a = workshop.setup(progress=False)
b = workshop.setup(progress=False)
assert b.migrations_applied == ()
assert "<table>" in b._repr_html_()
print(json.dumps({"same": a.database == b.database, "customers": b.row_counts["shop_customer"]}))
"""
    assert run_setup(workshop_env, script) == {"same": True, "customers": 400}


def test_unknown_size_fails_before_anything_starts(workshop_env, state_home):
    script = "import workshop\ntry:\n    workshop.setup('huge')\nexcept workshop.WorkshopError as e:\n    print(e)\n"
    done = subprocess.run([sys.executable, "-c", script], env=workshop_env, capture_output=True, text=True, timeout=60)
    assert "Unknown dataset size 'huge'" in done.stdout
    assert not (state_home / "pgdata").exists()


def test_another_database_in_the_same_process_asks_for_a_kernel_restart():
    from workshop import django_setup

    with pytest.raises(WorkshopError, match="(?i)restart the kernel"):
        django_setup.configure("postgresql://someone@127.0.0.1:1/elsewhere")


def test_an_interrupted_load_leaves_the_previous_dataset_ready(workshop_env):
    import psycopg

    run_setup(workshop_env)  # tiny dataset loaded and ready
    url = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "db", "url"],
        env=workshop_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cli = [sys.executable, "-m", "workshop.cli", "data", "load", "--size", "workshop", "--quiet"]
    loader = subprocess.Popen(cli, env=workshop_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Kill it while it is writing order items: well past the first tables, long before COMMIT.
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and loader.poll() is None:
                copying = conn.execute("SELECT relid::regclass::text FROM pg_stat_progress_copy").fetchall()
                if ("shop_orderitem",) in copying:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("never saw the loader COPY order items")
        loader.send_signal(signal.SIGKILL)  # a laptop lid closing, a kernel killed: no cleanup at all
    finally:
        loader.wait(timeout=30)
    after = run_setup(workshop_env)
    assert after["dataset"].startswith("tiny") and after["customers"] == 400


def test_setup_recovers_after_db_reset_in_the_middle_of_a_session(workshop_env):
    script = """
import json, subprocess, sys, workshop
workshop.setup(progress=False)
from workshop.shop.models import Customer
before = Customer.objects.count()
subprocess.run([sys.executable, "-m", "workshop.cli", "db", "reset"], check=True, capture_output=True)
status = workshop.setup(progress=False)  # what the notebook's first cell does when run again
print(json.dumps({"before": before, "after": Customer.objects.count(), "migrated": len(status.migrations_applied)}))
"""
    result = run_setup(workshop_env, script)
    assert result["before"] == result["after"] == 400
    assert result["migrated"] > 0  # the database really was dropped and rebuilt


def test_a_cell_run_before_setup_says_what_to_run(workshop_env):
    script = """
import json, workshop
try:
    from workshop.shop.models import Customer
except workshop.WorkshopError as exc:
    message = str(exc)
workshop.setup(progress=False)
from workshop.shop.models import Customer  # and the same import works once set up
print(json.dumps({"message": message, "customers": Customer.objects.count()}))
"""
    result = run_setup(workshop_env, script)
    assert "workshop.setup()" in result["message"] and "first code cell" in result["message"]
    assert result["customers"] == 400


def test_the_shop_package_imports_without_django_and_its_models_load_lazily(workshop_env):
    script = """
import json, workshop
import workshop.shop  # what `workshop bench` and the CLI do: no Django needed
try:
    from workshop.shop import Customer
except workshop.WorkshopError as exc:
    message = str(exc)
workshop.setup(progress=False)
from workshop.shop import Customer
print(json.dumps({"message": message, "customers": Customer.objects.count()}))
"""
    result = run_setup(workshop_env, script)
    assert "first code cell" in result["message"]
    assert result["customers"] == 400


def test_an_interrupted_marker_write_leaves_no_empty_marker(tmp_path, monkeypatch):
    """Two kernels start at once: one writes the state marker while the other reads it. A
    reader must never see an empty ("corrupt") marker: it is written to a temporary file
    and renamed. Interrupting the write shows that nothing half-written is left."""
    import os

    from workshop.services import state

    folder = tmp_path / "state"
    folder.mkdir()  # an empty folder named by WORKSHOP_HOME: the marker is written into it

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        state.home(folder)
    assert not (folder / state.MARKER).exists()
    assert [p.name for p in folder.iterdir()] == []  # no temporary file left either
    monkeypatch.undo()
    assert state.home(folder) == folder and (folder / state.MARKER).read_text()


def test_many_processes_creating_the_same_state_folder_at_once_all_succeed(tmp_path):
    """Each of them must find either no folder or a folder with its marker: never an empty
    marker ("corrupt") nor a folder without one ("not made by the workshop")."""
    import threading

    from workshop.services import state

    for attempt in range(20):
        folder = tmp_path / f"state{attempt}"
        errors = []

        def create(folder=folder, errors=errors):
            try:
                state.home(folder)
            except Exception as exc:  # noqa: BLE001 (collected and shown)
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"state{n}" for n in sorted(range(20), key=str)]


def test_the_cheap_migration_check_agrees_with_djangos_plan(db):
    """setup() skips Django's migration plan when every migration file is recorded as applied;
    one unrecorded migration sends it back to the plan, which names exactly that one."""
    from django.db import connection

    from workshop import django_setup

    assert django_setup._all_recorded() and django_setup.pending_migrations() == []
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("DELETE FROM django_migrations WHERE app = 'shop' AND name = '0001_initial'")
    assert not django_setup._all_recorded()
    assert django_setup.pending_migrations() == ["shop.0001_initial"]
