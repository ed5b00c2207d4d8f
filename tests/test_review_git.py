"""workshop.review on real temporary git repositories: branches, renames, binary files,
merge commits, empty and huge diffs, non-UTF-8 content, and the one-line errors."""

from __future__ import annotations

import os
import subprocess

import pytest

from workshop.errors import WorkshopError
from workshop.review import review
from workshop.review.examples import Builder, demo_repository
from workshop.review.git import Repo, git_env


@pytest.fixture
def repo(tmp_path):
    b = Builder(tmp_path / "repo")
    b.commit("base", {"app/models.py": "X = 1\n", "README.md": "# app\n"})
    return b


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and text.endswith(".")
    return text


def test_a_path_that_is_not_a_repository(tmp_path):
    with pytest.raises(WorkshopError) as error:
        review(tmp_path)
    assert "is not inside a git repository" in one_line(error) and "git checkout" in str(error.value)


def test_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(WorkshopError) as error:
        review(tmp_path / "nowhere")
    assert "does not exist" in one_line(error)


def test_a_base_ref_that_does_not_exist(repo):
    with pytest.raises(WorkshopError) as error:
        review(repo.repo.root, base="no-such-branch")
    assert "'no-such-branch' does not exist" in one_line(error) and "git branch -a" in str(error.value)


def test_a_ref_is_never_read_as_an_option(repo):
    with pytest.raises(WorkshopError, match="does not exist"):
        review(repo.repo.root, base="--output=/tmp/x/pwned")


def test_a_repository_without_commits(tmp_path):
    Builder(tmp_path / "empty")
    with pytest.raises(WorkshopError) as error:
        review(tmp_path / "empty")
    assert "has no commits yet" in one_line(error)


def test_no_main_branch_asks_for_a_base(repo):
    repo.git("branch", "-m", "main", "trunk")
    with pytest.raises(WorkshopError) as error:
        review(repo.repo.root)
    assert "no main or master branch" in one_line(error) and "--base" in str(error.value)


def test_unrelated_histories(repo):
    repo.git("checkout", "--quiet", "--orphan", "other")
    repo.commit("unrelated", {"other.txt": "x\n"})
    with pytest.raises(WorkshopError, match="share no history"):
        review(repo.repo.root, base="main")


def test_empty_diff_on_main_says_so(repo):
    report = review(repo.repo.root)
    assert report.change.files == [] and report.status == "pass"
    assert "No changes against main" in report.note and "--base HEAD~5" in report.note


def test_a_branch_against_main_and_the_default_base(repo):
    repo.branch("feature")
    repo.commit("one", {"app/models.py": "X = 1\nY = 2\n"})
    repo.commit("two", {"app/views.py": "def view():\n    return 1\n"})
    repo.git("checkout", "--quiet", "main")
    repo.commit("main moves on", {"README.md": "# app\n\nmore\n"})  # not part of the branch's change
    report = review(repo.repo.root, head="feature")
    assert report.change.base_ref == "main" and len(report.change.commits) == 2
    assert {f.path: (f.status, f.added, f.removed) for f in report.change.files} == {
        "app/models.py": ("modified", 1, 0),
        "app/views.py": ("added", 2, 0),
    }


def test_renames_are_one_file_with_its_old_path(repo):
    body = "".join(f"LINE_{i} = {i}\n" for i in range(30))
    repo.commit("long module", {"app/models.py": body})
    repo.branch("rename")
    repo.write({"app/models.py": None})
    repo.commit("rename", {"app/entities.py": body + "EXTRA = 1\n"})
    (change,) = review(repo.repo.root, head="rename").change.files
    assert (change.path, change.old_path, change.status, change.added, change.removed) == (
        "app/entities.py",
        "app/models.py",
        "renamed",
        1,
        0,
    )


def test_binary_files_have_a_size_and_no_lines(repo):
    repo.branch("images")
    repo.commit("logo", {"static/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 800})
    (change,) = review(repo.repo.root, head="images").change.files
    assert change.binary and change.size == 8 + 256 * 800 and change.lines == 0


def test_merge_commits_on_the_branch(repo):
    repo.branch("feature")
    repo.commit("feature work", {"app/a.py": "A = 1\n"})
    repo.git("checkout", "--quiet", "main")
    repo.commit("main work", {"app/b.py": "B = 1\n"})
    repo.git("checkout", "--quiet", "feature")
    repo.git("merge", "--quiet", "--no-edit", "--no-ff", "main")
    report = review(repo.repo.root, head="feature", base="main")
    assert report.change.merges == 1
    # main's own file came in through the merge: it is not part of the change under review.
    assert [f.path for f in report.change.files] == ["app/a.py"]


def test_non_utf8_content_and_paths(repo):
    repo.branch("latin1")
    repo.commit("latin-1", {"app/legacy.py": "NAME = 'caf\xe9'\n".encode("latin-1"), "docs/r\xe9sum\xe9.txt": "ok\n"})
    report = review(repo.repo.root, head="latin1")
    files = {f.path: f for f in report.change.files}
    assert set(files) == {"app/legacy.py", "docs/résumé.txt"}
    assert files["app/legacy.py"].added == 1 and "caf\ufffd" in files["app/legacy.py"].added_lines[0][1]


def test_huge_diff_is_counted_and_split(repo):
    repo.branch("huge")
    repo.commit("huge", {f"pkg{i % 20}/mod{i}.py": "".join(f"V{j} = {j}\n" for j in range(60)) for i in range(200)})
    report = review(repo.repo.root, head="huge")
    assert (report.change.added, len(report.change.files)) == (12_000, 200)
    assert report.result("size").status == "fail"
    assert len(report.split) >= 30 and all(part.lines <= 400 for part in report.split)
    assert sorted(f.path for part in report.split for f in part.files) == sorted(f.path for f in report.change.files)


def test_git_never_sees_a_hook_s_environment(monkeypatch, repo):
    monkeypatch.setenv("GIT_DIR", "/nonexistent")
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    assert "GIT_DIR" not in git_env() and Repo.open(repo.repo.root).commit("HEAD")


def test_demo_repository_is_the_same_every_time(tmp_path):
    first, second = demo_repository(tmp_path / "a"), demo_repository(tmp_path / "b")
    ids = [Repo(p).commit("feature/everything") for p in (first, second)]
    assert ids[0] == ids[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the repository to another user needs root")
def test_a_repository_of_another_user_says_how_to_trust_it(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no global safe.directory from this machine
    subprocess.run(["chown", "-R", "nobody", str(repo.repo.root)], check=True)
    with pytest.raises(WorkshopError) as error:
        review(repo.repo.root)
    assert "belongs to another user" in one_line(error) and "safe.directory" in str(error.value)
