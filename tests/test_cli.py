"""The `workshop` command, run as attendees run it: as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def workshop(*args: str, env=None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workshop.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_doctor_passes_on_this_machine(workshop_env):
    done = workshop("doctor", env=workshop_env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("Python", "packages", "PostgreSQL", "Elasticsearch", "JupyterLab", "widget extension", "kernel"):
        assert any(name in line for line in lines), name
    assert all(line.split()[0] in ("ok", "warn", "FAIL") for line in lines)


def test_doctor_fails_with_a_fix_when_the_database_does_not_answer(workshop_env, unused_tcp_port):
    env = {**workshop_env, "WORKSHOP_DATABASE_URL": f"postgresql://x@127.0.0.1:{unused_tcp_port}/x"}
    done = workshop("doctor", env=env)
    assert done.returncode == 1
    line = next(row for row in done.stdout.splitlines() if "PostgreSQL" in row)
    assert line.startswith("FAIL") and "unset WORKSHOP_DATABASE_URL" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (("data", "load", "--size", "huge"), "Unknown dataset size 'huge'"),
        (("bench", "no-such-bench"), "Unknown benchmark no-such-bench"),
    ],
)
def test_bad_input_is_one_line_that_says_what_to_do(workshop_env, args, message):
    done = workshop(*args, env=workshop_env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and "choose" in done.stderr.lower()


def test_db_lifecycle_up_url_down_reset(workshop_env, state_home):
    assert "ready (embedded)" in workshop("db", "up", env=workshop_env).stdout
    url = workshop("db", "url", env=workshop_env).stdout.strip()
    assert url.startswith("postgresql://") and str(state_home) in url
    assert workshop("db", "down", env=workshop_env).stdout.startswith("Embedded PostgreSQL stopped")
    assert "was not running" in workshop("db", "down", env=workshop_env).stdout
    assert "dropped" in workshop("db", "reset", env=workshop_env).stdout
    assert "deleted" in workshop("db", "reset", "--hard", env=workshop_env).stdout
    assert not (state_home / "pgdata").exists()


def test_data_load_reports_rows_per_second_and_is_idempotent(workshop_env):
    first = workshop("data", "load", "--size", "tiny", "--quiet", env=workshop_env)
    assert first.returncode == 0 and "rows/s" in first.stdout
    second = workshop("data", "load", "--size", "tiny", "--quiet", env=workshop_env)
    assert "already loaded" in second.stdout


def test_psql_runs_a_query(workshop_env):
    workshop("db", "up", env=workshop_env)
    url = workshop("db", "url", env=workshop_env).stdout.strip()
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "db", "psql"],
        input="SELECT 40 + 2;\n",
        env={**workshop_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "42" in done.stdout, done.stderr + url


@pytest.mark.slow
def test_bench_setup_writes_the_promised_json(workshop_env, tmp_path):
    out = tmp_path / "bench.json"
    done = workshop("bench", "setup", "--json", str(out), env=workshop_env)
    assert done.returncode == 0, done.stderr
    results = {r["name"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"setup.cold_seconds", "setup.warm_seconds", "data.load_rows_per_second"}
    assert all({"name", "value", "unit", "baseline", "ratio"} <= set(r) for r in results.values())
    assert results["setup.cold_seconds"]["value"] > results["setup.warm_seconds"]["value"] > 0
    assert "setup.warm_seconds" in done.stdout


# --- hardening (issue 12) ------------------------------------------------------------------


def _private_server(workshop_env) -> str:
    done = workshop("db", "up", env=workshop_env)
    assert done.returncode == 0, done.stderr
    return workshop("db", "url", env=workshop_env).stdout.strip()


def _databases(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_db_reset_with_a_database_url_drops_the_database_the_url_names(workshop_env):
    from workshop.services import postgres

    server = postgres.Database(_private_server(workshop_env), "url")
    postgres.ensure_database(server, "in_use")
    postgres.ensure_database(server, "bystander")
    env = {
        **workshop_env,
        "WORKSHOP_DATABASE_URL": postgres.with_database(server.url, "in_use"),
        "WORKSHOP_DB_NAME": "bystander",
    }
    refused = workshop("db", "reset", env=env)
    assert refused.returncode == 2 and "'in_use'" in refused.stderr and "--yes" in refused.stderr
    done = workshop("db", "reset", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "'in_use' dropped" in done.stdout
    names = _databases(server.url)
    assert "in_use" not in names and "bystander" in names


@pytest.mark.parametrize("named_by", ["dbname in the query", "PGDATABASE"])
def test_db_reset_drops_the_database_libpq_connects_to(workshop_env, named_by):
    """libpq reads the database from ?dbname= (over the path) and, when the URL names none,
    from PGDATABASE: reset drops the one the server says it is connected to."""
    from workshop.services import postgres

    server = postgres.Database(_private_server(workshop_env), "url")  # postgresql://postgres:@/workshop?host=...
    for name in ("in_use", "bystander"):
        postgres.ensure_database(server, name)
    env = {**workshop_env, "WORKSHOP_DB_NAME": "bystander"}
    if named_by == "PGDATABASE":
        env |= {"WORKSHOP_DATABASE_URL": postgres.with_database(server.url, ""), "PGDATABASE": "in_use"}
    else:
        env["WORKSHOP_DATABASE_URL"] = postgres.with_database(server.url, "bystander") + "&dbname=in_use"
    done = workshop("db", "reset", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "'in_use' dropped" in done.stdout
    names = _databases(server.url)
    assert "in_use" not in names and "bystander" in names


def test_db_reset_refuses_to_drop_the_servers_own_database(workshop_env):
    from workshop.services import postgres

    url = postgres.with_database(_private_server(workshop_env), "postgres")
    done = workshop("db", "reset", "--yes", env={**workshop_env, "WORKSHOP_DATABASE_URL": url})
    assert done.returncode == 2 and "server's own database" in done.stderr and done.stderr.count("\n") == 1
    assert "postgres" in _databases(url)


def test_psql_gets_the_password_neither_in_argv_nor_in_its_environment(workshop_env):
    """`ps` shows every account's argv, and /proc/<pid>/environ is inherited by what psql
    starts: the password travels in a private passfile. (The embedded server trusts local
    connections, so the password is accepted and ignored.)"""
    from workshop.services import postgres

    url = _private_server(workshop_env)
    secret = "s3cr3t-hardening-pw"
    parts = url.split("://", 1)[1].split("@", 1)
    with_password = f"postgresql://postgres:{secret}@{parts[1]}"
    env = {**workshop_env, "WORKSHOP_DATABASE_URL": with_password, "PGPASSWORD_PROBE": "x"}
    script = (
        "\\! tr '\\0' ' ' < /proc/$PPID/cmdline; echo; tr '\\0' '\\n' < /proc/$PPID/environ\nSELECT 40 + 2 AS answer;\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "db", "psql"],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout and "psql" in done.stdout  # the query ran, the probe saw psql's argv
    assert secret not in done.stdout + done.stderr
    assert "PGPASSFILE=" in done.stdout and "PGPASSWORD_PROBE" not in done.stdout  # allow-listed environment
    assert postgres.redact(with_password) != with_password


def test_workshop_debug_shows_the_cause_behind_the_one_line_error(workshop_env, unused_tcp_port):
    env = {**workshop_env, "WORKSHOP_DATABASE_URL": f"postgresql://x@127.0.0.1:{unused_tcp_port}/x"}
    plain = workshop("db", "url", env=env)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = workshop("db", "url", env={**env, "WORKSHOP_DEBUG": "1"})
    assert debug.returncode == 2
    assert "Caused by:" in debug.stderr and "psycopg" in debug.stderr  # the error the line replaced
    assert debug.stderr.splitlines()[-1] == plain.stderr.strip()  # the one line still ends it


def test_a_corrupt_state_folder_suggests_a_command_that_fixes_it(workshop_env, state_home):
    assert workshop("db", "up", env=workshop_env).returncode == 0
    workshop("db", "down", env=workshop_env)
    (state_home / ".django-workshop-state").write_text("")  # what a non-atomic write could leave
    broken = workshop("db", "up", env=workshop_env)
    assert broken.returncode == 2 and "corrupt" in broken.stderr
    fix = broken.stderr.split("`")[1]  # the command the message suggests, run as given
    assert fix.startswith("workshop ")
    repaired = workshop(*fix.split()[1:], env=workshop_env)
    assert repaired.returncode == 0, repaired.stderr
    assert workshop("db", "up", env=workshop_env).returncode == 0


def test_kernel_check_names_the_workshop_environment_when_the_kernel_is_another(tmp_path):
    from workshop import doctor

    here = doctor.check_kernel(Path(sys.prefix))
    assert here.ok, here.detail
    elsewhere = doctor.check_kernel(tmp_path / "other-env")
    assert not elsewhere.ok and str(tmp_path / "other-env") in elsewhere.detail
    assert "django-workshop" in elsewhere.fix and "Change Kernel" in elsewhere.fix
