"""Fixtures of the fault-injection suite (see harness.py): the tally written to
test-artifacts/faults.json, and a private workshop with the tiny dataset loaded."""

from __future__ import annotations

import shutil

import pytest
from harness import ARTIFACTS, Tally, Workshop, private_parent, write_results


@pytest.fixture(scope="session")
def tally():
    tally = Tally()
    yield tally
    write_results(
        {
            "faults.injected": (tally.injected, "signals, kills, full disk, stale pid files (tests/faults)"),
            "faults.survived": (
                tally.survived,
                "previous or new data complete, no orphans, one-line error, next call ok",
            ),
            "faults.data_lost": (tally.data_lost, "goal: 0"),
            "faults.orphans": (tally.orphans, "goal: 0"),
        }
    )
    (ARTIFACTS / "faults.log").write_text("\n".join(tally.log) + "\n")


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
