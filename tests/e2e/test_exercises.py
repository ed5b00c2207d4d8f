"""One exercise per chapter, in JupyterLab, the way an attendee meets it: a wrong answer gets a
sentence that says what is wrong, `hint(n)` gives the first step, and the solution (imported
from the chapter's solutions module, as a stand-in for the attendee's own code) gets "Correct"."""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from conftest import NOTEBOOKS
from lab_page import NotebookView

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER = re.compile(r"^answer_(\d+) = \.\.\.", re.MULTILINE)
EXERCISES_IMPORT = re.compile(r"from (workshop\.\w+)\.exercises import")


def _first_exercise(path) -> tuple[int, int, str] | None:
    """(code cell position among code cells, exercise number, theme package) of the first answer cell."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    theme = next((m.group(1) for c in code for m in [EXERCISES_IMPORT.search(c.source)] if m), None)
    for position, cell in enumerate(code):
        found = ANSWER.search(cell.source)
        if found and theme:
            return position, int(found.group(1)), theme
    return None


WITH_EXERCISES = [p for p in NOTEBOOKS if _first_exercise(p)]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_wrong_answer_then_hint_then_right_answer(page, lab, path):
    position, number, theme = _first_exercise(path)
    nb = NotebookView(page, path.name)
    try:
        nb.open(lab.lab_url(f"tree/{path.name}", workspace=f"exercise-{path.stem}"))
        nb.dismiss_toasts()
        nb.run_all()
        steps = [
            (f"answer_{number} = None\ncheck({number}, answer_{number})", "Not yet"),
            (f"hint({number})", "Hint 1 of"),
            (
                f"from {theme}.solutions import solution_{number}\n\n"
                f"answer_{number} = solution_{number}()\ncheck({number}, answer_{number})",
                "Correct",
            ),
        ]
        for code, expected in steps:
            shown = _run_in_cell(nb, position, code)
            assert expected in shown, f"{path.name}, exercise {number}: after {code!r} the cell shows {shown[:500]!r}"
            assert "Traceback" not in shown
    finally:
        page.close()
        lab.shutdown_sessions(path.name)


def _run_in_cell(nb: NotebookView, position: int, code: str, timeout: float = 120) -> str:
    """Replace the code of the code cell at `position`, run it (Ctrl+Enter) and return its output text."""
    cell = nb.panel.locator(".jp-CodeCell").nth(position)
    cell.scroll_into_view_if_needed()
    editor = cell.locator(".cm-content").first
    editor.click()
    nb.page.keyboard.press("Control+a")
    nb.page.keyboard.insert_text(code)  # no key events: no auto-indent or bracket closing in the way
    before = cell.locator(".jp-InputArea-prompt").first.text_content() or ""
    nb.page.keyboard.press("Control+Enter")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompt = cell.locator(".jp-InputArea-prompt").first.text_content() or ""
        if prompt != before and "*" not in prompt and nb.kernel_status() == "idle":
            time.sleep(0.3)
            return cell.locator(".jp-OutputArea").first.text_content() or ""
        time.sleep(0.2)
    raise AssertionError(f"{nb.name}: the edited cell did not finish in {timeout:.0f} s")
