"""The job graph behind the anonymizer's build: order, exclusions, failures and Ctrl-C.

Pure coordination logic, so the "connections" here are small objects that record a
cancel; the engine tests run the same scheduler against PostgreSQL.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from workshop.anonymize.scheduler import Job, run


class FakeConn:
    """A stand-in connection: `cancel` wakes the job sleeping on it, as a server cancel would."""

    def __init__(self, name):
        self.name, self.cancelled = name, threading.Event()


def cancel(conn):
    conn.cancelled.set()


def test_a_job_runs_after_the_jobs_it_names_and_by_priority():
    order = []
    record = lambda name: lambda conn: order.append(name)  # noqa: E731
    jobs = [
        Job((5,), name="late", run=record("late")),
        Job((0,), name="first", run=record("first")),
        Job((9,), name="child", run=record("child"), after=("first",)),
        Job((0,), name="last", run=record("last"), after=("child", "late")),
    ]
    run(jobs, [FakeConn(0)])
    # One connection: the ready job with the lowest priority first; the child only
    # becomes ready when `first` is done, and its priority (9) puts it after `late` (5).
    assert order == ["first", "late", "child", "last"]


def test_a_cycle_is_a_planning_error():
    from graphlib import CycleError

    with pytest.raises(CycleError):
        run(
            [Job((0,), name="a", run=lambda c: 0, after=("b",)), Job((0,), name="b", run=lambda c: 0, after=("a",))],
            [FakeConn(0)],
        )


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
    jobs = [
        Job((0,), name="a", kind="a", run=job("a"), can_start=apart),
        Job((0,), name="b", kind="b", run=job("b"), can_start=apart),
        Job((1,), name="c", kind="c", run=job("c")),
    ]
    timeline = run(jobs, [FakeConn(0), FakeConn(1)])
    assert overlaps == []
    assert sorted(kind for _, kind, _, _, _ in timeline) == ["a", "b", "c"]


def test_the_first_failure_cancels_the_running_job_and_stops_the_rest():
    ran, cancelled = [], []

    def boom(conn):
        time.sleep(0.05)
        raise ValueError("broken statement")

    def long_query(conn):
        if not conn.cancelled.wait(30):  # a server query that only a cancel ends
            ran.append("finished uncancelled")
        cancelled.append(conn.name)
        raise RuntimeError("canceling statement due to user request")

    jobs = [Job((0,), name="boom", run=boom), Job((0,), name="long", run=long_query)] + [
        Job((1,), name=f"later{i}", run=lambda c, i=i: ran.append(i), after=("boom",)) for i in range(5)
    ]
    with pytest.raises(ValueError, match="broken statement"):
        run(jobs, [FakeConn(0), FakeConn(1)], cancel=cancel)
    assert ran == [] and len(cancelled) == 1


def test_ctrl_c_cancels_running_queries_before_returning():
    started, cancelled = threading.Event(), []

    def long_query(conn):
        started.set()
        conn.cancelled.wait(30)
        cancelled.append(conn.name)
        raise RuntimeError("canceling statement due to user request")

    def interrupt():
        started.wait(10)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run([Job((0,), name="long", run=long_query)], [FakeConn("worker")], cancel=cancel)
    assert cancelled == ["worker"]  # cancelled, and its thread finished, before run() raised
