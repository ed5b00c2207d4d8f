"""`workshop anonymize check`: the shop's rules cover every field; a rule set missing one,
or a safe declaration naming a field that does not exist, fails with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from workshop.anonymize import coverage
from workshop.anonymize.shop_rules import SAFE, shop_rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_check(*args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "workshop.cli", "anonymize", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_shop_is_covered_exit_0():
    done = run_check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "declared safe" in done.stdout and "neither" not in done.stdout


def test_an_uncovered_field_fails_exit_1(tmp_path):
    (tmp_path / "leaky_rules.py").write_text(
        textwrap.dedent("""
        from workshop.anonymize.shop_rules import shop_rules as base

        def rules():
            wanted = base()
            del wanted["shop.Customer"]["city"]   # forgotten: copied as it is
            return wanted
    """)
    )
    done = run_check("--rules", "leaky_rules:rules", pythonpath=str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shop.Customer.city" in done.stdout and "fix:" in done.stdout


def test_coverage_counts_and_stale_declarations():
    report = coverage.check(shop_rules(), SAFE)
    assert report.ok and report.ruled == sum(map(len, shop_rules().values()))
    stale = coverage.check(shop_rules(), {**SAFE, "shop.Customer": {**SAFE["shop.Customer"], "shoe_size": "?"}})
    assert stale.stale == ("shop.Customer.shoe_size",) and not stale.ok
    missing = coverage.check(shop_rules(), {k: v for k, v in SAFE.items() if k != "shop.Review"})
    assert set(missing.uncovered) == {
        "shop.Review.rating",
        "shop.Review.title",
        "shop.Review.body",
        "shop.Review.created_at",
    }


@pytest.mark.parametrize("spec", ["nonsense", "workshop.nope:rules", "workshop.anonymize.shop_rules:QI"])
def test_bad_rule_specs_are_one_line_errors(spec):
    done = run_check("--rules", spec)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_proxy_model_is_covered_by_its_concrete_model():
    """A proxy reads the same table: the coverage of its concrete model is its coverage (a proxy
    with a custom manager, like chapter 04's Shopper, must not need rules of its own)."""
    from django.apps import apps

    from workshop.anonymize import coverage, shop_rules

    proxies = [m for m in apps.get_models() if m._meta.proxy]
    assert proxies, "the project has a proxy model to check this with"
    found = coverage.check(shop_rules.shop_rules(), shop_rules.SAFE)
    assert not [f for f in found.uncovered if f.split(".")[1] in {m.__name__ for m in proxies}]
