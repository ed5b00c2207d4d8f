"""`workshop bench review`: the secret detector's recall and precision on its labelled corpus
beside detect-secrets; the history walk of a generated 1,000-commit repository against PyDriller
doing the same walk (files and lines per commit, lock files left out), both timed the same way;
and the review of one large branch (>= 10,000 changed lines over 200 files, ruff included).

WORKSHOP_BENCH_REVIEW_COMMITS=200 makes a quick run while developing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from workshop.bench import Result, benchmark
from workshop.errors import WorkshopError

COMMITS = int(os.environ.get("WORKSHOP_BENCH_REVIEW_COMMITS", "1000"))
RUNS = 3  # timed runs of each walk, alternated (ours, PyDriller, ours, ...) so both meet the same load


def pydriller_walk(path: Path) -> list[tuple[str, int, int, int]]:
    """What history.walk computes, the PyDriller way: one diff per commit."""
    from pydriller import Repository

    from workshop.review import paths

    rows = []
    for commit in Repository(str(path)).traverse_commits():
        files = [m for m in commit.modified_files if not paths.not_counted(m.new_path or m.old_path)]
        rows.append((commit.hash, len(files), sum(m.added_lines for m in files), sum(m.deleted_lines for m in files)))
    return rows


def same_counts(ours, theirs: list[tuple[str, int, int, int]]) -> None:
    """Both walks must count the same files and lines for every commit: a speed-up that changes
    the answer is no speed-up, so a difference stops the benchmark."""
    mine = {c.commit: (c.files, c.added, c.removed) for c in ours}
    other = {sha: (files, added, removed) for sha, files, added, removed in theirs}
    differing = sorted(sha for sha in mine.keys() | other.keys() if mine.get(sha) != other.get(sha))
    if differing:
        sha = differing[0]
        raise WorkshopError(
            f"history.walk and PyDriller disagree on {len(differing)} of {len(mine | other)} commits "
            f"(first {sha[:10]}: ours {mine.get(sha)}, PyDriller {other.get(sha)}, as files/added/removed)",
            "fix the walk before timing it: the figures compare the same answer or nothing",
        )


def timed_in_child(func) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of func() run in a forked child of this process: imports and
    the page cache are already warm for every tool alike, and the child's rusage from wait4 counts
    its own CPU and that of every git process it waited for (PyDriller's persistent ones too)."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: run, and leave without running the parent's cleanup
        code = 1
        try:
            func()
            code = 0
        finally:
            os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"the timed run failed in its child process (status {status})")
    return wall, usage.ru_utime + usage.ru_stime


def compare_walks(root: Path) -> dict:
    """Both walks warm (imported, one untimed run each, whose answers must agree), then timed
    alternately, each in a fresh child, one git process at a time for both; ours also with its
    parallel slices (PyDriller's num_workers threads only hand out commits, its diffs stay
    sequential in this walk, so there is no like-for-like parallel PyDriller to set beside it)."""
    import pydriller  # noqa: F401  (imported outside the timing, as ours is)

    from workshop.review import history

    ours = history.walk(root, workers=1)
    theirs = pydriller_walk(root)
    same_counts(ours, theirs)
    same_counts(history.walk(root), theirs)  # the parallel walk gives the same answer too
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "pydriller": [], "ours_parallel": []}
    for _ in range(RUNS):
        runs["ours"].append(timed_in_child(lambda: history.walk(root, workers=1)))
        runs["pydriller"].append(timed_in_child(lambda: pydriller_walk(root)))
        runs["ours_parallel"].append(timed_in_child(lambda: history.walk(root)))
    median = {
        name: (statistics.median(w for w, _ in times), statistics.median(c for _, c in times))
        for name, times in runs.items()
    }
    return {"commits": len(ours), "runs": runs, "median": median}


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


@benchmark(
    "review",
    "history walk of 1,000 generated commits vs PyDriller; review of a 10k-line, 200-file branch",
    names=(
        "review.secrets_recall",
        "review.secrets_precision",
        "review.commits_per_second",
        "review.vs_pydriller_ratio",
        "review.walk_parallel_seconds",
        "review.large_diff_seconds",
    ),
)
def bench_review() -> list[Result]:
    from workshop.review import review
    from workshop.review.synthetic import add_large_branch, generate_history

    secret_results = secrets_results()
    with tempfile.TemporaryDirectory(prefix="workshop-bench-review-") as tmp:
        print(f"review bench: generating {COMMITS:,} commits", file=sys.stderr, flush=True)
        repo = generate_history(Path(tmp) / "history", COMMITS)
        print(f"  history.walk and PyDriller, warm, {RUNS} alternated runs each...", file=sys.stderr, flush=True)
        walks = compare_walks(repo.root)
        (walk, walk_cpu), (theirs, theirs_cpu) = walks["median"]["ours"], walks["median"]["pydriller"]
        parallel, parallel_cpu = walks["median"]["ours_parallel"]
        print(f"  {walks['commits']:,} commits: ours {walk:.2f} s, PyDriller {theirs:.1f} s", file=sys.stderr)
        add_large_branch(repo)
        cold_started = time.perf_counter()
        report = review(repo.root, base="main", head="large")
        cold = time.perf_counter() - cold_started
        large_runs = []
        for _ in range(3):
            started = time.perf_counter()
            review(repo.root, base="main", head="large")
            large_runs.append(time.perf_counter() - started)
        large = statistics.median(large_runs)
        change = report.change
        print(
            f"  review of the large branch: {change.lines:,} lines, {len(change.files)} files in {large:.2f} s "
            f"(first run {cold:.2f} s)",
            file=sys.stderr,
        )
    commits = walks["commits"]
    lint = report.result("lint")

    def listed(name: str) -> str:
        return ", ".join(f"{w:.2f} s wall / {c:.2f} s CPU" for w, c in walks["runs"][name])

    how = (
        f"both warm (imported, one untimed run), timed in a forked child each (CPU from wait4: process + "
        f"git), median of {RUNS} alternated runs, one git process at a time; {os.cpu_count()} cores"
    )
    return [
        *secret_results,
        Result(
            "review.commits_per_second",
            commits / walk,
            "commits/s",
            baseline=commits / theirs,
            ratio=theirs / walk,
            note=f"{commits:,} commits, {how}; ours {listed('ours')}; goal >= 2,000 commits/s",
        ),
        Result(
            "review.vs_pydriller_ratio",
            walk,
            "s",
            baseline=theirs,
            ratio=theirs / walk,
            note=f"wall {theirs:.2f} s vs {walk:.2f} s; CPU time {theirs_cpu:.2f} s vs {walk_cpu:.2f} s: "
            f"{theirs_cpu / walk_cpu:.0f}x; same files and lines for every commit (checked, a difference is an "
            f"error); PyDriller {listed('pydriller')}; goal >= 20x",
        ),
        Result(
            "review.walk_parallel_seconds",
            parallel,
            "s",
            baseline=walk,
            ratio=walk / parallel,
            note=f"ours with one git process per core (at most 4) vs ours with one: CPU {parallel_cpu:.2f} s vs "
            f"{walk_cpu:.2f} s; no PyDriller figure beside it: its num_workers threads hand out commits but "
            "its diffs stay sequential in this walk",
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


def live(commits: int = 200) -> list[Result]:
    """The notebook's small version (chapter 01, "How fast?"): a generated history of `commits`
    commits walked by history.walk and by PyDriller, once each after an untimed warm-up, in this
    process (the recorded run times each in a forked child, median of 3)."""
    from workshop.review import history
    from workshop.review.synthetic import generate_history

    with tempfile.TemporaryDirectory(prefix="workshop-live-review-") as tmp:
        root = generate_history(Path(tmp) / "history", commits).root
        ours, theirs = history.walk(root, workers=1), pydriller_walk(root)
        same_counts(ours, theirs)  # warm-up, and the same answer before any time counts
        started = time.perf_counter()
        history.walk(root, workers=1)
        walk = time.perf_counter() - started
        started = time.perf_counter()
        pydriller_walk(root)
        other = time.perf_counter() - started
    return [
        Result(
            "review.commits_per_second",
            len(ours) / walk,
            "commits/s",
            baseline=len(ours) / other,
            ratio=other / walk,
            note=f"{len(ours)} commits, one run each, warm; baseline: PyDriller",
        )
    ]
