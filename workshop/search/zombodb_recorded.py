"""ZomboDB's recorded figures, for machines where it is not running: notebook 05 shows them,
with their date and conditions, instead of live ones.

The benchmark's figures come from the record `workshop bench search --record` writes
(data/bench/search.json, workshop/bench/recorded.py): taken where ZomboDB was up, it holds the
search.zombodb.* rows beside the outbox and postgres rows of the same run, on the same documents.
The build times are not in any benchmark: they are here, in BUILD, the one place to update them.
"""

from __future__ import annotations

from pathlib import Path

# `workshop zombodb build` measured on a machine like CI's (update all four together)
BUILD = {
    "date": "2026-12-02",
    "cold": "47.1 min",  # cargo-pgrx installed and ZomboDB compiled (about 28 min of it cargo-pgrx)
    "cached": "4.2 s",  # the same command again: the cache in ~/.cache/workshop/zombodb/ found
    "conditions": "2 cores shared with up to 8 other busy processes, load average 10-17; Debian 12, "
    "PostgreSQL 15.20, OpenSearch 2.19.6 (512 MB heap), cargo-pgrx 0.13.1",
}
BACKENDS = ("outbox", "postgres", "zombodb")  # the zombodb column beside the two transactional others
RECORD = "search"  # data/bench/search.json
REPRODUCE = "`workshop zombodb up`, then `workshop bench search --record`"


def _record(folder: Path | None = None):
    from workshop.bench import recorded

    return recorded.load(RECORD, folder)


def table(folder: Path | None = None, metrics: tuple[str, ...] | None = None):
    """The recorded benchmark's rows, one column per backend (outbox, postgres, zombodb), one
    row per metric (and its unit); empty when the record holds no zombodb rows."""
    import pandas as pd

    rows = []
    for result in _record(folder).results:
        _, backend, metric = result["name"].split(".", 2)
        if backend in BACKENDS and (metrics is None or metric in metrics):
            rows.append({"metric": metric, "unit": result["unit"], "backend": backend, "value": result["value"]})
    frame = pd.DataFrame(rows, columns=["metric", "unit", "backend", "value"])
    if "zombodb" not in set(frame["backend"]):
        return frame.iloc[0:0]
    wide = frame.pivot_table(index=["metric", "unit"], columns="backend", values="value", aggfunc="first", sort=False)
    return wide.reindex(columns=[b for b in BACKENDS if b in wide.columns])


def describe(folder: Path | None = None) -> str:
    """Where the recorded figures come from (or that there are none yet), and the build times."""
    record = _record(folder)
    build = f"Build ({BUILD['date']}, {BUILD['conditions']}): {BUILD['cold']} cold, {BUILD['cached']} cached."
    if not any(name.startswith("search.zombodb.") for name in record.names):
        return (
            f"The recorded benchmark (data/bench/{RECORD}.json, {record.conditions.get('date', '?')[:10]}) has no "
            f"zombodb rows: it was taken where ZomboDB was not running. To record them: {REPRODUCE}. {build}"
        )
    return f"{record.conditions_line()} {build} Reproduce: {REPRODUCE}."
