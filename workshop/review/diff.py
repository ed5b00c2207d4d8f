"""A branch's change against its base, file by file: the names from `git diff --raw -z` (never
quoted, kept byte for byte), the lines from the patch, notebook outputs left out of the count
and lock/generated/vendored files marked."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from workshop.errors import WorkshopError
from workshop.review import paths
from workshop.review.git import EMPTY_TREE, NULL_BLOB, Repo, name, text


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
    old_blob: str = ""  # object ids from `git diff --raw` (all zeros where the side does not exist)
    new_blob: str = ""
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


# Every option that changes what `git diff` prints is pinned: a user's diff.noprefix,
# diff.mnemonicPrefix, diff.relative, textconv filters or external diff must not change what we parse.
DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-relative",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--find-renames",
)
STATUS = {"A": "added", "D": "deleted", "R": "renamed", "C": "added", "M": "modified", "T": "modified"}
HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class RawEntry:
    """One line of `git diff --raw -z`: the names exactly as bytes (decoded losslessly, see git.name)."""

    status: str
    old_blob: str
    new_blob: str
    old_path: str
    path: str


def raw_entries(repo: Repo, base: str, head: str) -> list[RawEntry]:
    """The changed files, their status and blob ids, from `git diff --raw -z`: NUL-separated names
    that git never quotes (a tab, a newline, a quote or a non-UTF-8 byte comes through as it is)."""
    out = repo.git("diff", "--raw", "-z", "--no-abbrev", *DIFF_OPTIONS, base, head, "--")
    fields = out.split(b"\0")
    entries, i = [], 0
    while i < len(fields) - 1:
        meta = fields[i].decode("ascii").lstrip(":").split()
        _, _, old_blob, new_blob, status = meta
        names = [name(fields[i + 1])]
        if status[0] in "RC":
            names.append(name(fields[i + 2]))
        i += 1 + len(names)
        entries.append(RawEntry(status[0], old_blob, new_blob, names[0], names[-1]))
    return entries


def patch_sections(repo: Repo, base: str, head: str) -> list[bytes]:
    """`git diff --unified=0` cut at each `diff --git` header: one section per file (two for a
    type change, which git shows as a deletion and an addition), in the --raw output's order.
    Content lines always start with "+", "-", " " or "\\", so a header cannot be forged by a file."""
    out = repo.git("diff", "--unified=0", *DIFF_OPTIONS, base, head, "--")
    starts = [m.start() for m in re.finditer(rb"^diff --git ", out, re.M)]
    return [out[a:b] for a, b in zip(starts, [*starts[1:], len(out)])]


def parse_section(section: bytes) -> tuple[bool, int, int, list[tuple[int, str]]]:
    """(binary, added, removed, added lines with their line number on the head side)."""
    header, _, body = section.partition(b"\n@@")
    if re.search(rb"^(?:Binary files |GIT binary patch)", header, re.M):
        return True, 0, 0, []
    added, removed, lines, number = 0, 0, [], 0
    for line in (b"@@" + body if body else b"").split(b"\n"):
        if line.startswith(b"@@"):
            match = HUNK.match(line)
            number = int(match.group("start")) if match else number
        elif line.startswith(b"+"):
            added += 1
            lines.append((number, text(line[1:])))
            number += 1
        elif line.startswith(b"-"):
            removed += 1
    return False, added, removed, lines


def diff_files(repo: Repo, base: str, head: str) -> list[FileChange]:
    base = base or EMPTY_TREE
    entries = raw_entries(repo, base, head)
    sections = patch_sections(repo, base, head)
    expected = sum(2 if e.status == "T" else 1 for e in entries)
    if len(sections) != expected:  # never pair a file with another file's lines
        raise WorkshopError(
            f"git diff gave {len(sections)} file sections for {expected} changed files",
            "report this with `git --version`; the review cannot tell which lines belong to which file",
        )
    # The base's attributes: a pull request must not mark its own files as generated.
    names = [e.path for e in entries]
    attributes = repo.attributes(names, ("linguist-generated", "linguist-vendored"), base)
    files, position = [], 0
    for entry in entries:
        taken = 2 if entry.status == "T" else 1
        binary, added, removed, added_lines = parse_section(b"".join(sections[position : position + taken]))
        position += taken
        files.append(
            FileChange(
                path=entry.path,
                status=STATUS.get(entry.status, "modified"),
                kind=paths.kind(entry.path),
                not_counted=paths.not_counted(entry.path, frozenset(attributes.get(entry.path, ()))),
                old_path=entry.old_path if entry.status == "R" else None,
                binary=binary,
                added=added,
                removed=removed,
                added_lines=added_lines,
                old_blob=entry.old_blob,
                new_blob=entry.new_blob,
            )
        )
    _binary_sizes(repo, [f for f in files if f.binary and f.status != "deleted"])
    _notebook_sources(repo, [f for f in files if f.kind == "notebook" and not f.binary])
    return files


def _binary_sizes(repo: Repo, binaries: list[FileChange]) -> None:
    sizes = repo.sizes([f.new_blob for f in binaries])
    for f in binaries:
        f.size = sizes.get(f.new_blob) or 0


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


def _notebook_sources(repo: Repo, notebooks: list[FileChange]) -> None:
    """Count what changed in the cells' sources, not in their outputs or metadata."""
    blobs = repo.blobs([b for f in notebooks for b in (f.old_blob, f.new_blob) if b != NULL_BLOB])
    for f in notebooks:
        old, _ = notebook_source_lines(blobs.get(f.old_blob))
        new, outputs = notebook_source_lines(blobs.get(f.new_blob))
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
