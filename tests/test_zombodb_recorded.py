"""Notebook 05's recorded ZomboDB figures come from the search benchmark's record: its zombodb
rows beside outbox and postgres when the record has them, one clear sentence when it has not."""

from __future__ import annotations

from workshop.bench import recorded
from workshop.search import bench as search_bench
from workshop.search import zombodb_recorded


def _record(folder, backends: dict) -> None:
    found = recorded.finish(recorded.conditions("workshop bench search --record"))
    recorded.write("search", search_bench.results_from(backends), found, folder)


def test_a_record_with_zombodb_rows_shows_them_beside_outbox_and_postgres(tmp_path):
    full = {m: 2.0 for m in search_bench.UNITS} | {"disagreements": 0.0}
    _record(tmp_path, {"postgres": full, "signals": full, "outbox": full, "zombodb": full | {"query_p95_ms": 12.5}})
    table = zombodb_recorded.table(tmp_path)
    assert list(table.columns) == ["outbox", "postgres", "zombodb"]  # signals left out
    assert table.loc[("query_p95_ms", "ms"), "zombodb"] == 12.5 and table.loc[("query_p95_ms", "ms"), "outbox"] == 2.0
    assert table.loc[("write_overhead_ratio", "x"), "zombodb"] == 2.0  # zombodb-only rows are there too
    assert list(zombodb_recorded.table(tmp_path, metrics=("disagreements",)).index) == [("disagreements", "docs")]
    line = zombodb_recorded.describe(tmp_path)
    assert line.startswith("Recorded ") and "load average" in line
    assert zombodb_recorded.BUILD["cold"] in line and zombodb_recorded.BUILD["cached"] in line


def test_a_record_without_zombodb_rows_says_so_and_how_to_record_them(tmp_path):
    full = {m: 2.0 for m in search_bench.UNITS}
    _record(tmp_path, {"postgres": full, "signals": full, "outbox": full})
    assert zombodb_recorded.table(tmp_path).empty
    line = zombodb_recorded.describe(tmp_path)
    assert "has no zombodb rows" in line and "workshop bench search --record" in line and "\n" not in line
    assert zombodb_recorded.BUILD["cold"] in line


def test_the_repositorys_record_is_read_whichever_case_it_is():
    record = recorded.load("search")
    has_zombodb = any(n.startswith("search.zombodb.") for n in record.names)
    assert zombodb_recorded.table().empty is not has_zombodb
    assert ("has no zombodb rows" in zombodb_recorded.describe()) is not has_zombodb
