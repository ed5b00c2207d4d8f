"""`workshop bench review`: the history walk of a generated 1,000-commit repository against
PyDriller doing the same walk (files and lines per commit, lock files left out), and the
review of one large branch (>= 10,000 changed lines over 200 files, ruff included).

WORKSHOP_BENCH_REVIEW_COMMITS=200 makes a quick run while developing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from workshop.bench import Result, benchmark

COMMITS = int(os.environ.get("WORKSHOP_BENCH_REVIEW_COMMITS", "1000"))
RUNS = 5


def pydriller_walk(path: Path) -> list[tuple[str, int, int, int]]:
    """What history.walk computes, the PyDriller way: one diff per commit."""
    from pydriller import Repository

    from workshop.review import paths

    rows = []
    for commit in Repository(str(path)).traverse_commits():
        files = [m for m in commit.modified_files if not paths.not_counted(m.new_path or m.old_path)]
        rows.append((commit.hash, len(files), sum(m.added_lines for m in files), sum(m.deleted_lines for m in files)))
    return rows


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (git): on a shared machine, wall
    time measures the neighbours too."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _median_seconds(func, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def secrets_results() -> list[Result]:
    """Recall and precision on the labelled corpus, detect-secrets' beside them (same lines)."""
    from workshop.review.secrets_compare import compare

    ours, theirs, wins = compare()
    where = {
        tool: ", ".join(f"{what} {n}" for what, n in counts.most_common()) or "nowhere" for tool, counts in wins.items()
    }
    corpus = f"{len(ours.rows)} labelled lines ({sum(r.label for r in ours.rows)} secrets), workshop/review/secrets_corpus.tsv"
    notes = {
        "recall": f"baseline: detect-secrets (default plugins) on the same {corpus}; goal >= 0.95. "
        f"Lines only ours gets right: {where[ours.tool]}",
        "precision": f"baseline: detect-secrets; goal >= 0.9. Lines only detect-secrets gets right: {where[theirs.tool]}",
    }
    return [
        Result(
            f"review.secrets_{metric}",
            getattr(ours, metric),
            "share",
            baseline=getattr(theirs, metric),
            ratio=getattr(ours, metric) / getattr(theirs, metric),
            note=note,
        )
        for metric, note in notes.items()
    ]


@benchmark("review", "history walk of 1,000 generated commits vs PyDriller; review of a 10k-line, 200-file branch")
def bench_review() -> list[Result]:
    from workshop.review import history, review
    from workshop.review.synthetic import add_large_branch, generate_history

    with tempfile.TemporaryDirectory(prefix="workshop-bench-review-") as tmp:
        print(f"review bench: generating {COMMITS:,} commits", file=sys.stderr, flush=True)
        repo = generate_history(Path(tmp) / "history", COMMITS)
        ours = history.walk(repo.root)  # warm-up (page cache, imports)
        cpu = cpu_seconds()
        walk, walk_runs = _median_seconds(lambda: history.walk(repo.root), RUNS)
        walk_cpu = (cpu_seconds() - cpu) / RUNS
        print(f"  history.walk: {len(ours):,} commits in {walk:.3f} s (median of {RUNS})", file=sys.stderr)
        print("  PyDriller: the same walk (one diff per commit)...", file=sys.stderr, flush=True)
        started, cpu = time.perf_counter(), cpu_seconds()
        theirs = pydriller_walk(repo.root)
        pydriller, pydriller_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        print(f"  PyDriller: {len(theirs):,} commits in {pydriller:.1f} s", file=sys.stderr)
        same = {c.commit: (c.files, c.added, c.removed) for c in ours} == {h: (f, a, d) for h, f, a, d in theirs}
        add_large_branch(repo)
        cold_started = time.perf_counter()
        report = review(repo.root, base="main", head="large")
        cold = time.perf_counter() - cold_started
        large, large_runs = _median_seconds(lambda: review(repo.root, base="main", head="large"), 3)
        change = report.change
        print(
            f"  review of the large branch: {change.lines:,} lines, {len(change.files)} files in {large:.2f} s "
            f"(first run {cold:.2f} s)",
            file=sys.stderr,
        )
    rate, baseline_rate = len(ours) / walk, len(theirs) / pydriller
    secret_results = secrets_results()
    lint = report.result("lint")
    return [
        *secret_results,
        Result(
            "review.commits_per_second",
            rate,
            "commits/s",
            baseline=baseline_rate,
            ratio=rate / baseline_rate,
            note=f"{len(ours):,} commits, median of {RUNS} walks ({', '.join(f'{t:.2f}' for t in walk_runs)} s), "
            f"one `git log --numstat` per core; {os.cpu_count()} cores; goal >= 2,000 commits/s",
        ),
        Result(
            "review.vs_pydriller_ratio",
            walk,
            "s",
            baseline=pydriller,
            ratio=pydriller / walk,
            note=f"PyDriller {pydriller:.1f} s for the same commits; same files and lines per commit: "
            f"{'yes' if same else 'NO'}; CPU time (process + git) {walk_cpu:.2f} s vs {pydriller_cpu:.1f} s: "
            f"{pydriller_cpu / walk_cpu:.0f}x; goal >= 20x",
        ),
        Result(
            "review.large_diff_seconds",
            large,
            "s",
            note=f"{change.lines:,} changed lines in {len(change.files)} files, every rule, ruff "
            f"({len(lint.findings)} findings the change introduced) and the split proposal "
            f"({len(report.split)} PRs); median of 3 ({', '.join(f'{t:.2f}' for t in large_runs)} s), "
            f"first run {cold:.2f} s; goal <= 2 s",
        ),
    ]
