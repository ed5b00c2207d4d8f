"""The `workshop` command, run as attendees run it: as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def workshop(*args: str, env=None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


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
    line = next(l for l in done.stdout.splitlines() if "PostgreSQL" in l)
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
    done = subprocess.run([sys.executable, "-m", "workshop.cli", "db", "psql"], input="SELECT 40 + 2;\n",
                          env={**workshop_env}, capture_output=True, text=True, timeout=60)
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
