"""A proposal to split a large change into a stack of smaller pull requests.

Changed files are grouped by module (their package folder; a test joins the module it
tests), the groups are ordered so that a group comes after the groups it imports
(graphlib's TopologicalSorter; import cycles are merged into one group), and consecutive
groups are packed into pull requests of at most `max_lines` changed lines. A group larger
than that on its own is cut by files, still in dependency order. Each pull request of the
stack is based on the previous one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath

from workshop.review import paths
from workshop.review.diff import Change, FileChange

LAST = "~~last"  # notebooks, docs and project files go after the code they describe


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
    """A source file's module group: its folder (a package) or, at the top level, its name."""
    p = PurePosixPath(path)
    if paths.is_python(path):
        parent = p.parent.as_posix()
        if p.parent.name == "migrations":
            parent = p.parent.parent.as_posix()
        return parent if parent != "." else p.stem
    return LAST


def tested_module(path: str, modules: set[str]) -> str | None:
    """The module a test file tests: the code module whose name appears in the test's name."""
    stem = PurePosixPath(path).stem
    words = set(re.sub(r"^test_|_test$", "", stem).split("_"))
    best = sorted(((len(set(m.split("/")) & words), -len(m), m) for m in modules if m != LAST), reverse=True)
    return best[0][2] if best and best[0][0] > 0 else None


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


def _module_path(name: str) -> list[str]:
    base = name.replace(".", "/")
    return [f"{base}.py", f"{base}/__init__.py"]


def group_files(change: Change) -> dict[str, list[FileChange]]:
    kept = [f for f in change.files if f.status != "deleted" or paths.is_python(f.path)]
    groups: dict[str, list[FileChange]] = {}
    for f in kept:
        if f.kind != "test":
            groups.setdefault(module_of(f.path), []).append(f)
    for f in kept:
        if f.kind == "test":
            groups.setdefault(tested_module(f.path, set(groups)) or "tests", []).append(f)
    return groups


def dependency_order(change: Change, groups: dict[str, list[FileChange]]) -> list[list[str]]:
    """Groups in import order; each item is one group, or several merged by an import cycle."""
    group_of = {f.path: name for name, files in groups.items() for f in files}
    python = [f for files in groups.values() for f in files if paths.is_python(f.path) and f.status != "deleted"]
    sources = change.repo.blobs([f"{change.head}:{f.path}" for f in python])
    graph: dict[str, set[str]] = {name: set() for name in groups}
    for f in python:
        for imported in imports_of(sources.get(f"{change.head}:{f.path}") or b""):
            for candidate in _module_path(imported):
                target = group_of.get(candidate)
                if target and target != group_of[f.path]:
                    graph[group_of[f.path]].add(target)
    if LAST in graph:  # docs and notebooks come after all the code
        graph[LAST] |= {name for name in graph if name != LAST}
    while True:
        try:
            order = list(TopologicalSorter(graph).static_order())
            break
        except CycleError as cycle:  # modules that import each other ship together
            members = set(cycle.args[1])
            graph = _merge(graph, members, "+".join(sorted(members)))
    return [name.split("+") for name in order]


def _merge(graph: dict[str, set[str]], members: set[str], joined: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, deps in graph.items():
        key = joined if name in members else name
        out.setdefault(key, set()).update(joined if d in members else d for d in deps)
    out[joined].discard(joined)
    return out


def propose_split(change: Change, max_lines: int = 400) -> list[Part]:
    groups = group_files(change)
    parts: list[Part] = []
    current = Part([])
    for names in dependency_order(change, groups):
        files = [f for name in names for f in sorted(groups[name], key=_code_before_tests)]
        lines = sum(f.lines for f in files if f.counted)
        if current.files and current.lines + lines > max_lines:
            parts.append(current)
            current = Part([])
        if lines > max_lines:  # too big alone: cut it by files
            for f in files:
                if current.files and current.lines + (f.lines if f.counted else 0) > max_lines:
                    parts.append(current)
                    current = Part([])
                current.files.append(f)
                current.modules.extend(n for n in names if n not in current.modules)
            continue
        current.files.extend(files)
        current.modules.extend(names)
    if current.files:
        parts.append(current)
    return parts


def _code_before_tests(f: FileChange) -> tuple[int, str]:
    return (f.kind == "test", f.path)
