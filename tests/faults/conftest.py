"""Fixtures of the fault-injection suite (see harness.py): the tally written per suite to
test-artifacts/faults/<suite>.json and summed in test-artifacts/faults.json, and a private workshop with the tiny dataset loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import Tally, Workshop, private_parent, write_suites


@pytest.fixture(scope="session")
def _faults_run():
    run = Tally()
    yield run
    modules = {_suite_name(p) for p in Path(__file__).parent.glob("test_*.py")}
    write_suites(run, modules)


def _suite_name(path: Path) -> str:
    return path.stem.removeprefix("test_").removesuffix("_faults")


@pytest.fixture
def tally(_faults_run, request):
    """Records this test's faults into its suite (its module: test_<suite>_faults.py)."""
    return _faults_run.suite(_suite_name(Path(request.node.fspath)))


@pytest.fixture(scope="module")
def shop():
    """A private workshop with the tiny dataset (seed 42) loaded: the 'previous' data."""
    parent = private_parent()
    shop = Workshop(parent / "state")
    done = shop.run("setup", "--size", "tiny", "--quiet")
    assert done.returncode == 0, done.stderr
    yield shop
    from workshop.services import es_node
    from workshop.services.postgres import EmbeddedPostgres

    EmbeddedPostgres(shop.home).stop()
    es_node.stop(shop.home)
    shutil.rmtree(parent, ignore_errors=True)
