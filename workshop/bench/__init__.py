"""Benchmarks: a registry that the core and each theme add to, and a runner.

A theme registers its benchmarks in `workshop/<theme>/bench.py` with `@benchmark("name")`;
`workshop bench` discovers those modules, so the core never imports a theme.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from workshop.errors import WorkshopError


@dataclass(frozen=True)
class Result:
    name: str  # e.g. "setup.warm_seconds"
    value: float
    unit: str
    baseline: float | None = None  # the alternative's value, measured in the same run
    ratio: float | None = None  # how many times better than the baseline
    note: str = ""


Bench = Callable[[], list[Result]]
_REGISTRY: dict[str, tuple[Bench, str]] = {}
NAMES: dict[str, frozenset[str]] = {}  # a benchmark's declared result names, when it declares them
OPTIONAL: dict[str, dict[str, frozenset[str]]] = {}  # {benchmark: {service: names only where it runs}}


def benchmark(
    name: str, description: str = "", names: tuple[str, ...] = (), optional: dict[str, tuple[str, ...]] | None = None
) -> Callable[[Bench], Bench]:
    """Register a benchmark. `names`: the result names it produces; declared, they are checked
    on every run and against its recorded run (data/bench/<name>.json), so neither drifts.
    `optional`: {service: names} produced only where that service runs, all of a group or none."""

    def register(func: Bench) -> Bench:
        _REGISTRY[name] = (func, description or (func.__doc__ or "").strip().splitlines()[0])
        if names:
            NAMES[name] = frozenset(names)
            OPTIONAL[name] = {service: frozenset(group) for service, group in (optional or {}).items()}
        return func

    return register


def undeclared(name: str, produced: set[str]) -> str:
    """Why `produced` is not what benchmark `name` declares ("" when it is): every declared name,
    and each optional group whole or not at all."""
    declared = NAMES[name]
    problems = []
    missing, extra = sorted(declared - produced), sorted(produced - declared)
    for service, group in OPTIONAL.get(name, {}).items():
        present = group & produced
        extra = [n for n in extra if n not in group]
        if present and present != group:
            problems.append(f"only part of the {service} names (missing {sorted(group - present)})")
    if missing or extra:
        problems.insert(0, f"missing {missing}, undeclared {extra}")
    return "; ".join(problems)


def services_present(name: str, produced: set[str]) -> list[str]:
    """The optional groups (services) a run or record holds."""
    return sorted(service for service, group in OPTIONAL.get(name, {}).items() if group & produced)


def run_child(what: str, script: str, db_name: str, args: tuple = (), env: dict[str, str] | None = None) -> dict:
    """Run a benchmark body in a fresh Python on database `db_name` (its own dataset, never
    the notebooks'); its progress goes to stderr, its last stdout line is the JSON returned."""
    from workshop import config

    env = {**os.environ, config.ENV_DB_NAME: db_name, **(env or {})}
    env.pop(config.ENV_SIZE, None)  # the body picks its dataset size itself
    print(f"{what} (database {db_name})", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed; see the output above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def discover() -> dict[str, tuple[Bench, str]]:
    """Import workshop.bench.* and every workshop.<theme>.bench module."""
    import workshop

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    for info in pkgutil.iter_modules(workshop.__path__):
        if info.ispkg and info.name != "bench" and importlib.util.find_spec(f"workshop.{info.name}.bench"):
            importlib.import_module(f"workshop.{info.name}.bench")
    return dict(_REGISTRY)


def run(names: list[str] | None = None) -> list[Result]:
    available = discover()
    unknown = [n for n in names or [] if n not in available]
    if unknown:
        raise WorkshopError(f"Unknown benchmark {', '.join(unknown)}", f"choose from: {', '.join(sorted(available))}")
    results: list[Result] = []
    for name in names or sorted(available):
        results.extend(run_one(name, available))
    return results


def run_one(name: str, available: dict | None = None) -> list[Result]:
    available = available or discover()
    produced = available[name][0]()
    problem = undeclared(name, {r.name for r in produced}) if name in NAMES else ""
    if problem:
        raise WorkshopError(
            f"Benchmark {name} produced other results than it declares ({problem})",
            "update names= (or optional=) in its @benchmark declaration",
        )
    return produced


def table(results: list[Result]) -> str:
    rows = [("benchmark", "value", "unit", "baseline", "ratio")]
    for r in results:
        rows.append((r.name, _fmt(r.value), r.unit, _fmt(r.baseline), f"{r.ratio:.1f}x" if r.ratio else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", "notes:"] + notes if notes else []))


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def write_json(results: list[Result], path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps([asdict(r) for r in results], indent=2))
    tmp.replace(path)
