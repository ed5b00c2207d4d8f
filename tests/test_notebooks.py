"""Every notebook, executed top to bottom twice in one real kernel (attendees re-run
everything), against the tiny dataset in a database of its own."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ is empty"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_with_a_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"  # no kernel-picker dialog
    assert not [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]


def _requires(path: Path) -> list[str]:
    return nbformat.read(path, as_version=4).metadata.get("workshop", {}).get("requires", [])


NEEDS_ELASTICSEARCH = [p for p in NOTEBOOKS if "elasticsearch" in _requires(p)]


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_twice_in_one_kernel(path):
    _run_twice(path, {})


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NEEDS_ELASTICSEARCH, ids=[p.stem for p in NEEDS_ELASTICSEARCH])
def test_notebook_runs_twice_without_elasticsearch(path):
    """Binder and the embedded default have no Elasticsearch: its sections must say so and
    skip cleanly. A closed port on 127.0.0.1 stands in for the missing node."""
    _run_twice(path, {"WORKSHOP_ELASTICSEARCH_URL": "http://127.0.0.1:9"})


def _run_twice(path: Path, extra_env: dict[str, str]) -> None:
    nb = nbformat.read(path, as_version=4)
    # WORKSHOP_NOTEBOOK_DB: a database of one's own when several test runs share one server.
    db_name = os.environ.get("WORKSHOP_NOTEBOOK_DB", "workshop_notebooks")
    env = {
        **os.environ,
        "WORKSHOP_DB_NAME": db_name,
        "WORKSHOP_DATA_SIZE": "tiny",
        "WORKSHOP_NO_DOCKER": "1",
        **extra_env,
    }
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel(env=env):
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on any error
                errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
                assert not errors, f"run {run}, cell {index}: {errors}"
                # Widget callbacks show their exceptions inside Output widgets, not as cell errors.
                assert not widget_errors(client), f"run {run}, cell {index}: {widget_errors(client)}"


def widget_errors(client: NotebookClient) -> list[dict]:
    """Error outputs captured by Output widgets so far (the kernel's widget state)."""
    states = client.widget_state.values()
    return [o for state in states for o in state.get("outputs", []) if o.get("output_type") == "error"]
