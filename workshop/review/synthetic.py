"""Generated repositories for the benchmark: a long history written with one
`git fast-import` stream (seconds for a thousand commits, instead of a process per commit),
and a large branch on top of it."""

from __future__ import annotations

import random
from pathlib import Path

from workshop.review.examples import AUTHOR, START, module_source
from workshop.review.git import Repo, run

IDENT = f"{AUTHOR['GIT_AUTHOR_NAME']} <{AUTHOR['GIT_AUTHOR_EMAIL']}>"


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _commit(ref: str, mark: int, when: int, message: str, parent: int | None, changes: dict[str, bytes]) -> bytes:
    out = [
        b"commit %s\nmark :%d\n" % (ref.encode(), mark),
        b"author %s %d +0000\ncommitter %s %d +0000\n" % (IDENT.encode(), when, IDENT.encode(), when),
        _data(message.encode()),
    ]
    if parent:
        out.append(b"from :%d\n" % parent)
    for path, content in changes.items():
        out.append(b"M 100644 inline %s\n" % path.encode())
        out.append(_data(content))
    return b"".join(out)


def generate_history(path: str | Path, commits: int = 1000, seed: int = 42) -> Repo:
    """`commits` commits on main over ~80 modules: sizes drawn from a log-normal (median
    ~25 lines, a long tail past 1,000), 1-8 files each, a lock file now and then."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    run(root, "init", "--quiet", "--initial-branch=main")
    rng = random.Random(seed)
    modules = [f"app/pkg{k}/mod{j}.py" for k in range(8) for j in range(10)]
    files: dict[str, list[bytes]] = {}
    stream, when = [], START
    for number in range(1, commits + 1):
        when += int(rng.expovariate(1 / 7200)) + 60  # ~2 h between commits, at least a minute
        touched = rng.sample(modules, min(len(modules), 1 + int(rng.paretovariate(1.6)) % 8))
        budget = max(1, int(rng.lognormvariate(3.2, 1.3)))  # median e^3.2 ~ 25 changed lines
        changes = {}
        for path in touched:
            lines = files.setdefault(path, [])
            share = max(1, budget // len(touched))
            start = rng.randrange(len(lines) + 1)
            removed = min(len(lines) - start, rng.randrange(share // 2 + 1), max(0, len(lines) - 400))
            new = [b"VALUE_%d_%d = %d\n" % (number, i, rng.randrange(1000)) for i in range(share)]
            lines[start : start + removed] = new
            if len(lines) > 500:  # keep files reviewable: trim from the top
                del lines[: len(lines) - 500]
            changes[path] = b"".join(lines)
        if number % 25 == 0:
            changes["poetry.lock"] = b"".join(b'[[package]]\nname = "p%d"\n' % i for i in range(number // 5))
        stream.append(
            _commit("refs/heads/main", number, when, f"Change {number}", number - 1 if number > 1 else None, changes)
        )
    run(root, "fast-import", "--quiet", "--done", input=b"".join(stream) + b"done\n")
    # fast-import's pack deltifies each blob against the previous one only; its manual asks for
    # a repack afterwards. `git gc` packs it the way any repository that lives a while is packed.
    run(root, "gc", "--quiet")
    run(root, "checkout", "--quiet", "--force", "main")
    return Repo(root.resolve())


def add_large_branch(repo: Repo, name: str = "large", files: int = 200, functions: int = 6) -> str:
    """A branch of `files` new modules in 10 packages that import each other (about 56 lines
    each: >= 10,000 added lines over 200 files with the defaults)."""
    head = repo.commit("main")
    changes = {}
    for i in range(files):
        package = f"big/pkg{i % 10}"
        deps = [f"big.pkg{(i - 1) % 10}.mod{i - 1}"] if i else []
        source = module_source(f"mod{i}", functions, [])
        if deps:
            source = source.replace('"""\n\n', f'"""\n\nfrom {deps[0]} import mod{i - 1}_total_0  # noqa: F401\n\n', 1)
        changes[f"{package}/mod{i}.py"] = source.encode()
        changes[f"{package}/__init__.py"] = b""
    stream = (
        b"commit refs/heads/%s\n" % name.encode()
        + b"author %s %d +0000\ncommitter %s %d +0000\n" % (IDENT.encode(), START, IDENT.encode(), START)
        + _data(b"A large change")
        + b"from %s\n" % head.encode()
    )
    for path, content in changes.items():
        stream += b"M 100644 inline %s\n" % path.encode() + _data(content)
    run(repo.root, "fast-import", "--quiet", "--force", "--done", input=stream + b"done\n")
    return name
