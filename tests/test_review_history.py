"""The history walk (one `git log --numstat` pass) against PyDriller's per-commit diffs on
the same repository, and the chart."""

from __future__ import annotations

import pytest

from workshop.review import history
from workshop.review.examples import Builder


@pytest.fixture
def repo(tmp_path):
    b = Builder(tmp_path / "history")
    b.commit("one", {"app/a.py": "A = 1\n" * 10, "poetry.lock": "x\n" * 100}, hours=1)
    b.commit("two", {"app/a.py": "A = 2\n" * 5, "app/b.py": "B = 1\n" * 500}, hours=2)
    b.branch("feature")
    b.commit("three", {"app/c.py": "C = 1\n"}, hours=5)
    b.git("checkout", "--quiet", "main")
    b.commit("four", {"docs/x.md": "x\n", "static/logo.png": b"\x89PNG\x00" * 50}, hours=24)
    b.git("merge", "--quiet", "--no-ff", "--no-edit", "feature")
    b.write({"app/b.py": None})
    b.commit("five: rename", {"app/renamed.py": "B = 1\n" * 500}, hours=1)
    return b.repo.root


def test_walk_counts_files_and_lines_without_lock_files(repo):
    commits = {c.subject: c for c in history.walk(repo)}
    assert (commits["one"].files, commits["one"].lines) == (1, 10)  # poetry.lock not counted
    assert (commits["two"].files, commits["two"].added, commits["two"].removed) == (2, 505, 10)
    assert (commits["four"].files, commits["four"].lines) == (2, 1)  # the PNG is a file without lines
    assert commits["Merge branch 'feature'"].merge
    assert (commits["five: rename"].files, commits["five: rename"].lines) == (1, 0)


def test_names_git_would_quote_are_classified_by_their_real_name(tmp_path):
    """A lock file in a folder with a tab, and a rename between odd names: `git log -z` gives
    the names whole, so the lock file is left out and the renamed module is counted."""
    b = Builder(tmp_path / "odd")
    b.commit("odd", {"deps/tab\tdir/poetry.lock": "x\n" * 100, 'app/"quoted".py': "A = 1\n"})
    b.write({'app/"quoted".py': None})
    b.commit("move", {"app/new\nline.py": "A = 1\nB = 2\n", "vendor/x\ty/lib.py": "L = 1\n" * 50})
    commits = {c.subject: c for c in history.walk(b.repo.root)}
    assert (commits["odd"].files, commits["odd"].lines) == (1, 1)
    assert (commits["move"].files, commits["move"].added, commits["move"].removed) == (1, 1, 0)


def test_same_numbers_as_pydriller(repo):
    """PyDriller (the baseline of `workshop bench review`) diffs each commit on its own: the
    totals of every non-merge commit must agree with our single pass."""
    pydriller = pytest.importorskip("pydriller", reason="PyDriller is in the test extra")
    ours = {c.commit: c for c in history.walk(repo) if not c.merge}
    theirs = {}
    for commit in pydriller.Repository(str(repo)).traverse_commits():
        if commit.merge:
            continue
        files = [m for m in commit.modified_files if not history.paths.not_counted(m.new_path or m.old_path)]
        theirs[commit.hash] = (len(files), sum(m.added_lines for m in files), sum(m.deleted_lines for m in files))
    assert {sha: (c.files, c.added, c.removed) for sha, c in ours.items()} == theirs


def test_history_frame_summary_and_plot(repo):
    frame = history.history(repo)
    assert list(frame["subject"])[0] == "one" and frame["hours_since_previous"].iloc[1] == 2
    stats = history.summary(frame, threshold=100)
    assert (
        stats["commits"] == 6 and stats["merges"] == 1 and stats["share over 100 lines"] == pytest.approx(1 / 5)
    )  # "two" alone
    fig = history.plot_history(frame, threshold=100)
    assert len(fig.axes) == 3


def test_the_benchmark_stops_when_the_walks_disagree(repo):
    """`workshop bench review` times two walks only if they give the same answer."""
    pytest.importorskip("pydriller", reason="PyDriller is in the test extra")
    from workshop.errors import WorkshopError
    from workshop.review.bench import pydriller_walk, same_counts

    ours, theirs = history.walk(repo, workers=1), pydriller_walk(repo)
    same_counts(ours, theirs)  # they agree on this repository
    sha, files, added, removed = theirs[0]
    with pytest.raises(WorkshopError, match=r"disagree on 1 of 6 commits"):
        same_counts(ours, [(sha, files, added + 1, removed), *theirs[1:]])


def test_timing_counts_the_cpu_of_the_child_s_processes():
    """The walks are timed in a forked child; its CPU time includes the processes it ran (git
    for us, git through GitPython for PyDriller), not only the Python process's own."""
    import subprocess
    import sys

    from workshop.review.bench import timed_in_child

    burn = [sys.executable, "-c", "sum(i * i for i in range(3_000_000))"]
    wall, cpu = timed_in_child(lambda: subprocess.run(burn, check=True))
    assert cpu >= 0.05 and wall > 0  # a few hundred ms of a grandchild's CPU, not ~0
