"""Build a stack of branches from a list of file groups, without touching the working tree:
each branch is its parent plus the files of its group taken from the source branch
(plumbing through a private index: read-tree, update-index, write-tree, commit-tree)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.review.examples import AUTHOR
from workshop.review.git import Repo, run, text

ZERO = "0" * 40


def commit_stack(
    path: str | os.PathLike, source: str, parts: list[list[str]], base: str = "main", prefix: str = "split/"
) -> list[str]:
    """Branches `<prefix>1`..`<prefix>n`: part k holds the files of parts[k-1] as they are on
    `source`, on top of part k-1 (part 1 on top of `base`). Returns the branch names."""
    repo = Repo.open(path)
    source_commit, parent = repo.commit(source), repo.commit(base)
    if not parts or not all(isinstance(p, (list, tuple)) and p for p in parts):
        raise WorkshopError("Each part must be a non-empty list of file paths", "e.g. [['a.py'], ['b.py', 'c.py']]")
    for stale in text(repo.git("for-each-ref", "--format=%(refname)", f"refs/heads/{prefix}")).split():
        repo.git("update-ref", "-d", stale)  # a previous attempt's branches
    names = []
    with tempfile.TemporaryDirectory(prefix="workshop-stack-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **AUTHOR}
        for number, files in enumerate(parts, 1):
            run(repo.root, "read-tree", parent, env=env)
            listed = text(repo.git("ls-tree", "-z", "--full-tree", source_commit, "--", *files)).split("\0")
            entries = {line.split("\t", 1)[1]: line.split("\t", 1)[0] for line in listed if "\t" in line}
            lines = []
            for name in files:
                if name in entries:
                    mode, _, sha = entries[name].split()
                    lines.append(f"{mode} {sha}\t{name}")
                else:  # deleted on the source branch
                    lines.append(f"0 {ZERO}\t{name}")
            run(repo.root, "update-index", "--index-info", input="\n".join(lines).encode() + b"\n", env=env)
            tree = text(run(repo.root, "write-tree", env=env).stdout).strip()
            message = f"Part {number} of {len(parts)} of {source}: {', '.join(files[:4])}" + (
                " ..." if len(files) > 4 else ""
            )
            parent = text(run(repo.root, "commit-tree", tree, "-p", parent, "-m", message, env=env).stdout).strip()
            names.append(f"{prefix}{number}")
            repo.git("update-ref", f"refs/heads/{names[-1]}", parent)
    return names
