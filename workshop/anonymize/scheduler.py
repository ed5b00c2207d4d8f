"""Run a graph of SQL jobs on a few connections, each job as soon as what it needs is done.

The graph is explicit: every job names the jobs it comes after, and graphlib's
TopologicalSorter (prepare / get_ready / done) says what is ready. One thread (the
caller's) schedules; a small pool of threads, one per connection, runs the jobs. Among
ready jobs the lowest priority goes first (the longest chain starts early, big index
builds do not end up last); `can_start` keeps two jobs apart that would only wait for
each other's locks.

Stopping lives in one place: on the first failure, or on Ctrl-C (KeyboardInterrupt in
the scheduling thread), the queries still running are cancelled on the server before
anything else happens, then their threads are joined, then the error is raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter


@dataclass(order=True)
class Job:
    priority: tuple
    name: str = field(compare=True, default="")  # unique in the graph; ties go by name
    kind: str = field(compare=False, default="")
    table: str = field(compare=False, default="")
    run: Callable = field(compare=False, default=None)  # conn -> int (rows, or 0)
    after: tuple = field(compare=False, default=())  # names of the jobs this one waits for
    can_start: Callable | None = field(compare=False, default=None)  # (running jobs) -> bool


def run(
    jobs: list[Job],
    connections: list,
    on_done: Callable[[Job, int], None] | None = None,
    cancel: Callable[[object], None] | None = None,
) -> list[tuple]:
    """Run the graph of `jobs` on `connections` (one job per connection at a time).

    cancel(conn): stop the query running on conn (default: conn.cancel_safe()), called
    for every busy connection when a job fails or the caller is interrupted.
    Returns the timeline: (connection index, kind, table, start, end) in perf_counter seconds.
    """
    by_name = {job.name: job for job in jobs}
    if len(by_name) != len(jobs):
        raise ValueError("job names must be unique")
    sorter = TopologicalSorter({job.name: job.after for job in jobs})
    sorter.prepare()  # raises CycleError on a planning bug
    pool = _Pool(connections)
    ready: list[Job] = []
    running: dict[int, Job] = {}  # connection index -> its job
    timeline: list[tuple] = []
    try:
        while sorter.is_active():
            ready.extend(by_name[name] for name in sorter.get_ready())
            for index in range(len(connections)):
                if index not in running:
                    job = _startable(ready, list(running.values()))
                    if job is None:
                        break
                    running[index] = job
                    pool.submit(index, job)
            if not running:  # a job whose can_start refused with nothing running: a planning bug
                raise RuntimeError(f"{len(ready)} jobs could never start")
            index, rows, began, ended, error = pool.results.get()
            job = running.pop(index)
            if error is not None:
                raise error
            timeline.append((index, job.kind, job.table, began, ended))
            if on_done is not None:
                on_done(job, rows)
            sorter.done(job.name)
    except BaseException:
        pool.stop(cancel or _cancel)
        raise
    finally:
        pool.close()
    return timeline


class _Pool:
    """One thread per connection, fed through its own queue; results come back on one queue.

    Threads are started before any job, and stopping never depends on where in the
    scheduling thread a KeyboardInterrupt lands: a flag (under a lock) keeps jobs from
    starting, every busy connection is cancelled, again until its thread is idle, and
    every thread is joined before run() returns, so no connection is still in use when
    the caller closes it.
    """

    def __init__(self, connections: list) -> None:
        self.connections = connections
        self.inboxes = [queue.SimpleQueue() for _ in connections]
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.busy: set[int] = set()
        self.stopping = False
        self.threads = [
            threading.Thread(target=self._work, args=(i,), daemon=True, name=f"anonymize-{i}")
            for i in range(len(connections))
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, index: int, job: Job) -> None:
        self.inboxes[index].put(job)

    def _work(self, index: int) -> None:
        while (job := self.inboxes[index].get()) is not None:
            with self.lock:
                if self.stopping:
                    continue
                self.busy.add(index)
            began, rows, error = time.perf_counter(), 0, None
            try:
                rows = job.run(self.connections[index]) or 0
            except BaseException as exc:  # noqa: BLE001 - handed to the scheduling thread
                error = exc
            finally:
                with self.lock:
                    self.busy.discard(index)
            self.results.put((index, rows, began, time.perf_counter(), error))

    def stop(self, cancel: Callable[[object], None]) -> None:
        with self.lock:
            self.stopping = True
        self.close(cancel)

    def close(self, cancel: Callable[[object], None] | None = None) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for thread in self.threads:
            while thread.is_alive():
                if cancel is not None:
                    # Again and again: a cancel that arrives just before its query is sent is lost.
                    with self.lock:
                        busy = list(self.busy)
                    for index in busy:
                        try:
                            cancel(self.connections[index])
                        except Exception:  # noqa: BLE001 - the connection may be gone already
                            pass
                thread.join(0.25)


def _cancel(conn) -> None:
    conn.cancel_safe()


def _startable(ready: list[Job], running: list[Job]) -> Job | None:
    """Pop the first ready job (by priority) allowed to start beside the running ones."""
    allowed = [job for job in ready if job.can_start is None or job.can_start(running)]
    if not allowed:
        return None
    job = min(allowed)
    ready.remove(job)
    return job
