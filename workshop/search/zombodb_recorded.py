"""A recorded run of ZomboDB on this workshop, for machines where it is not running:
notebook 05 shows these figures, with their date and conditions, instead of live ones."""

from __future__ import annotations

RUN = {
    "date": "2026-12-02",
    "conditions": "2 cores shared with up to 8 other busy processes, load average 10-17 during the build; "
    "Debian 12, PostgreSQL 15.20, OpenSearch 2.19.6 (512 MB heap), cargo-pgrx 0.13.1",
    "commands": "workshop zombodb build; workshop zombodb up; workshop bench search",
    "build": {"cold": "47.1 min", "cached": "4.2 s", "cargo-pgrx install": "about 28 min"},
    "bench": [],  # (backend, metric, value, unit)
    "experiment": {},
}


def table():
    """The benchmark's rows of that run, one column per backend."""
    import pandas as pd

    frame = pd.DataFrame(RUN["bench"], columns=["backend", "metric", "value", "unit"])
    if frame.empty:
        return frame
    return frame.pivot_table(index=["metric", "unit"], columns="backend", values="value", aggfunc="first")


def describe() -> str:
    build = RUN["build"]
    return (
        f"Recorded {RUN['date']} ({RUN['conditions']}). Build: {build.get('cold', '?')} cold, "
        f"{build.get('cached', '?')} cached. Reproduce: {RUN['commands']}."
    )
