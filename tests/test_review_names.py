"""File names git quotes (a quote, a backslash, a tab, a newline) and names that are not UTF-8,
in a real repository: found, counted, linted, scanned and annotated under their own names."""

from __future__ import annotations

import os
import subprocess

import pytest
from review_support import small_repository

from workshop.review import review

TOKEN = "gh" + "p_" + "Zq7Xw2Lm9Rt4Vb8Nc3Kd6Hf1Jg5Ps0Ay2Ue7"
NAMES = [
    'app/quo"ted.py',
    "app/back\\slash.py",
    "app/tab\there.py",
    "app/new\nline.py",
    os.fsdecode(b"app/caf\xe9.py"),  # Latin-1, not UTF-8
    "app/spa ce.py",
]


@pytest.fixture
def report(tmp_path):
    b = small_repository(tmp_path / "repo")
    b.commit("odd names", {name: f"import sys\n\nGITHUB = '{TOKEN}'\n" for name in NAMES})
    return review(b.repo.root, head="change")


def test_every_name_is_the_file_s_own(report, tmp_path):
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=report.change.repo.root, capture_output=True, check=True
    ).stdout.split(b"\0")
    assert {os.fsencode(f.path) for f in report.change.files} == {os.fsencode(n) for n in NAMES}
    assert {os.fsencode(n) for n in NAMES} <= set(listed)
    assert all((f.added, f.removed, f.kind) == (3, 0, "code") for f in report.change.files)


def test_each_is_linted_and_scanned(report):
    lint = {(p, m.split()[0]) for p, _, m in report.result("lint").findings}
    assert lint == {(n, "F401") for n in NAMES}
    assert {p for p, *_ in report.result("secrets").findings} == set(NAMES)


def test_printed_names_stay_on_one_line_and_annotations_name_real_files(report):
    text = report.text()
    assert "app/new\\nline.py" in text and "app/tab\\there.py" in text and "app/caf\\xe9.py" in text
    annotations = [line for line in report.github().splitlines() if "title=secrets" in line]
    assert len(annotations) == len(NAMES) and all(line.startswith("::error file=app/") for line in annotations)
    report.json()  # serialisable


def test_renamed_and_binary_files_with_odd_names(tmp_path):
    b = small_repository(tmp_path / "repo")
    body = "".join(f"LINE_{i} = {i}\n" for i in range(30))
    b.commit("module and image", {"app/tab\tname.py": body, "static/caf\u00e9 logo.png": b"\x89PNG\x00" * 3000})
    b.branch("moved", "change")
    b.write({"app/tab\tname.py": None})
    b.commit("rename", {"app/new\nname.py": body + "EXTRA = 1\n", "static/caf\u00e9 logo.png": b"\x89PNG\x01" * 4000})
    files = {f.path: f for f in review(b.repo.root, base="change", head="moved").change.files}
    moved = files["app/new\nname.py"]
    assert (moved.status, moved.old_path, moved.added, moved.removed) == ("renamed", "app/tab\tname.py", 1, 0)
    image = files["static/caf\u00e9 logo.png"]
    assert image.binary and image.size == 5 * 4000
