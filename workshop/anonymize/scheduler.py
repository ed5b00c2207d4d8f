"""Run SQL jobs on a few connections, each job as soon as what it needs is done.

A job is a function of a connection. When it finishes, its `then` callback (run under
the scheduler's lock) returns the jobs it unblocked, e.g. a table's last copied id range
unblocks its analyze, which unblocks its index builds. The ready job with the lowest
priority goes first, so the longest chain (the table with pseudonyms to fix) starts
early and the big index builds do not end up last. The first failure stops everything.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(order=True)
class Job:
    priority: tuple
    order: int = field(init=False, default=0)  # ties keep submission order
    kind: str = field(compare=False, default="")
    table: str = field(compare=False, default="")
    run: Callable = field(compare=False, default=None)  # conn -> int (rows, or 0)
    then: Callable | None = field(compare=False, default=None)  # (rows) -> list[Job], under the lock
    can_start: Callable | None = field(compare=False, default=None)  # (running jobs) -> bool, under the lock


def run(jobs: list[Job], connections: list, on_done: Callable[[Job, int], None] | None = None) -> list[tuple]:
    """Run `jobs` and every job they unblock; one thread per connection.

    Returns the timeline: (connection index, kind, table, start, end) in perf_counter seconds.
    """
    ready: list[Job] = []
    counter = itertools.count()
    cond = threading.Condition()
    state = {"error": None}
    running: list[Job] = []
    timeline: list[tuple] = []

    def push(new: list[Job]) -> None:
        for job in new:
            job.order = next(counter)
            ready.append(job)

    push(jobs)

    def work(index: int, conn) -> None:
        while True:
            with cond:
                while True:
                    job = _startable(ready, running)
                    if job is not None or state["error"] is not None or not running:
                        break
                    cond.wait()
                if state["error"] is not None or job is None:
                    cond.notify_all()
                    return
                running.append(job)
            began = time.perf_counter()
            try:
                rows = job.run(conn) or 0
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                with cond:
                    state["error"] = state["error"] or exc
                    running.remove(job)
                    cond.notify_all()
                return
            with cond:
                timeline.append((index, job.kind, job.table, began, time.perf_counter()))
                try:
                    if on_done is not None:
                        on_done(job, rows)
                    if job.then is not None:
                        push(job.then(rows))
                except BaseException as exc:  # noqa: BLE001
                    state["error"] = state["error"] or exc
                running.remove(job)
                cond.notify_all()

    threads = [threading.Thread(target=work, args=(i, c), daemon=True, name=f"anonymize-{i}")
               for i, c in enumerate(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if state["error"] is not None:
        raise state["error"]
    if ready:  # a job whose can_start refused even with nothing running: a planning bug
        raise RuntimeError(f"{len(ready)} jobs could never start")
    return timeline


def _startable(ready: list[Job], running: list[Job]) -> Job | None:
    """Pop the first ready job (by priority) allowed to start beside the running ones."""
    allowed = [job for job in ready if job.can_start is None or job.can_start(running)]
    if not allowed:
        return None
    job = min(allowed)
    ready.remove(job)
    return job
