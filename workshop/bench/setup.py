"""How long `workshop.setup()` takes, cold (fresh state folder) and warm, and how fast
the dataset loads. Each run is a fresh Python process, as an attendee's kernel would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workshop import config
from workshop.bench import Result, benchmark

_SCRIPT = """
import json, workshop
from workshop.shop.data import load
status = workshop.setup(progress=False)
dataset = load.current()
rows = sum(v for v in dataset.row_counts.values() if isinstance(v, int))
print(json.dumps({"rows": rows, "load_seconds": dataset.load_seconds, "size": dataset.size}))
"""


def _timed_setup(env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"setup() failed in the benchmark: {done.stderr.strip().splitlines()[-1:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


@benchmark(
    "setup",
    "cold and warm workshop.setup(), and dataset loading speed",
    names=("setup.cold_seconds", "setup.warm_seconds", "data.load_rows_per_second"),
)
def bench_setup() -> list[Result]:
    from workshop.services.postgres import EmbeddedPostgres

    size = os.environ.get(config.ENV_SIZE) or config.DEFAULT_SIZE
    with tempfile.TemporaryDirectory(prefix="workshop-bench-") as tmp:
        home = Path(tmp) / "state"
        env = {k: v for k, v in os.environ.items() if k not in (config.ENV_DATABASE_URL, config.ENV_DB_NAME)}
        env.update({config.ENV_HOME: str(home), config.ENV_NO_DOCKER: "1", config.ENV_SIZE: size})
        try:
            cold, loaded = _timed_setup(env)
            warm_runs = [_timed_setup(env)[0] for _ in range(3)]
        finally:
            if home.exists():
                EmbeddedPostgres(home).stop()
    warm = sorted(warm_runs)[1]
    rows_per_second = loaded["rows"] / loaded["load_seconds"]
    return [
        Result(
            "setup.cold_seconds",
            cold,
            "s",
            note=f"fresh state folder: initdb, migrate, load {size} ({loaded['rows']:,} rows)",
        ),
        Result("setup.warm_seconds", warm, "s", note="median of 3 new processes (imports included); goal < 2 s"),
        Result(
            "data.load_rows_per_second",
            rows_per_second,
            "rows/s",
            note=f"COPY of the {size} dataset in one transaction; goal >= 100k rows/s",
        ),
    ]
