"""The notebook's widgets, driven as an attendee drives them."""

from __future__ import annotations

import pytest

from workshop.errors import WorkshopError
from workshop.review.examples import Builder, demo_repository
from workshop.review.widgets import report_explorer, review_checklist


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_repository(tmp_path_factory.mktemp("widgets") / "shop")


def test_checklist_completeness_follows_the_ticks(demo):
    box = review_checklist(demo)
    checks = [c for c in box.children if c.__class__.__name__ == "Checkbox"]
    bar = next(c for c in box.children if c.__class__.__name__ == "FloatProgress")
    assert len(checks) == 4 and bar.value == 0
    checks[0].value = True
    assert bar.value == 0.25
    for check in checks:
        check.value = True
    assert bar.value == 1 and bar.bar_style == "success"


def test_checklist_of_this_repository():
    box = review_checklist(".")
    assert sum(c.__class__.__name__ == "Checkbox" for c in box.children) >= 4


def test_checklist_without_a_template(tmp_path):
    b = Builder(tmp_path / "bare")
    b.commit("x", {"a.txt": "x\n"})
    with pytest.raises(WorkshopError, match="no pull request template"):
        review_checklist(b.repo.root)


def test_report_explorer_follows_the_branch(demo):
    box = report_explorer(demo)
    folder, branch = box.children[0].children
    summary = box.children[1]
    assert branch.options == ("feature/discount", "feature/everything", "main") and branch.value == "feature/discount"
    assert summary.value == "<b>feature/discount</b> against main: <b>warn</b>"
    branch.value = "feature/everything"
    assert summary.value == "<b>feature/everything</b> against main: <b>fail</b>"


def test_report_explorer_shows_errors_under_the_widget(demo, tmp_path, capsys):
    box = report_explorer(demo)
    folder = box.children[0].children[0]
    # Not a repository: the one-line error shows in the widget's Output. Where the Output shows it
    # depends on the process: with an IPython shell (a kernel, or an earlier test that made one)
    # Output.capture displays it; without one it lets the exception through. Either way, the
    # attendee's message must be there; nothing stale stays on screen.
    try:
        folder.value = str(tmp_path)
        shown = capsys.readouterr().out
    except WorkshopError as exc:
        shown = str(exc)
    assert "is not inside a git repository" in shown
    assert box.children[0].children[1].options == () and box.children[1].value == ""
    folder.value = str(demo)
    assert "feature/discount" in box.children[1].value
