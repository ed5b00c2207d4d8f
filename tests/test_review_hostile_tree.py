"""A crafted commit whose tree holds a `..` entry (git's plumbing writes one; fsck and checkout
refuse it, the review reads trees without checking out): the review stops in one line and
nothing is written outside the temporary tree lint builds from the head's blobs."""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from review_support import small_repository

from workshop.errors import WorkshopError
from workshop.review import review
from workshop.review.lint import write_tree


def _git(root: Path, *args: str, stdin: bytes | None = None) -> str:
    return (
        subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=True).stdout.decode().strip()
    )


def test_a_tree_entry_named_dotdot_is_refused_and_nothing_lands_outside(tmp_path):
    b = small_repository(tmp_path / "repo")
    b.commit("ordinary", {"app/views.py": "def view():\n    return 1\n"})
    root = b.repo.root
    escaped = f"escaped_{uuid.uuid4().hex}.py"
    blob = _git(root, "hash-object", "-w", "--stdin", stdin=b"import os\n")
    inner = _git(root, "mktree", stdin=f"100644 blob {blob}\t{escaped}\n".encode())
    entries = _git(root, "ls-tree", "HEAD") + f"\n040000 tree {inner}\t..\n"
    crafted = _git(root, "commit-tree", _git(root, "mktree", stdin=entries.encode()), "-p", "HEAD", "-m", "crafted")
    _git(root, "update-ref", "refs/heads/change", crafted)
    assert f"../{escaped}" in _git(root, "ls-tree", "-r", "--name-only", "change")
    places = {Path(tempfile.gettempdir()) / escaped, root.parent / escaped, root / escaped}
    with pytest.raises(WorkshopError, match="outside") as error:
        review(root, head="change")
    assert "\n" not in str(error.value)
    assert not any(place.exists() for place in places)


@pytest.mark.parametrize(
    "name", ["../escaped.py", "app/../../escaped.py", "/tmp/escaped.py", "..", "", "app/./../../escaped.py"]
)
def test_lint_writes_no_blob_outside_its_tree(tmp_path, name):
    """Lint writes each file of the head's tree to root / path: a name from git that would
    land outside root is refused, and nothing lands outside it."""
    root = tmp_path / "tree"
    root.mkdir()
    with pytest.raises(WorkshopError, match="Refusing the file name") as error:
        write_tree(root, {"app/ok.py": b"X = 1\n", name: b"import os\n"})
    assert "\n" not in str(error.value)
    assert not [p for p in tmp_path.rglob("escaped.py")] and not Path("/tmp/escaped.py").exists()
