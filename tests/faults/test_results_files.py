"""The fault suite's result files: each suite's latest run replaces only its own file, and
the summary is rebuilt from the files left (no stale entries, no suite of a deleted module)."""

from __future__ import annotations

import json

import harness  # tests/faults/harness.py
import pytest

pytestmark = pytest.mark.faults


def _run(faults: dict[str, list[harness.Fault]]) -> harness.Tally:
    run = harness.Tally()
    run.faults = faults
    return run


def _fault(name: str, landed: bool = True, data_ok: bool = True) -> harness.Fault:
    return harness.Fault(name, landed, data_ok, [], True, True, "" if landed else "finished first")


def test_a_suite_run_alone_replaces_only_its_own_results(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ARTIFACTS", tmp_path)
    monkeypatch.setattr(harness, "SUITES", tmp_path / "faults")
    modules = {"database", "search", "gone"}
    harness.write_suites(
        _run(
            {
                "database": [_fault("a"), _fault("b"), _fault("c", landed=False)],
                "search": [_fault("d"), _fault("e", data_ok=False)],
                "gone": [_fault("f")],
            }
        ),
        modules,
    )
    first = {r["name"]: r["value"] for r in json.loads((tmp_path / "faults.json").read_text())}
    assert (first["faults.landed"], first["faults.not_landed"], first["faults.data_lost"]) == (5, 1, 1)

    # the database suite again, alone, with one fault; the module of "gone" was deleted
    harness.write_suites(_run({"database": [_fault("g")]}), modules - {"gone"})
    rows = {r["name"]: r for r in json.loads((tmp_path / "faults.json").read_text())}
    values = {name: row["value"] for name, row in rows.items()}
    assert values["faults.database.landed"] == 1 and values["faults.database.not_landed"] == 0
    assert values["faults.search.landed"] == 2 and values["faults.search.data_lost"] == 1
    assert "faults.gone.landed" not in values and not (tmp_path / "faults" / "gone.json").exists()
    assert (values["faults.landed"], values["faults.not_landed"], values["faults.data_lost"]) == (3, 0, 1)
    log = (tmp_path / "faults.log").read_text()
    assert "database: g: survived" in log and "database: a:" not in log and "gone" not in log
