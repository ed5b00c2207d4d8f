"""What attendees do to notebooks besides running them top to bottom, in a real kernel
through jupyter_client (the browser adds nothing here; test_browser.py covers widgets):

- run them twice in one kernel, then again after a kernel restart;
- run a later section first: the notebook must say what to run, not show Django internals;
- run them with Elasticsearch down: only the search notebook may need it;
- `workshop db reset` in the middle of a session (after the two runs, before the restart):
  re-running a notebook that uses the database (setup() first) must recover in the same kernel.

Unlike tests/test_notebooks.py (nbclient), an error raised inside a widget callback counts
as a failure here: it shows under the widget although the cell itself "succeeded".
"""

from __future__ import annotations

import re
import subprocess

import nbformat
import pytest
from conftest import NOTEBOOKS, closed_port, notebook_env, workshop_command
from kernel import CellRun, NotebookKernel, failures

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]
IDS = [p.stem for p in NOTEBOOKS]

# Errors that only mean "Django is not set up in this kernel": an attendee must never see
# them; a cell run too early must say which cell to run instead.
DJANGO_NOT_READY = ("ImproperlyConfigured", "AppRegistryNotReady", "SynchronousOnlyOperation")
SETUP_HINT = re.compile(r"workshop\.setup\(\)")
AMBER = "#b26b00"  # doctor.html_table's colour for an optional check that is missing


def needs_elasticsearch(path) -> bool:
    """A notebook that cannot work without Elasticsearch: metadata workshop.requires lists
    "elasticsearch", or its name says search."""
    meta = nbformat.read(path, as_version=4).metadata.get("workshop", {})
    return "elasticsearch" in meta.get("requires", []) or "search" in path.stem


def report(runs: list[CellRun]) -> str:
    return "\n\n".join(r.describe() for r in failures(runs))


def setup_cell(kernel: NotebookKernel) -> int:
    """The cell that sets the chapter up: workshop.setup(), or in a chapter that needs no
    database (01) the workshop.reset() that starts it."""
    try:
        return kernel.find_cell("workshop.setup(")
    except LookupError:
        return kernel.find_cell("workshop.reset(")


def uses_database(path) -> bool:
    """A notebook that sets up the database (chapter 01 works on git repositories and files only)."""
    return any(c.cell_type == "code" and "workshop.setup(" in c.source for c in nbformat.read(path, as_version=4).cells)


def section_cells(kernel: NotebookKernel) -> list[int]:
    """The first code cell of each section (a markdown heading) after the setup cell."""
    first = setup_cell(kernel)
    starts, heading = [], False
    for index, cell in enumerate(kernel.nb.cells):
        if cell.cell_type == "markdown" and re.search(r"(?m)^#{1,6} ", cell.source):
            heading = True
        elif cell.cell_type == "code" and heading:
            if index > first:
                starts.append(index)
            heading = False
    return starts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_twice_then_after_a_db_reset_then_after_a_kernel_restart(path):
    """Run All twice in one kernel; then, for a notebook that uses the database, `workshop db
    reset` in the middle of the session (same environment) and Run All again in the same kernel:
    setup() rebuilds the database and every cell works; then a kernel restart and Run All."""
    env = notebook_env("workshop_attendee_reset")
    with NotebookKernel(path, env) as kernel:
        for when in ("first run", "second run in the same kernel"):
            runs = kernel.run_all()
            assert not failures(runs), f"{path.name}, {when}:\n{report(runs)}"
        if uses_database(path):
            reset = subprocess.run(
                workshop_command("db", "reset"), env=env, capture_output=True, text=True, timeout=120
            )
            assert reset.returncode == 0, reset.stdout + reset.stderr
            assert "dropped" in reset.stdout
            runs = kernel.run_all()
            assert not failures(runs), (
                f"{path.name}: re-running the notebook after `workshop db reset` did not recover:\n{report(runs)}"
            )
            status = next(run for run in runs if "workshop.setup(" in run.source)  # 00 runs the doctor first
            assert "migrations" in status.shown, f"setup() did not rebuild the database: {status.shown[:500]}"
        kernel.restart()
        runs = kernel.run_all()
        assert not failures(runs), f"{path.name}, after a kernel restart:\n{report(runs)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_later_section_first_says_what_to_run(path):
    """Each section's first cell, run in a fresh kernel before anything else: it works, or it
    says to run workshop.setup() (a NameError for a variable of an earlier cell is plain
    Python and allowed); never a Django set-up error. Then Run All recovers in that kernel."""
    with NotebookKernel(path, notebook_env("workshop_attendee")) as kernel:
        starts = section_cells(kernel)
        assert starts, f"{path.name}: no section after the setup cell"
        told = []
        for number, index in enumerate(starts):
            if number:
                kernel.restart()
            run = kernel.run_cell(index)
            if not run.failed:
                continue
            shown = run.shown
            assert run.ename not in DJANGO_NOT_READY and not any(e in shown for e in DJANGO_NOT_READY), (
                f"{path.name}: cell {index} run before setup() shows Django's own error instead of what to "
                f"run:\n{run.describe()}"
            )
            assert run.ename == "NameError" or SETUP_HINT.search(shown), (
                f"{path.name}: cell {index} run before setup() fails without saying what to run:\n{run.describe()}"
            )
            if SETUP_HINT.search(shown):
                told.append(index)
                assert SETUP_HINT.search(run.evalue), (
                    f"{path.name}: cell {index}: the last line of the error must say what to run, not only the "
                    f"traceback above it:\n{run.describe()}"
                )
        runs = kernel.run_all()
        assert not failures(runs), f"{path.name}: Run All after cells run out of order:\n{report(runs)}"
    if path.stem == "00_setup_check":
        query = kernel.find_cell("top_cities")
        assert query in told, f"the query cell ({query}) run first must name workshop.setup(); told in {told}"


@pytest.mark.parametrize(
    "path",
    [p for p in NOTEBOOKS if not needs_elasticsearch(p)],
    ids=[p.stem for p in NOTEBOOKS if not needs_elasticsearch(p)],
)
def test_elasticsearch_down_changes_nothing(path):
    """WORKSHOP_ELASTICSEARCH_URL points at a closed port: the notebook runs as usual, and
    wherever the doctor table shows, its Elasticsearch row is amber (optional), not red."""
    env = notebook_env("workshop_attendee", WORKSHOP_ELASTICSEARCH_URL=f"http://127.0.0.1:{closed_port()}")
    with NotebookKernel(path, env) as kernel:
        runs = kernel.run_all()
        assert not failures(runs), f"{path.name} with Elasticsearch down:\n{report(runs)}"
    tables = [r.html for r in runs if "workshop-doctor" in r.html]
    if path.stem == "00_setup_check":
        assert tables, "00_setup_check shows no doctor table"
    for table in tables:
        row = re.search(r"<tr>((?:(?!</tr>).)*>Elasticsearch<(?:(?!</tr>).)*)</tr>", table)
        assert row, f"{path.name}: the doctor table has no Elasticsearch row"
        assert AMBER in row.group(1) and ">warn<" in row.group(1), f"{path.name}: Elasticsearch row {row.group(1)}"
        assert "FAIL" not in table, f"{path.name}: a required check failed: {table}"
