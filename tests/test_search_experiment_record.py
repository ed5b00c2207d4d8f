"""The recorded consistency experiment notebook 05 shows where Elasticsearch cannot run."""

from __future__ import annotations

import pytest

from workshop.errors import WorkshopError
from workshop.search import experiment, experiment_record
from workshop.search.experiment import ExperimentResult


def test_the_recorded_run_in_the_repository_has_every_backend_and_its_conditions():
    result, line = experiment_record.load()
    table = result.table()
    assert {"postgres", "outbox", "signals"} <= set(table.index)
    assert table.loc["outbox", "disagreements"] == 0 and table.loc["postgres", "disagreements"] == 0
    assert "Recorded run of 20" in line and "cores" in line and "load average" in line
    assert sum(result.counts.values()) > 0 and all(result.lags_ms[b] for b in ("postgres", "outbox"))
    assert experiment.plot(result).axes  # the chart the notebook draws from it


def test_save_then_load_and_a_broken_record(tmp_path):
    result = ExperimentResult(
        [{"backend": "postgres", "disagreements": 0}], {"postgres": [1.0]}, ["log"], {"commit": 1}
    )
    path = experiment_record.save(result, {"date": "2026-12-02T00:00:00Z", "operations": 1}, tmp_path / "r.json")
    loaded, line = experiment_record.load(path)
    assert loaded == result and "2026-12-02" in line
    path.write_text("{}")
    with pytest.raises(WorkshopError, match="not a recorded experiment"):
        experiment_record.load(path)
