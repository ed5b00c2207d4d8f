"""A proposal to split a large change into a stack of smaller pull requests.

Changed files are grouped by module (their package folder), and each test joins the code
file it is named after. Groups are ordered so that a group comes after the groups it imports,
and files inside a group likewise (graphlib's TopologicalSorter; modules that import each
other are merged and ship together). Consecutive groups are then packed into pull requests
of at most `max_lines` changed lines; a group larger than that is cut between its files,
still in dependency order. Each pull request of the stack is based on the previous one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath

from workshop.review import paths
from workshop.review.diff import Change, FileChange

LAST = "~docs"  # notebooks, docs and project files go after the code they describe


@dataclass
class Part:
    modules: list[str]
    files: list[FileChange] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files if f.counted)

    @property
    def title(self) -> str:
        shown = [m if m != LAST else "docs and project files" for m in self.modules]
        return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def module_of(path: str) -> str:
    """A source file's module group: its package folder (an app's migrations belong to the
    app); anything that is not Python goes last."""
    p = PurePosixPath(path)
    if not paths.is_python(path):
        return LAST
    folder = p.parent.parent if p.parent.name == "migrations" else p.parent
    return folder.as_posix() if folder.as_posix() != "." else p.stem


def _words(path: str) -> set[str]:
    p = PurePosixPath(path)
    return {w for part in (*p.parent.parts, re.sub(r"^test_|_tests?$", "", p.stem)) for w in part.split("_") if w}


def tested_file(test: str, code: list[str]) -> str | None:
    """The code file a test is named after: most words shared (test_anonymize_engine.py
    -> workshop/anonymize/engine.py), ties to the file whose own name matches."""
    words = _words(test) - {"tests", "test"}
    scored = [(len(words & _words(c)), PurePosixPath(c).stem in words, c) for c in code]
    best = max(scored, default=(0, False, ""))
    return best[2] if best[0] > 0 else None


def imports_of(source: bytes) -> set[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _candidates(module: str) -> list[str]:
    base = module.replace(".", "/")
    return [f"{base}.py", f"{base}/__init__.py"]


def file_dependencies(change: Change, files: list[FileChange]) -> dict[str, set[str]]:
    """For each changed Python file, the changed files it imports (parsed from the head side)."""
    python = [f for f in files if paths.is_python(f.path) and f.status != "deleted"]
    sources = change.repo.blobs([f.new_blob for f in python])
    changed = {f.path for f in files}
    deps: dict[str, set[str]] = {f.path: set() for f in files}
    for f in python:
        for imported in imports_of(sources.get(f.new_blob) or b""):
            deps[f.path].update(c for c in _candidates(imported) if c in changed and c != f.path)
    return deps


def ordered(graph: dict[Hashable, set]) -> list[list]:
    """Topological order; nodes on an import cycle come out together as one list."""
    graph = {node: set(deps) for node, deps in graph.items()}
    members: dict[Hashable, list] = {node: [node] for node in graph}
    while True:
        try:
            return [members[node] for node in TopologicalSorter(graph).static_order()]
        except CycleError as cycle:  # merge the cycle into its first node
            loop = list(dict.fromkeys(cycle.args[1]))
            head, rest = loop[0], set(loop[1:])
            members[head] = [m for node in loop for m in members[node]]
            needed = set().union(*(graph[node] for node in loop))
            graph = {node: {head if d in rest else d for d in deps} for node, deps in graph.items() if node not in rest}
            graph[head] = {head if d in rest else d for d in needed} - {head}


def propose_split(change: Change, max_lines: int = 400) -> list[Part]:
    files = [f for f in change.files if f.status != "deleted" or paths.is_python(f.path)]
    deps = file_dependencies(change, files)
    code = [f.path for f in files if f.kind != "test"]
    # Units: a file and the tests named after it travel together.
    unit_of = {f.path: f.path for f in files if f.kind != "test"}
    for f in files:
        if f.kind == "test":
            unit_of[f.path] = tested_file(f.path, code) or f.path
    units: dict[str, list[FileChange]] = {}
    for f in sorted(files, key=lambda f: (f.kind == "test", f.path)):
        units.setdefault(unit_of[f.path], []).append(f)
    group_of = {unit: (module_of(unit) if units[unit][0].kind != "test" else "tests") for unit in units}
    unit_deps = {u: {unit_of[d] for f in fs for d in deps.get(f.path, ())} - {u} for u, fs in units.items()}
    group_deps: dict[str, set[str]] = {g: set() for g in group_of.values()}
    for unit, needed in unit_deps.items():
        group_deps[group_of[unit]] |= {group_of[d] for d in needed} - {group_of[unit]}
    if LAST in group_deps:  # docs and notebooks describe the code: they come after all of it
        group_deps[LAST] |= set(group_deps) - {LAST}
    parts: list[Part] = []
    current = Part([])

    def flush() -> Part:
        if current.files:
            parts.append(current)
            return Part([])
        return current

    for groups in ordered(group_deps):
        inside = [u for u in units if group_of[u] in groups]
        unit_order = [u for cycle in ordered({u: unit_deps[u] & set(inside) for u in inside}) for u in cycle]
        group_files = [f for u in unit_order for f in units[u]]
        lines = _lines(group_files)
        if current.lines + lines > max_lines:
            current = flush()
        if lines <= max_lines:
            current.files.extend(group_files)
            current.modules.extend(groups)
            continue
        for u in unit_order:  # too big alone: cut between its files
            if current.files and current.lines + _lines(units[u]) > max_lines:
                current = flush()
            current.files.extend(units[u])
            current.modules.extend(g for g in groups if g not in current.modules)
    flush()
    return parts


def _lines(files: Iterable[FileChange]) -> int:
    return sum(f.lines for f in files if f.counted)
