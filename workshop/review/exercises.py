"""The notebook's exercises. Each check prints "well done" or "not yet: <hint>" (it never
raises on a wrong or missing answer) and returns True or False."""

from __future__ import annotations

import os
import re

from workshop.review import paths
from workshop.review.analyze import review
from workshop.review.git import Repo, text
from workshop.review.rules import FAIL, PASS
from workshop.review.split import imports_of


def _verdict(ok: bool, message: str) -> bool:
    print(("well done: " if ok else "not yet: ") + message)
    return ok


def check_split(
    path: str | os.PathLike, source: str = "feature/shop", base: str = "main", prefix: str = "split/"
) -> bool:
    """Exercise 1: branches split/1, split/2, ... stacked on `base`, each one a pull request
    that passes the size rule and fails no rule, each importing only what it or the parts
    below it contain, and together equal to `source`."""
    repo = Repo.open(path)
    listed = text(repo.git("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}")).split()
    branches = sorted(
        (b for b in listed if re.fullmatch(rf"{re.escape(prefix)}\d+", b)), key=lambda b: int(b[len(prefix) :])
    )
    if not branches:
        return _verdict(
            False,
            f"no {prefix}1, {prefix}2, ... branches yet: pick groups of files (the split "
            f"proposal is a good start) and build them with commit_stack(repo, {source!r}, groups)",
        )
    previous = base
    for branch in branches:
        if not repo.is_ancestor(repo.commit(previous), repo.commit(branch)):
            return _verdict(
                False, f"{branch} is not built on {previous}: each part of a stack starts from the one before it"
            )
        report = review(repo.root, base=previous, head=branch)
        size = report.result("size")
        if size.status != PASS:
            return _verdict(False, f"{branch} is still too large ({size.reason}): cut it into more parts")
        failed = [r.rule for r in report.results if r.status == FAIL]
        if failed:
            return _verdict(False, f"{branch} fails {', '.join(failed)}: run review() on it to see why")
        missing = _missing_imports(repo, report.change, repo.commit(source))
        if missing:
            return _verdict(
                False,
                f"{branch} imports {missing[0]}, which is not in it or below it: put the "
                "modules a part imports in the same part or an earlier one",
            )
        previous = branch
    if text(repo.git("rev-parse", f"{branches[-1]}^{{tree}}")) != text(repo.git("rev-parse", f"{source}^{{tree}}")):
        left = text(repo.git("diff", "--name-only", branches[-1], source, "--")).split()
        return _verdict(
            False,
            f"the stack does not add up to {source}: {', '.join(left[:4])} differ; every "
            "changed file must be in exactly one part",
        )
    return _verdict(
        True, f"{len(branches)} pull requests, each small enough to review in one sitting, that together make {source}"
    )


def _missing_imports(repo: Repo, change, source: str) -> list[str]:
    """Modules the part's Python files import that exist on `source` but not in the part."""
    python = [f for f in change.files if paths.is_python(f.path) and f.status != "deleted"]
    sources = repo.blobs([f"{change.head}:{f.path}" for f in python])
    modules = {m for f in python for m in imports_of(sources.get(f"{change.head}:{f.path}") or b"")}
    files = {m: (f"{m.replace('.', '/')}.py", f"{m.replace('.', '/')}/__init__.py") for m in modules}
    specs = [f"{commit}:{name}" for names in files.values() for name in names for commit in (source, change.head)]
    found = repo.sizes(specs)
    return sorted(
        m
        for m, names in files.items()
        if any(_exists(found, source, n) for n in names) and not any(_exists(found, change.head, n) for n in names)
    )


def _exists(found: dict[str, int | None], commit: str, name: str) -> bool:
    return found.get(f"{commit}:{name}") is not None


def check_description(path: str | os.PathLike, description: str | None, head: str = "feature/discount") -> bool:
    """Exercise 2: a description of `head` that passes the PR template check."""
    if not description:
        return _verdict(
            False,
            "write the description of feature/discount: copy the PR template, say what "
            "changes and why, and tick what is done",
        )
    result = review(path, head=head, description=description).result("description")
    if result.status != PASS:
        return _verdict(False, f"the description check says {result.status}: {result.reason}")
    return _verdict(True, result.reason)
