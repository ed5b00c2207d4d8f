"""How fast the dataset file (`workshop data import`) loads, against generating the same
dataset (`workshop data load --force`), side by side in one database of its own."""

from __future__ import annotations

import statistics

from workshop.bench import Result, benchmark, run_child

_SCRIPT = """
import json, os, sys, tempfile
import workshop
from workshop.shop.data import archive, load
workshop.setup(sys.argv[1], progress=False)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "shop.dataset")
    archive.export(path)
    generated, imported = [], []
    for _ in range(int(sys.argv[2])):  # interleaved: a burst of load hits both alike
        generated.append(load.load(sys.argv[1], force=True, progress=False).seconds)
        imported.append(archive.import_(path, progress=False).seconds)
    print(json.dumps({"generated": generated, "imported": imported, "bytes": os.path.getsize(path),
                      "rows": load.current().row_counts}))
"""


@benchmark(
    "data",
    "loading the exported dataset file vs generating the dataset (workshop size)",
    names=("data.import_seconds",),
)
def bench_data(size: str = "workshop", rounds: int = 3) -> list[Result]:
    found = run_child("dataset file vs generator", _SCRIPT, "workshop_bench_data", (size, rounds))
    generated, imported = statistics.median(found["generated"]), statistics.median(found["imported"])
    rows = sum(v for v in found["rows"].values() if isinstance(v, int))
    return [
        Result(
            "data.import_seconds",
            imported,
            "s",
            baseline=generated,
            ratio=generated / imported,
            note=f"{size}: {rows:,} rows from a {found['bytes'] / 1e6:.1f} MB file vs generated, "
            f"median of {rounds} interleaved rounds, each one transaction with indexes, snapshot and ANALYZE",
        )
    ]
