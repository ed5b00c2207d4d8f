"""`workshop bench classroom` at a small size: a real room, real attendee processes, the
declared figures (speed itself is for the benchmark, never asserted here)."""

from __future__ import annotations

from workshop.classroom import bench as classroom_bench


def test_the_room_benchmark_runs_attendees_at_once_and_reports_its_declared_figures(monkeypatch):
    from workshop import bench

    monkeypatch.setenv(classroom_bench.ENV_ATTENDEES, "3")
    monkeypatch.setenv("WORKSHOP_DATA_SIZE", "tiny")
    results = {r.name: r for r in bench.run_one("classroom")}
    assert set(results) == bench.NAMES["classroom"]
    assert 0 < results["classroom.ready_p50_seconds"].value <= results["classroom.ready_p95_seconds"].value
    assert (
        0
        < results["classroom.on_demand_ready_p50_seconds"].value
        <= results["classroom.on_demand_ready_p95_seconds"].value
    )
    assert results["classroom.clone_ahead_seconds"].value > 0
    assert results["classroom.server_mb_per_attendee"].value > 0
    # the documented procedure: clones made ahead, none by the kernels; on demand: every kernel clones
    prepared, on_demand = (
        results["classroom.ready_p50_seconds"].note,
        results["classroom.on_demand_ready_p50_seconds"].note,
    )
    assert "3 processes" in prepared and "prepare --clone-now" in prepared and "(0 of them cloned)" in prepared
    assert "on demand" in on_demand and "(3 of them cloned)" in on_demand
    probes = results["classroom.on_demand_ready_p95_seconds"].note
    assert "FILE_COPY" in probes and "WAL_LOG" in probes


def test_the_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 51)]
    assert classroom_bench.percentile(values, 0.95) == 48.0
    assert classroom_bench.percentile(values, 0.5) == 25.0
    assert classroom_bench.percentile([7.0], 0.95) == 7.0
