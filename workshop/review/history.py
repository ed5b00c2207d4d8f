"""A repository's history in one pass: `git log --numstat` gives every commit's files and
lines at once (one process, instead of one diff per commit as PyDriller does), and the
counting skips lock, generated and vendored files as the review does.

Notebooks count as their JSON lines here (outputs included when they were committed): the
per-cell count of the review needs both versions of each notebook, too slow for a history.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from workshop.review import paths
from workshop.review.git import Repo, name, text

SLICE_MIN = 250  # commits: below that, one git process is quicker than starting several
COLUMNS = ["commit", "time", "author", "files", "added", "removed", "lines", "merge", "subject"]


@dataclass(frozen=True)
class Commit:
    commit: str
    time: int  # unix seconds, committer date
    author: str
    files: int
    added: int
    removed: int
    merge: bool
    subject: str

    @property
    def lines(self) -> int:
        return self.added + self.removed


def walk(
    path: str | os.PathLike = ".", ref: str = "HEAD", max_count: int | None = None, workers: int | None = None
) -> list[Commit]:
    """Every commit reachable from `ref` (newest first), with its counted files and lines.

    A long history is cut into slices (`--skip`/`--max-count`) read by one git process per
    core (at most 4, or `workers`) at the same time: git computes diffs only for the commits it prints."""
    repo = Repo.open(path)
    commit = repo.commit(ref)
    total = int(text(repo.git("rev-list", "--count", commit)).strip())
    total = min(total, max_count) if max_count else total
    slices = max(1, min(workers or os.cpu_count() or 1, 4, total // SLICE_MIN))
    size = -(-total // slices)
    with ThreadPoolExecutor(slices) as pool:
        outputs = list(pool.map(lambda i: _log(repo, commit, i * size, min(size, total - i * size)), range(slices)))
    return [c for out in outputs for c in _parse(out)]


def _log(repo: Repo, commit: str, skip: int, count: int) -> bytes:
    args = [
        "log",
        "-z",  # names NUL-terminated and never quoted; a rename's two names come whole
        "--numstat",
        "--find-renames",
        "--no-color",
        "--no-textconv",
        "--no-relative",
        "--format=%x1e%H%x00%ct%x00%an%x00%P%x00%s",
        f"--skip={skip}",
        f"--max-count={count}",
    ]
    return repo.git(*args, commit, "--")


def numstat_entries(body: bytes) -> list[tuple[str, str, str]]:
    """(added, removed, new name) from `--numstat -z`: `a\tr\tname\0`, or for a rename
    `a\tr\t\0old\0new\0`."""
    fields = body.lstrip(b"\n").split(b"\0")
    entries, i = [], 0
    while i < len(fields):
        if not fields[i]:
            i += 1
            continue
        plus, minus, path = fields[i].split(b"\t", 2)
        if not path:  # a rename: the old and new names follow
            path, i = fields[i + 2], i + 3
        else:
            i += 1
        entries.append((plus.decode(), minus.decode(), name(path)))
    return entries


def _parse(out: bytes) -> list[Commit]:
    commits = []
    for record in out.split(b"\x1e")[1:]:
        header, found, body = record.partition(b"\0\n")
        if not found:  # a commit without a diff (a merge): no numstat part
            header, body = record.rstrip(b"\0"), b""
        sha, when, author, parents, subject = text(header).split("\x00", 4)
        files = added = removed = 0
        for plus, minus, path in numstat_entries(body):
            if paths.not_counted(path):
                continue
            files += 1
            if plus != "-":  # binary files count as a file, without lines
                added += int(plus)
                removed += int(minus)
        commits.append(Commit(sha, int(when), author, files, added, removed, len(parents.split()) > 1, subject))
    return commits


def history(path: str | os.PathLike = ".", ref: str = "HEAD", max_count: int | None = None):
    """The walk as a pandas DataFrame, oldest first, with the hours since the previous commit."""
    import pandas as pd

    commits = walk(path, ref, max_count)
    frame = pd.DataFrame(
        [
            (c.commit, c.time, c.author, c.files, c.added, c.removed, c.lines, c.merge, c.subject)
            for c in reversed(commits)
        ],
        columns=COLUMNS,
    )
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame["hours_since_previous"] = frame["time"].diff().dt.total_seconds() / 3600
    return frame


def summary(frame, threshold: int = 400) -> dict:
    """Counts and medians of a history (merges left out of the sizes), rounded for display."""
    changes = frame[~frame["merge"]]
    any_change = len(changes) > 0
    return {
        "commits": len(frame),
        "merges": int(frame["merge"].sum()),
        "median changed lines": round(float(changes["lines"].median()), 1) if any_change else 0.0,
        "median files": round(float(changes["files"].median()), 1) if any_change else 0.0,
        f"share over {threshold} lines": round(float((changes["lines"] > threshold).mean()), 3) if any_change else 0.0,
        "median hours between commits": round(float(frame["hours_since_previous"].median()), 2)
        if len(frame) > 1
        else 0.0,
    }


def plot_history(frame, threshold: int = 400, title: str = ""):
    """Three panels: lines per commit over time, the share over the threshold per period,
    and the time between commits."""
    import matplotlib.pyplot as plt
    import numpy as np

    changes = frame[~frame["merge"]]
    fig, (sizes, share, gaps) = plt.subplots(1, 3, figsize=(13, 3.4))
    over = changes["lines"] > threshold
    sizes.scatter(changes["time"], changes["lines"].clip(lower=1), s=10, c=np.where(over, "#c44e52", "#4c72b0"))
    sizes.axhline(threshold, color="#c44e52", linestyle="--", linewidth=1, label=f"{threshold} lines")
    sizes.set_yscale("log")
    sizes.set_ylabel("changed lines per commit")
    sizes.legend(loc="upper left", fontsize=8)
    sizes.tick_params(axis="x", labelrotation=30, labelsize=8)
    span = (changes["time"].max() - changes["time"].min()) if len(changes) else None
    period = "D" if span is not None and span.days < 60 else "W" if span is not None and span.days < 400 else "M"
    if len(changes):
        shares = over.groupby(changes["time"].dt.tz_localize(None).dt.to_period(period)).mean()
        share.bar([p.start_time.strftime("%Y-%m-%d") for p in shares.index], shares.values, color="#c44e52")
        share.tick_params(axis="x", labelrotation=60, labelsize=7)
        step = max(1, len(shares) // 12)
        for i, label in enumerate(share.get_xticklabels()):
            label.set_visible(i % step == 0)
    share.set_ylim(0, 1)
    share.set_ylabel(f"share of commits over {threshold} lines")
    share.set_title({"D": "per day", "W": "per week", "M": "per month"}[period], fontsize=9)
    hours = frame["hours_since_previous"].dropna()
    hours = hours[hours > 0]
    if len(hours):
        gaps.hist(
            hours,
            bins=np.logspace(np.log10(max(hours.min(), 1 / 60)), np.log10(hours.max() * 1.01 + 1e-9), 30),
            color="#55a868",
        )
        gaps.set_xscale("log")
    gaps.set_xlabel("hours since the previous commit")
    gaps.set_ylabel("commits")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
