"""Separate processes that watch a flag, and committed flips to time them with: the
measurements behind the propagation benchmark, its test, and the notebook's plots."""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from workshop.flags import schema
from workshop.flags.worker import ENV_CONNINFO

FLIPPABLE = ("enabled", "everyone", "percentage")


def commit_flip(conninfo: dict, key: str, **fields) -> float:
    """Change a flag in its own committed transaction (as the admin would); returns the
    time.time() just before the statement, the start of the propagation clock."""
    bad = set(fields) - set(FLIPPABLE)
    if bad:
        raise ValueError(f"commit_flip changes only {FLIPPABLE}, not {sorted(bad)}")
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in fields
    )
    statement = sql.SQL("UPDATE {} SET {}, updated_at = now() WHERE key = {}").format(
        sql.Identifier(schema.TABLE), assignments, sql.Placeholder("key")
    )
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        started = time.time()
        updated = conn.execute(statement, {**fields, "key": key}).rowcount
    if updated != 1:
        raise LookupError(f"no flag {key!r} to flip")
    return started


@dataclass
class Watcher:
    process: subprocess.Popen
    lines: queue.Queue = field(default_factory=queue.Queue)


class Workers:
    """N worker processes watching flag `key`; `flip()` commits a change and returns how long
    each one took to see it."""

    def __init__(self, conninfo: dict, key: str, count: int = 4, ttl: float | None = None):
        self.conninfo, self.key, self.count, self.ttl = conninfo, key, count, ttl
        self.watchers: list[Watcher] = []

    def __enter__(self) -> Workers:
        env = {**os.environ, ENV_CONNINFO: json.dumps(self.conninfo)}
        command = [sys.executable, "-m", "workshop.flags.worker", self.key]
        if self.ttl is not None:
            command += ["--ttl", str(self.ttl)]
        for _ in range(self.count):
            process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            watcher = Watcher(process)
            threading.Thread(target=self._read, args=(watcher,), daemon=True).start()
            self.watchers.append(watcher)
        for watcher in self.watchers:
            self._next(watcher, "ready", None, timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        for watcher in self.watchers:
            if watcher.process.stdin:
                watcher.process.stdin.close()
        for watcher in self.watchers:
            try:
                watcher.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                watcher.process.kill()
                watcher.process.wait()

    @staticmethod
    def _read(watcher: Watcher) -> None:
        for line in watcher.process.stdout:
            watcher.lines.put(json.loads(line))

    def _next(self, watcher: Watcher, model: str, wanted, timeout: float) -> dict:
        """The first line of `model` whose state satisfies `wanted` (None: any)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = watcher.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"worker {watcher.process.pid} did not report {model} within {timeout} s") from None
            if line["model"] == model and (wanted is None or wanted(line["state"])):
                return line

    def flip(self, models: tuple[str, ...] = ("notify",), timeout: float = 10.0, **fields) -> dict[str, list[float]]:
        """Commit the change; seconds until each worker saw it, per model ("notify", "ttl")."""
        index = {"enabled": 0, "everyone": 1, "percentage": 2}

        def wanted(state) -> bool:
            return state is not None and all(state[index[k]] == v for k, v in fields.items())

        started = commit_flip(self.conninfo, self.key, **fields)
        seen: dict[str, list[float]] = {m: [] for m in models}
        for watcher in self.watchers:
            pending = list(models)
            while pending:  # earlier lines (older states) are skipped
                try:
                    line = watcher.lines.get(timeout=timeout)
                except queue.Empty:
                    raise TimeoutError(
                        f"worker {watcher.process.pid} did not see the flip within {timeout} s"
                    ) from None
                if line["model"] in pending and wanted(line["state"]):
                    seen[line["model"]].append(line["t"] - started)
                    pending.remove(line["model"])
        return seen


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure_propagation(conninfo: dict, key: str, workers: int = 4, flips: int = 50, progress: bool = False) -> dict:
    """Flip `key`'s percentage `flips` times; for each flip, the time until every worker saw it."""
    from tqdm.auto import tqdm

    slowest: list[float] = []
    commit_flip(conninfo, key, enabled=True, everyone=False, percentage=0.0)  # flips below all change it
    with Workers(conninfo, key, workers) as pool:
        for i in tqdm(range(flips), desc="flips", disable=not progress):
            seen = pool.flip(percentage=float(1 + i % 99))
            slowest.append(max(seen["notify"]))
    return {"p50": statistics.median(slowest), "p95": percentile(slowest, 95), "all": slowest}
