"""What the change introduced, linted the way reviewdog's diff filter and diff-cover compare:
ruff runs on the changed Python files as they are on the head and as they were on the base, each
inside its whole tree (so imports resolve in their package), with the head's ruff configuration
for both; a head finding the base did not have (same file, rule, message and source line, counted)
is the change's, wherever it is in the file. Deleting a definition that an unchanged line of the
same file still uses shows up as a new F821 there.

Ruff checks one file at a time, so a name deleted from a module but still imported by another
file is checked here too, with `ast`: `from app.models import helper` where app/models.py no
longer defines `helper` (and did on the base). Syntax errors in changed files are always reported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workshop.errors import WorkshopError
from workshop.review import paths
from workshop.review.diff import Change
from workshop.review.git import Repo, encode_name, name, shown

CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
# Debugging leftovers are ruff rules too (flake8-debugger, flake8-print): one ruff run finds both.
DEBUG_RULES = ("T100", "T201", "T203")
SYNTAX = "syntax"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    code: str
    message: str
    source: str = ""  # the flagged line's text: what matches a head finding with the base's

    def __str__(self) -> str:
        return f"{shown(self.path)}:{self.line}:{self.column}: {self.code} {self.message}"


def ruff_command() -> list[str]:
    candidate = Path(sys.executable).parent / "ruff"
    if candidate.is_file():
        return [str(candidate)]
    try:
        from ruff.__main__ import find_ruff_bin

        return [find_ruff_bin()]
    except ImportError as exc:
        raise WorkshopError("ruff is not installed in this environment", "pip install ruff") from exc


def tree_files(repo: Repo, commit: str) -> dict[str, str]:
    """Python files and ruff configurations of a commit's tree: path -> blob id (`ls-tree -z`, names as bytes)."""
    out = repo.git("ls-tree", "-r", "-z", "--full-tree", commit)
    found = {}
    for entry in filter(None, out.split(b"\0")):
        meta, _, raw = entry.partition(b"\t")
        mode, kind, blob = meta.split()
        path = name(raw)
        if (
            kind == b"blob"
            and mode != b"120000"
            and (paths.is_python(path) or PurePosixPath(path).name in CONFIG_FILES)
        ):
            found[path] = blob.decode()
    return found


def safe_target(root: Path, path: str) -> Path:
    """root / path, refusing what would land outside root (a crafted tree's `..` or absolute name)."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
        raise WorkshopError(
            f"Refusing the file name {shown(path)!r} from git", "the tree holds a name outside the repository"
        )
    return root.joinpath(*parts)


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = safe_target(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def run_ruff(root: Path, targets: list[str], head_ref: str) -> list[Finding]:
    if not targets:
        return []
    command = [
        *ruff_command(),
        "check",
        "--output-format",
        "json",
        "--no-cache",
        "--exit-zero",
        "--force-exclude",
        "--extend-select",
        ",".join(DEBUG_RULES),
        "--",
        *targets,
    ]
    done = subprocess.run(command, cwd=root.resolve(), capture_output=True)
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise WorkshopError(f"ruff failed on {head_ref}: {first}", "check the repository's ruff configuration")
    findings = []
    lines: dict[str, list[str]] = {}
    # ruff prints a non-UTF-8 name with U+FFFD in place of its bytes: map it back to the real name.
    real = {encode_name(t).decode("utf-8", "replace"): t for t in targets}
    for item in json.loads(done.stdout.decode("utf-8", "replace") or "[]"):
        printed = Path(item["filename"]).relative_to(root.resolve()).as_posix()
        path = real.get(printed, printed)
        if path not in lines:
            lines[path] = (root / path).read_bytes().decode("utf-8", "replace").splitlines()
        row = item["location"]["row"]
        source = lines[path][row - 1].strip() if 0 < row <= len(lines[path]) else ""
        code = SYNTAX if item["code"] in (None, "invalid-syntax") else item["code"]  # None before ruff 0.12
        findings.append(Finding(path, row, item["location"]["column"], code, item["message"], source))
    return findings


def introduced(head: list[Finding], base: list[Finding], renamed: dict[str, str]) -> list[Finding]:
    """Head findings beyond the base's, matched on (file, rule, message, source line), with counts:
    a finding that moved lines is not new, a second copy of an old one is."""
    left = Counter((renamed.get(f.path, f.path), f.code, f.message, f.source) for f in base)
    new = []
    for f in sorted(head, key=lambda f: (f.path, f.line, f.column)):
        key = (f.path, f.code, f.message, f.source)
        if f.code == SYNTAX or left[key] <= 0:  # syntax errors: always
            new.append(f)
        else:
            left[key] -= 1
    return new


def ruff_findings(change: Change) -> list[Finding]:
    """Findings of the repository's ruff rules (plus the debug rules) that the change introduced,
    and imports of names the change removed from their module."""
    changed = [f for f in change.files if paths.is_python(f.path) and not f.binary]
    if not changed:
        return []
    repo = change.repo
    head_tree, base_tree = tree_files(repo, change.head), tree_files(repo, change.base)
    configs = {p: b for p, b in head_tree.items() if PurePosixPath(p).name in CONFIG_FILES}
    head_python = {p: b for p, b in head_tree.items() if p not in configs}
    base_python = {p: b for p, b in base_tree.items() if paths.is_python(p)}
    blobs = repo.blobs(sorted(set(head_tree.values()) | set(base_python.values())))
    head_files = {p: blobs.get(b) or b"" for p, b in head_python.items()}
    base_files = {p: blobs.get(b) or b"" for p, b in base_python.items()}
    config_files = {p: blobs.get(b) or b"" for p, b in configs.items()}
    head_targets = [f.path for f in changed if f.status != "deleted" and f.path in head_files]
    base_targets = [
        f.old_path or f.path for f in changed if f.status not in ("added",) and (f.old_path or f.path) in base_files
    ]
    with tempfile.TemporaryDirectory(prefix="workshop-review-") as tmp:
        head_root, base_root = Path(tmp) / "head", Path(tmp) / "base"
        write_tree(head_root, {**head_files, **config_files})
        if base_targets:  # the head's rules for both: only the code differs
            write_tree(base_root, {**base_files, **config_files})
        head_found = run_ruff(head_root, head_targets, change.head_ref)
        base_found = run_ruff(base_root, base_targets, change.head_ref)
    renamed = {f.old_path: f.path for f in changed if f.old_path}
    new = introduced(head_found, base_found, renamed)
    moved = {f.path for f in changed} | {f.old_path for f in changed if f.old_path}
    return new + broken_imports(head_files, base_files, moved)


# --- names imported from a module of the repository that no longer defines them ---------------


def module_file(module: str, files: dict[str, bytes]) -> str | None:
    base = module.replace(".", "/")
    for root in ("", "src/"):
        for candidate in (f"{root}{base}.py", f"{root}{base}/__init__.py"):
            if candidate in files:
                return candidate
    return None


def defined_names(source: bytes) -> set[str] | None:
    """Top-level names a module defines (None: it may define anything, via `*` or __getattr__)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)) or type(node).__name__ == "TryStar":
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return None if "__getattr__" in names else names


def imports_from(path: str, source: bytes) -> list[tuple[int, str, str]]:
    """(line, module, name) for each `from module import name` (relative imports resolved)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    package = PurePosixPath(path).parent.parts  # a module's package (an __init__.py's is its own folder)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found += [(node.lineno, module, alias.name) for alias in node.names if alias.name != "*"]
    return found


def broken_in(
    files: dict[str, bytes], importers: list[str], modules_elsewhere: dict[str, bytes]
) -> dict[tuple[str, str, str], int]:
    """`from module import name` lines of the `importers` whose name is not there: the module (of
    this repository) does not define it, or the module is gone while `modules_elsewhere` (the
    other side of the change) has it."""
    broken: dict[tuple[str, str, str], int] = {}
    defined: dict[str, set[str] | None] = {}
    for path in importers:
        for line, module, imported in imports_from(path, files[path]):
            if module_file(f"{module}.{imported}", files):  # a submodule
                continue
            target = module_file(module, files)
            if target is None:
                if module_file(module, modules_elsewhere) and not module_file(
                    f"{module}.{imported}", modules_elsewhere
                ):
                    broken[(path, module, imported)] = line  # the module itself was removed
                continue
            if target not in defined:
                defined[target] = defined_names(files[target])
            names = defined[target]
            if names is not None and imported not in names:
                broken[(path, module, imported)] = line
    return broken


def broken_imports(head: dict[str, bytes], base: dict[str, bytes], changed: set[str]) -> list[Finding]:
    """Imports that resolve on the base and no longer do on the head, in any file of the tree.

    Only a changed file, or a file naming a changed module, can gain one: the others are not parsed."""
    stems = {
        PurePosixPath(p).stem if PurePosixPath(p).stem != "__init__" else PurePosixPath(p).parent.name for p in changed
    }
    wanted = [stem.encode("utf-8", "surrogateescape") for stem in stems if stem]
    importers = [p for p, source in head.items() if p in changed or any(w in source for w in wanted)]
    now = broken_in(head, importers, base)
    before = broken_in(base, [p for p in importers if p in base], {})
    return [
        Finding(path, line, 0, "import", f"`{imported}` is imported from {module}, which no longer defines it")
        for (path, module, imported), line in sorted(now.items())
        if (path, module, imported) not in before
    ]
