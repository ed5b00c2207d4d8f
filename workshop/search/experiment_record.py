"""The consistency experiment as recorded on a machine where every backend ran, for rooms
where Elasticsearch cannot start (Binder without Java, a laptop without it): notebook 05 then
shows this run's table and chart, with its date and conditions, instead of a gap.

`python -m workshop.search.experiment_record` runs the experiment here (every backend must be
available) and writes data/recorded/search_experiment.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

PATH = config.DATA_DIR / "recorded" / "search_experiment.json"


def save(result, conditions: dict, path: Path = PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"recorded": conditions, "result": asdict(result)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def load(path: Path = PATH):
    """(ExperimentResult, a sentence with the run's date and conditions)."""
    from workshop.search.experiment import ExperimentResult

    try:
        data = json.loads(Path(path).read_text())
        result = ExperimentResult(**data["result"])
        c = data["recorded"]
    except FileNotFoundError:
        raise WorkshopError(
            f"No recorded experiment at {path}", "run `python -m workshop.search.experiment_record`"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise WorkshopError(f"{path} is not a recorded experiment", "record it again") from None
    load_avg = c.get("load_average") or [None, None]
    line = (
        f"Recorded run of {c.get('date', '?')[:10]} (commit {c.get('commit', '?')}) on {c.get('cores', '?')} cores "
        f"({c.get('machine', '?')}), load average {load_avg[0]} at the start and {load_avg[1]} at the end, "
        f"{c.get('operations', '?')} operations: this machine has no Elasticsearch, so these are not its figures."
    )
    return result, line


def main() -> None:
    import workshop

    workshop.setup()
    from workshop.bench import recorded
    from workshop.search import api, experiment

    missing = {b: why for b, why in api.backends().items() if why and b != "zombodb"}
    if missing:
        raise SystemExit(f"every backend must run to record the experiment: {missing}")
    operations = 120
    conditions = recorded.conditions("python -m workshop.search.experiment_record")
    result = experiment.run(operations=operations, lag_samples=10)
    conditions = {**recorded.finish(conditions), "operations": operations}
    print(f"wrote {save(result, conditions)}")
    print(result.table())


if __name__ == "__main__":
    main()
