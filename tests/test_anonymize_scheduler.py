"""The job scheduler behind the anonymizer's build: order, exclusions and failures.

Pure coordination logic, so the "connections" here are labels; the engine tests run the
same scheduler against PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest

from workshop.anonymize.scheduler import Job, run


def test_a_job_runs_after_the_job_that_unblocks_it_and_by_priority():
    order = []
    record = lambda name: (lambda conn: order.append(name))  # noqa: E731
    late = Job((5,), kind="late", run=record("late"))
    first = Job((0,), kind="first", run=record("first"), then=lambda rows: [Job((9,), kind="child", run=record("child"))])
    run([late, first], ["only connection"])
    # One connection: the ready job with the lowest priority first; the child only
    # becomes ready when `first` is done, and its priority (9) puts it after `late` (5).
    assert order == ["first", "late", "child"]


def test_can_start_keeps_two_jobs_apart():
    active, overlaps = set(), []
    lock = threading.Lock()

    def job(name):
        def work(conn):
            with lock:
                if name in ("a", "b") and active & {"a", "b"}:
                    overlaps.append(name)
                active.add(name)
            time.sleep(0.05)
            with lock:
                active.discard(name)
        return work

    apart = lambda running: not any(j.kind in ("a", "b") for j in running)  # noqa: E731
    jobs = [Job((0,), kind="a", run=job("a"), can_start=apart), Job((0,), kind="b", run=job("b"), can_start=apart),
            Job((1,), kind="c", run=job("c"))]
    timeline = run(jobs, [0, 1])
    assert overlaps == []
    assert sorted(kind for _, kind, _, _, _ in timeline) == ["a", "b", "c"]


def test_the_first_failure_stops_the_rest_and_is_raised():
    ran = []

    def boom(conn):
        raise ValueError("broken statement")

    jobs = [Job((0,), kind="boom", run=boom)] + [Job((1,), kind=f"later{i}", run=lambda c, i=i: ran.append(i)) for i in range(5)]
    with pytest.raises(ValueError, match="broken statement"):
        run(jobs, ["one connection"])
    assert ran == []
