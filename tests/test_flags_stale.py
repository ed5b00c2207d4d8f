"""The stale-flag detector: ast scan, the three kinds of flag debt, the CLI's exit codes."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap

import pytest

from workshop.errors import WorkshopError
from workshop.flags import stale

CODE = textwrap.dedent("""
    from waffle import flag_is_active
    NEW_SEARCH = "new_search"

    def view(request):
        if request.flags.is_on("recommended_for_you"):
            pass
        if flag_is_active(request, "old_banner"):
            pass
        if flags.is_on(NEW_SEARCH, user=request.user):
            pass
        client.get_boolean_value(flag_key="dark_mode", default_value=False)
        is_on(name_built_at_runtime)        # invisible to a static scan
        print("is_on")                      # not a call with a flag
""")

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


def test_scan_finds_literal_names_and_module_constants():
    found = {r.key: r.line for r in stale.references_in_source(CODE, "shop/views.py")}
    assert found == {"recommended_for_you": 6, "old_banner": 8, "new_search": 10, "dark_mode": 12}


def test_the_three_kinds_of_flag_debt(tmp_path):
    (tmp_path / "views.py").write_text(CODE)
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001.py").write_text('is_on("only_in_a_migration")')
    defined = {
        "recommended_for_you": None,
        "old_banner": NOW - datetime.timedelta(days=200),
        "new_search": NOW - datetime.timedelta(days=3),
        "dark_mode": None,
        "forgotten": None,
    }
    report = stale.find_stale(stale.scan(tmp_path), defined, days=30, now=NOW)
    assert report.unused == ["forgotten"]
    assert report.missing == {}
    assert report.fully_rolled_out == {"old_banner": 200}
    assert report.problems == 2
    del defined["dark_mode"]
    report = stale.find_stale(stale.scan(tmp_path), defined, days=30, now=NOW)
    assert list(report.missing) == ["dark_mode"] and "views.py:12" in str(report)


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(WorkshopError, match="does not exist"):
        stale.scan(tmp_path / "nope")
    (tmp_path / "broken.py").write_text("def (:\n")
    with pytest.raises(WorkshopError, match="not valid Python"):
        stale.scan(tmp_path)
    with pytest.raises(WorkshopError, match="negative"):
        stale.find_stale({}, {}, days=-1)


@pytest.mark.django_db
def test_check_reads_the_database(tmp_path, django_db_setup):
    from workshop import flags

    flags.define("recommended_for_you", percentage=100)
    (tmp_path / "views.py").write_text(CODE)
    report = stale.check(tmp_path, days=30)
    assert "recommended_for_you" not in report.unused and "recommended_for_you" not in report.fully_rolled_out
    assert set(report.missing) == {"old_banner", "new_search", "dark_mode"}


@pytest.mark.django_db
def test_cli_exit_codes_in_process(tmp_path, capsys):
    from workshop import flags
    from workshop.cli import main

    flags.define("recommended_for_you", percentage=10)
    (tmp_path / "clean.py").write_text('request.flags.is_on("recommended_for_you")\n')
    # only flags of this test's transaction exist, so the scan of clean.py is clean unless
    # another flag is defined; define nothing else and expect 0
    from workshop.flags.models import FlagDefinition

    FlagDefinition.objects.exclude(key="recommended_for_you").delete()
    assert main(["flags", "stale", str(tmp_path / "clean.py")]) == 0
    assert "no stale flags" in capsys.readouterr().out
    (tmp_path / "typo.py").write_text('request.flags.is_on("recomended_for_you")\n')
    assert main(["flags", "stale", str(tmp_path)]) == 1
    assert "missing (referenced, not defined): recomended_for_you" in capsys.readouterr().out


def test_cli_as_a_separate_process_fails_ci_on_debt(tmp_path):
    (tmp_path / "typo.py").write_text('request.flags.is_on("recomended_for_you")\n')
    env = {**os.environ, "WORKSHOP_DB_NAME": os.environ.get("WORKSHOP_DB_NAME", "workshop")}
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "flags", "stale", str(tmp_path), "--days", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "recomended_for_you" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "flags", "stale", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr
