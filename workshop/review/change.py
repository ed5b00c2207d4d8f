"""Which change to review: the head (default HEAD) against its merge-base with the base
(default main or master), the way a pull request shows it."""

from __future__ import annotations

import os

from workshop.errors import WorkshopError
from workshop.review.diff import Change, diff_files
from workshop.review.git import Repo, text


def load_change(path: str | os.PathLike = ".", base: str | None = None, head: str = "HEAD") -> Change:
    repo = Repo.open(path)
    head_commit = repo.commit(head)
    if base is None:
        base = repo.main_branch()
        if base is None:
            raise WorkshopError(
                f"{repo.root} has no main or master branch to compare with",
                "pass the base explicitly, e.g. --base develop or --base HEAD~3",
            )
    base_commit = repo.commit(base)
    merge_base = repo.merge_base(base_commit, head_commit)
    if merge_base is None:
        if text(repo.git("rev-parse", "--is-shallow-repository")).strip() == "true":
            raise WorkshopError(
                f"{head} and {base} share no commit in this shallow clone of {repo.root}: their common "
                "history was not fetched",
                "fetch more history: `git fetch --deepen=200` or `git fetch --unshallow` "
                "(in GitHub Actions, actions/checkout with fetch-depth: 0)",
            )
        raise WorkshopError(
            f"{head} and {base} share no history in {repo.root}",
            "pick a base the branch was started from (`git log --oneline --graph --all` shows them)",
        )
    log = text(repo.git("log", "--reverse", "--format=%h%x00%s%x00%P", f"{merge_base}..{head_commit}", "--"))
    commits, merges = [], 0
    for line in log.splitlines():
        short, subject, parents = line.split("\0")
        commits.append((short, subject))
        merges += len(parents.split()) > 1
    head_ref = head if head != "HEAD" else (repo.current_branch or "HEAD")
    return Change(
        repo=repo,
        base=merge_base,
        head=head_commit,
        base_ref=base,
        head_ref=head_ref,
        files=diff_files(repo, merge_base, head_commit),
        commits=commits,
        merges=merges,
    )
