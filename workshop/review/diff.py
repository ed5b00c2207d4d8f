"""A branch's change against its base, file by file: `git diff` parsed by unidiff, with
notebook outputs left out of the count and lock/generated/vendored files marked."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from unidiff import PatchSet

from workshop.review import paths
from workshop.review.git import EMPTY_TREE, Repo, text


@dataclass
class FileChange:
    path: str
    status: str  # added, deleted, modified, renamed
    kind: str  # what the file is, see paths.kind
    added: int = 0
    removed: int = 0
    old_path: str | None = None
    binary: bool = False
    size: int = 0  # bytes on the head side (binary files)
    added_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number on head, text)
    outputs: int = 0  # notebooks: outputs stored on the head side
    note: str = ""
    not_counted: str = ""  # "lock", "generated" or "vendored": left out of the size count only

    @property
    def counted(self) -> bool:
        """Lines a reviewer reads (lock, generated and vendored files are not); every other
        check still looks at the file."""
        return not self.not_counted

    @property
    def lines(self) -> int:
        return self.added + self.removed


@dataclass
class Change:
    repo: Repo
    base: str  # commit ids
    head: str
    base_ref: str
    head_ref: str
    files: list[FileChange]
    commits: list[tuple[str, str]]  # (short id, subject), oldest first
    merges: int = 0

    @property
    def counted_files(self) -> list[FileChange]:
        return [f for f in self.files if f.counted]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.counted_files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.counted_files)

    @property
    def lines(self) -> int:
        return self.added + self.removed

    def of_kind(self, *kinds: str) -> list[FileChange]:
        return [f for f in self.files if f.kind in kinds]


def diff_files(repo: Repo, base: str, head: str) -> list[FileChange]:
    raw = repo.git(
        "diff", "--no-color", "--no-ext-diff", "--find-renames", "--unified=0", base or EMPTY_TREE, head, "--"
    )
    patch = PatchSet(text(raw))
    names = [(p.target_file if not p.is_removed_file else p.source_file) for p in patch]
    names = [_strip_prefix(n) for n in names]
    # The base's attributes: a pull request must not mark its own files as generated.
    attributes = repo.attributes(names, ("linguist-generated", "linguist-vendored"), base or EMPTY_TREE)
    files = []
    for patched, name in zip(patch, names):
        status = (
            "added"
            if patched.is_added_file
            else "deleted"
            if patched.is_removed_file
            else "renamed"
            if patched.is_rename
            else "modified"
        )
        change = FileChange(
            path=name,
            status=status,
            kind=paths.kind(name),
            not_counted=paths.not_counted(name, frozenset(attributes.get(name, ()))),
            old_path=_strip_prefix(patched.source_file) if patched.is_rename else None,
            binary=patched.is_binary_file,
        )
        if not change.binary:
            change.added, change.removed = patched.added, patched.removed
            change.added_lines = [
                (line.target_line_no, line.value.rstrip("\n")) for hunk in patched for line in hunk if line.is_added
            ]
        files.append(change)
    _binary_sizes(repo, head, [f for f in files if f.binary and f.status != "deleted"])
    _notebook_sources(repo, base, head, [f for f in files if f.kind == "notebook" and not f.binary])
    return files


def _strip_prefix(name: str) -> str:
    return name[2:] if name.startswith(("a/", "b/")) else name


def _binary_sizes(repo: Repo, head: str, binaries: list[FileChange]) -> None:
    sizes = repo.sizes([f"{head}:{f.path}" for f in binaries])
    for f in binaries:
        f.size = sizes.get(f"{head}:{f.path}") or 0


def notebook_source_lines(data: bytes | None) -> tuple[list[str], int]:
    """A notebook's cell sources as lines (each cell headed by its type) and how many outputs it stores."""
    if not data:
        return [], 0
    try:
        nb = json.loads(data)
    except ValueError:  # not JSON (a conflict marker, a truncated file): count it as text
        return text(data).splitlines(), 0
    lines, outputs = [], 0
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines.append(f"# [{cell.get('cell_type', 'cell')}]")
        lines.extend(source.splitlines())
        outputs += len(cell.get("outputs", []) or [])
    return lines, outputs


def _notebook_sources(repo: Repo, base: str, head: str, notebooks: list[FileChange]) -> None:
    """Count what changed in the cells' sources, not in their outputs or metadata."""
    specs = [f"{base}:{f.old_path or f.path}" for f in notebooks] + [f"{head}:{f.path}" for f in notebooks]
    blobs = repo.blobs(specs) if base else repo.blobs(specs[len(notebooks) :])
    for f in notebooks:
        old, _ = notebook_source_lines(blobs.get(f"{base}:{f.old_path or f.path}"))
        new, outputs = notebook_source_lines(blobs.get(f"{head}:{f.path}"))
        added, removed = [], 0
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if tag in ("replace", "insert"):
                added.extend(new[j1:j2])
            if tag in ("replace", "delete"):
                removed += i2 - i1
        json_lines = f.lines
        f.added, f.removed = len(added), removed
        f.added_lines = [(0, line) for line in added]  # line numbers of a notebook's JSON mean little
        f.note = f"cell sources only ({json_lines} lines of JSON changed)"
        f.outputs = outputs
