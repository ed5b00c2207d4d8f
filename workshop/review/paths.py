"""What kind of file a path is (code, test, migration, notebook, docs), and whether a reviewer
reads its lines (lock files, generated and vendored files are left out of the size count)."""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import PurePosixPath

LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "conda-lock.yml",
    "requirements.lock",
    "npm-shrinkwrap.json",
    "bun.lockb",
    "flake.lock",
}
GENERATED = (
    "*.min.js",
    "*.min.css",
    "*.map",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*_pb2.pyi",
    "*.generated.*",
    "*.g.dart",
    "*.lock",
    "*.snap",
)
VENDORED_DIRS = {
    "vendor",
    "vendored",
    "third_party",
    "thirdparty",
    "node_modules",
    "_vendor",
    "site-packages",
    "bower_components",
}
CODE_SUFFIXES = {
    ".py",
    ".pyi",
    ".js",
    ".jsx",
    ".ts",
    ".tsx",
    ".go",
    ".rs",
    ".java",
    ".kt",
    ".rb",
    ".php",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cs",
    ".swift",
    ".scala",
    ".sql",
    ".sh",
    ".vue",
    ".svelte",
}
DOC_SUFFIXES = {".md", ".rst", ".txt", ".adoc"}
TEST_NAME = re.compile(r"(^test_.*|.*_tests?|^tests?|^conftest|.*\.(test|spec))\.\w+$")
TEST_DIRS = {"tests", "test", "testing", "__tests__", "spec"}


def parts(path: str) -> tuple[str, ...]:
    return PurePosixPath(path).parts


def is_lock(path: str) -> bool:
    return PurePosixPath(path).name in LOCK_FILES


def is_generated(path: str) -> bool:
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatch(name, pattern) for pattern in GENERATED)


def is_vendored(path: str) -> bool:
    return any(part in VENDORED_DIRS for part in parts(path)[:-1])


def is_test(path: str) -> bool:
    p = parts(path)
    return bool(TEST_NAME.match(p[-1])) or any(part in TEST_DIRS for part in p[:-1])


def is_migration(path: str) -> bool:
    p = parts(path)
    return len(p) >= 2 and p[-2] == "migrations" and p[-1].endswith(".py") and p[-1] != "__init__.py"


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


def is_code(path: str) -> bool:
    return PurePosixPath(path).suffix in CODE_SUFFIXES and not is_test(path) and not is_migration(path)


def is_python(path: str) -> bool:
    return path.endswith((".py", ".pyi"))


@lru_cache(maxsize=65536)  # a history names the same paths over and over
def kind(path: str) -> str:
    """One word for what the file is: lock, test, migration, notebook, code, docs or other.

    Whether its lines are counted is another question (`not_counted`): a generated or vendored
    Python file is still code, and goes through every check but the size count."""
    if is_lock(path):
        return "lock"
    if is_test(path):
        return "test"
    if is_migration(path):
        return "migration"
    if is_notebook(path):
        return "notebook"
    if is_code(path):
        return "code"
    if PurePosixPath(path).suffix in DOC_SUFFIXES:
        return "docs"
    return "other"


@lru_cache(maxsize=65536)
def not_counted(path: str, attributes: frozenset[str] = frozenset()) -> str:
    """Why a reviewer does not read the file's lines ("lock", "generated", "vendored"), or "".

    gitattributes count too: `linguist-generated` / `linguist-vendored` (GitHub's own markers)
    fold a file away in a pull request. The caller reads them from the base, so a pull request
    cannot mark its own files."""
    if is_lock(path):
        return "lock"
    if "linguist-generated" in attributes or is_generated(path):
        return "generated"
    if "linguist-vendored" in attributes or is_vendored(path):
        return "vendored"
    return ""
