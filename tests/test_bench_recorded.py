"""Recorded benchmark runs (data/bench/*.json): each names a benchmark that exists, holds the
results that benchmark declares today, and carries its conditions; the chapters' widget shows
them and a live run's errors."""

from __future__ import annotations

import ast
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
    problem = bench.undeclared(run.name, run.names)
    assert not problem, f"{path.name} is stale ({problem}): run `workshop bench {run.name} --record`"
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


def test_optional_names_come_whole_or_not_at_all():
    @bench.benchmark(
        "test-optional", "a benchmark with a service-only part", names=("o.base",), optional={"svc": ("o.a", "o.b")}
    )
    def with_service():
        return []

    try:
        assert bench.undeclared("test-optional", {"o.base"}) == ""
        assert bench.undeclared("test-optional", {"o.base", "o.a", "o.b"}) == ""
        assert bench.services_present("test-optional", {"o.base", "o.a", "o.b"}) == ["svc"]
        assert "only part of the svc names (missing ['o.b'])" in bench.undeclared("test-optional", {"o.base", "o.a"})
        assert "missing ['o.base']" in bench.undeclared("test-optional", {"o.a", "o.b"})
        assert "undeclared ['o.c']" in bench.undeclared("test-optional", {"o.base", "o.c"})
    finally:
        bench._REGISTRY.pop("test-optional")
        bench.NAMES.pop("test-optional")
        bench.OPTIONAL.pop("test-optional")


CHAPTERS = {"01": "review", "02": "anonymize", "03": "flags", "04": "queries", "05": "search"}


def how_fast_calls(notebook) -> list[tuple[str, bool, dict]]:
    """(record name, live= given, cell metadata) of each how_fast(...) call in a notebook's code cells."""
    calls = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code" or "how_fast" not in "".join(cell["source"]):
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "how_fast":
                name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                calls.append((name, any(k.arg == "live" for k in node.keywords), cell.get("metadata", {})))
    return calls


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_shows_a_recorded_run_with_a_live_button(chapter):
    [notebook] = sorted((recorded.config.CHECKOUT_DIR / "notebooks").glob(f"{chapter}_*.ipynb"))
    calls = how_fast_calls(notebook)
    assert calls, f"{notebook.name} has no how_fast(...) cell"
    for name, live, metadata in calls:
        assert name == CHAPTERS[chapter], (
            f"{notebook.name} shows {name!r}, its theme's benchmark is {CHAPTERS[chapter]!r}"
        )
        assert (recorded.FOLDER / f"{name}.json").exists(), f"{notebook.name} shows {name}, which has no record"
        assert live, f"{notebook.name}: how_fast({name!r}) without live= has no button"
        assert metadata.get("workshop", {}).get("widget_minutes", 0) > 0, "the room-time model counts the widget"


def test_declared_names_are_what_the_results_code_names():
    """The declarations against the code that names the results, without the hours a run takes."""
    from workshop.queries.aggregations import AGGREGATIONS
    from workshop.queries.bench import results
    from workshop.search import bench as search_bench

    bench.discover()
    aggregation = {"rows": 1, "unit": "rows", "db": 1.0, "db_runs": 1, "models": 2.0, "values": 2.0}
    page = {"size": 1, "naive_queries": 3, "fixed_queries": 2, "naive": 1.0, "fixed": 1.0, "suspects": 1}
    measured = {"aggregations": [{**aggregation, "name": a.name} for a in AGGREGATIONS], "page": page}
    assert not bench.undeclared("queries", {r.name for r in results(measured)})
    full = {m: 1.0 for m in search_bench.UNITS}
    zombodb = {m: 1.0 for m in search_bench.ZOMBODB_METRICS}
    for backends in ({"postgres": full}, {"postgres": full, "signals": full, "outbox": full, "zombodb": zombodb}):
        assert not bench.undeclared("search", {r.name for r in search_bench.results_from(backends)})


def test_missing_or_broken_records_are_one_line(tmp_path):
    with pytest.raises(
        WorkshopError, match="No run of the 'nothing' benchmark is recorded.*workshop bench nothing --record"
    ):
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


def test_without_a_record_the_widget_says_which_command_writes_it_and_keeps_the_button(tmp_path, monkeypatch):
    """A chapter whose record is not written yet still runs: one sentence instead of the table,
    naming the command, and the live button still works."""
    import html

    monkeypatch.setattr(recorded, "FOLDER", tmp_path)
    ran = []
    box = recorded.how_fast("nothing", live=lambda: ran.append(1) or [bench.Result("nothing.x", 1.0, "s")])
    sentence, button, out = box.children
    shown = html.unescape(sentence.value)
    assert "No run of the 'nothing' benchmark is recorded" in shown and "`workshop bench nothing --record`" in shown
    button.click()
    assert ran == [1] and not [o for o in out.outputs if o.get("name") == "stderr"]
