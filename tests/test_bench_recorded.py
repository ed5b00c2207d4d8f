"""Recorded benchmark runs (data/bench/*.json): each names a benchmark that exists, holds the
results that benchmark declares today, and carries its conditions; the chapters' widget shows
them and a live run's errors."""

from __future__ import annotations

import json

import pytest

from workshop import bench
from workshop.bench import recorded
from workshop.errors import WorkshopError

RECORDS = sorted(recorded.FOLDER.glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_a_recorded_run_matches_the_benchmark_as_it_is_now(path):
    available = bench.discover()
    run = recorded.load(path.stem)
    assert run.name == path.stem and run.name in available, f"{path.name}: no benchmark {run.name!r}"
    declared = bench.NAMES.get(run.name)
    assert declared is not None, f"benchmark {run.name} must declare its names= to be recorded"
    assert run.names == declared, f"{path.name} is stale: run `workshop bench {run.name} --record`"
    for key in ("date", "machine", "cores", "load_average", "python", "commit", "command"):
        assert run.conditions.get(key) not in (None, ""), f"{path.name}: condition {key} missing"


def test_a_benchmark_that_produces_other_names_than_declared_fails():
    @bench.benchmark("test-drift", "a benchmark whose results drifted", names=("a.one", "a.two"))
    def drifting():
        return [bench.Result("a.one", 1.0, "s")]

    try:
        with pytest.raises(WorkshopError, match=r"missing \['a.two'\]"):
            bench.run_one("test-drift")
    finally:
        bench._REGISTRY.pop("test-drift")
        bench.NAMES.pop("test-drift")


def test_missing_or_broken_records_are_one_line(tmp_path):
    with pytest.raises(WorkshopError, match="workshop bench nothing --record"):
        recorded.load("nothing", tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"results": []}))
    with pytest.raises(WorkshopError, match="not a benchmark record"):
        recorded.load("broken", tmp_path)


def test_the_widget_shows_the_record_and_a_live_error(tmp_path, monkeypatch):
    found = recorded.finish(recorded.conditions("workshop bench demo --record"))
    recorded.write("demo", [bench.Result("demo.x", 2.0, "s", baseline=8.0, ratio=4.0)], found, tmp_path)
    monkeypatch.setattr(recorded, "FOLDER", tmp_path)
    run = recorded.load("demo")
    assert "2 cores" in run.conditions_line() or f"{found['cores']} cores" in run.conditions_line()
    assert run.frame().loc["demo.x", "ratio"] == 4.0

    def broken():
        raise RuntimeError("the live run broke")

    box = recorded.how_fast("demo", live=broken)
    button, out = box.children[-2], box.children[-1]
    button.click()
    assert any("the live run broke" in o.get("text", "") for o in out.outputs)
