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


MORE = textwrap.dedent("""
    from django.utils import translation
    from waffle import sample_is_active
    from waffle.testutils import override_sample
    from workshop import flags
    from workshop.flags import override as force
    from workshop.flags.ladder import RECOMMENDED

    def job():
        if sample_is_active("sampled_banner"):
            pass
        with override_sample("sampled_checkout", active=True):
            pass
        with flags.override("forced_in_a_test", True):
            pass
        with force(RECOMMENDED, False):
            pass
        with translation.override("fr"):  # Django's, not a flag
            pass

    @override_sample("decorated_sample", active=False)
    def test_it():
        pass
""")

TEMPLATE = """{% load waffle_tags %}
<div>{% flag "new_header" %}new{% else %}old{% endflag %}</div>
{% switch 'maintenance_banner' %}down{% endswitch %}
{% sample "survey_popup" %}survey{% endsample %}
{% if waffle.flag('jinja_flag') %}{% endif %}{{ request.flags.is_on("jinja_workshop_flag") }}
"""


def test_scan_knows_samples_the_workshop_s_override_and_constants_of_other_modules(tmp_path):
    (tmp_path / "ladder.py").write_text('RECOMMENDED = "recommended_for_you"\n')
    (tmp_path / "jobs.py").write_text(MORE)
    (tmp_path / "tests.py").write_text(
        "from x import ladder\nwith override_flag(ladder.RECOMMENDED, active=True):\n    pass\n"
    )
    found = stale.scan(tmp_path)
    assert set(found) == {
        "sampled_banner",
        "sampled_checkout",
        "forced_in_a_test",
        "recommended_for_you",
        "decorated_sample",
    }, "translation.override('fr') is Django's, not a flag"
    assert sorted(str(r) for r in found["recommended_for_you"]) == [f"{tmp_path}/jobs.py:16", f"{tmp_path}/tests.py:2"]


def test_scan_reads_templates_and_wafflejs(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(TEMPLATE)
    (tmp_path / "static.js").write_text("if (waffle.switch_is_active('js_switch')) { show(); }\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "lib.js").write_text("waffle.flag_is_active('vendored');\n")
    found = {key: [r.line for r in refs] for key, refs in stale.scan(tmp_path).items()}
    assert found == {
        "new_header": [2],
        "maintenance_banner": [3],
        "survey_popup": [4],
        "jinja_flag": [5],
        "jinja_workshop_flag": [5],
        "js_switch": [1],
    }
