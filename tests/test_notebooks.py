"""Every notebook, executed top to bottom twice in one real kernel (attendees re-run
everything), against the dataset size attendees use in a database of its own. The first run's
cell times feed the room-time model (each section within its stated minutes, each chapter's
main path within its limit), and every exercise's solution is checked in the notebook's own
kernel, on the notebook's data, so a solution that only works on the tiny dataset fails here."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

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


def _live_when_up(path: Path) -> dict[str, str]:
    """Sections that run live where an optional service is up, else show a recorded run:
    {service: the kernel variable that is true when that section ran live}."""
    return nbformat.read(path, as_version=4).metadata.get("workshop", {}).get("live_when_up", {})


NEEDS_ELASTICSEARCH = [p for p in NOTEBOOKS if "elasticsearch" in _requires(p)]
# Marked with the optional services they run live in CI, so .ci/run can run them once those are up.
ROOM_RUNS = [
    pytest.param(p, id=p.stem, marks=[getattr(pytest.mark, service) for service in _live_when_up(p)]) for p in NOTEBOOKS
]


@pytest.mark.notebooks
@pytest.mark.parametrize("path", ROOM_RUNS)
def test_notebook_runs_twice_in_one_kernel(path):
    seconds = _run_twice(
        path,
        _room_env(),
        check_exercises=True,
        live_in_ci=_live_when_up(path) if os.environ.get("CI") else {},
    )
    _record_seconds(path, seconds)
    # The room-time model with these run times: no section over its stated minutes, the main path
    # within its limit (35 min, the setup check 10).
    from workshop.lessons import roomtime

    chapter = roomtime.model(path, seconds)
    assert not chapter.problems(), "\n".join([*chapter.problems(), roomtime.table(chapter)])


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NEEDS_ELASTICSEARCH, ids=[p.stem for p in NEEDS_ELASTICSEARCH])
def test_notebook_runs_twice_without_elasticsearch(path):
    """Binder and the embedded default have no Elasticsearch: its sections must say so and
    skip cleanly. A closed port on 127.0.0.1 stands in for the missing node."""
    _run_twice(path, {"WORKSHOP_ELASTICSEARCH_URL": "http://127.0.0.1:9"})


# What an attendee of chapter 01 does besides Run All: every hint and solution, and the "How fast?"
# button (a small live run); then whether Django was ever set up in the kernel.
NO_DATABASE_PROBE = """
import json as _json
from django.conf import settings as _settings
from workshop.bench.recorded import how_fast as _how_fast
from workshop.review import bench as _bench
from workshop.review.exercises import EXERCISES as _ex
for _n in _ex.by_number:
    _ex.hint(_n), _ex.hint(_n), _ex.reveal(_n)
_ran = []
_box = _how_fast("review", live=lambda: _ran.append(_bench.live()) or _ran[-1])
_box.children[-2].click()  # what the button does, in this kernel; an error goes to the widget's stderr
print(_json.dumps({
    "live": [r.name for run in _ran for r in run],
    "errors": [o["text"] for o in _box.children[-1].outputs if o.get("name") == "stderr"],
    "django_set_up": _settings.configured,
}))
"""


@pytest.mark.notebooks
def test_pull_requests_runs_where_no_postgresql_answers_and_starts_none(tmp_path):
    """Chapter 01 works on git repositories and local files: it runs top to bottom twice, its
    exercises judged, with WORKSHOP_DATABASE_URL naming a socket folder where no server listens
    (any connection fails), and starts no server: no postmaster in its state folder, no new
    postgres process for it, Django never set up in its kernel; its progress is in the state folder."""
    [path] = [p for p in NOTEBOOKS if p.stem.startswith("01_")]
    home, no_server = tmp_path / "state", tmp_path / "no-server"
    no_server.mkdir()
    env = {"WORKSHOP_HOME": str(home), "WORKSHOP_DATABASE_URL": f"postgresql://workshop@/workshop?host={no_server}"}
    before = _postgres_processes()
    probed = {}
    _run_twice(
        path, env, check_exercises=True, then=lambda kernel: probed.update(_json_from_kernel(kernel, NO_DATABASE_PROBE))
    )
    assert probed["django_set_up"] is False, "something on chapter 01's path set up Django"
    assert probed["live"] and not probed["errors"], probed
    assert not list(home.rglob("postmaster.pid")) and not (home / "pgdata").exists(), sorted(home.rglob("*"))
    assert not list(no_server.iterdir()), "a server was started on the socket folder"
    started = {pid: line for pid, line in _postgres_processes().items() if pid not in before}
    assert not [line for line in started.values() if str(tmp_path) in line], started
    recorded = json.loads((home / "progress.json").read_text())
    assert set(recorded) == {"01"} and all(e["hints"] == 2 and e["revealed"] for e in recorded["01"].values())


def _postgres_processes() -> dict[int, str]:
    """{pid: command line} of every postgres process on the machine."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() in ("postgres", "postmaster"):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return found


# The size attendees run (the notebooks' default); WORKSHOP_NOTEBOOK_SIZE=tiny for a quick local run.
ROOM_SIZE = os.environ.get("WORKSHOP_NOTEBOOK_SIZE", "workshop")


def _room_env() -> dict[str, str]:
    """The room runs' dataset size, in a database of its own: setup() keeps the dataset a
    database already holds, and the Elasticsearch-less runs use the tiny one."""
    room_db = os.environ.get("WORKSHOP_NOTEBOOK_DB", "workshop_notebooks") + "_room"
    return {"WORKSHOP_DATA_SIZE": ROOM_SIZE, "WORKSHOP_DB_NAME": room_db}


SECONDS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "cell_seconds"
EXERCISES_IMPORT = re.compile(r"from ((?:\w+\.)*exercises) import")  # workshop.<theme>.exercises


def _run_twice(
    path: Path,
    extra_env: dict[str, str],
    check_exercises: bool = False,
    live_in_ci: dict[str, str] | None = None,
    then: Callable | None = None,
) -> dict[str, float]:
    """Run the notebook twice in one kernel; returns the first run's seconds per cell id.
    live_in_ci: {service: kernel variable} that must be true after the first run (CI provides
    those services, so their sections must have run live, not from a recorded run).
    `then(kernel)`: called in the same kernel after both runs (a probe of the kernel's state).

    Through jupyter_client's blocking client (tests/kernel.py), as the attendee tests run: with
    nbclient's asyncio client, a run waited forever, twice in loaded fresh-clone runs, on a cell
    its kernel had finished (kernel idle, no timeout raised). In a thread of its own: the
    browser tests' Playwright keeps an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run_twice_here, path, extra_env, check_exercises, live_in_ci, then).result()


def _run_twice_here(path, extra_env, check_exercises, live_in_ci, then) -> dict[str, float]:
    from kernel import NotebookKernel  # tests/kernel.py

    # WORKSHOP_NOTEBOOK_DB: a database of one's own when several test runs share one server.
    db_name = os.environ.get("WORKSHOP_NOTEBOOK_DB", "workshop_notebooks")
    env = {
        **os.environ,
        "WORKSHOP_DB_NAME": db_name,
        "WORKSHOP_DATA_SIZE": "tiny",
        "WORKSHOP_NO_DOCKER": "1",
        **extra_env,
    }
    seconds: dict[str, float] = {}
    with NotebookKernel(path, env, timeout=600) as kernel:
        for run in (1, 2):
            for index, cell in kernel.code_cells:
                started = time.monotonic()
                ran = kernel.run_cell(index)
                # an error in the cell, or inside a widget's Output during it (the cell says "ok")
                assert not ran.failed, f"run {run}: {ran.describe()}"
                if run == 1:
                    seconds[cell.get("id", str(index))] = time.monotonic() - started
            if run == 1 and check_exercises:
                _check_solutions_in_kernel(kernel)
            if run == 1 and live_in_ci:
                ran = _kernel_values(kernel, list(live_in_ci.values()))
                assert all(ran.values()), (
                    f"CI provides {list(live_in_ci)}, yet these sections ran from a recording: {ran}"
                )
        if then is not None:
            then(kernel)
    return seconds


def _record_seconds(path: Path, seconds: dict[str, float]) -> None:
    """For `workshop lessons time`: the run times of the last notebook test."""
    SECONDS_DIR.mkdir(parents=True, exist_ok=True)
    (SECONDS_DIR / f"{path.stem}.json").write_text(json.dumps(seconds, indent=1))


def _kernel_values(kernel, names: list[str]) -> dict[str, object]:
    """The values of these variables in the notebook's kernel, through a probe cell."""
    return _json_from_kernel(
        kernel, f"import json as _json; print(_json.dumps({{n: bool(globals().get(n)) for n in {names!r}}}))"
    )


def _check_solutions_in_kernel(kernel) -> None:
    """Every exercise's solution passes its check in the notebook's kernel, and the minutes its
    heading states are the ones its declaration says."""
    from workshop.lessons import roomtime

    nb = kernel.nb
    modules = sorted({m for c in nb.cells if c.cell_type == "code" for m in EXERCISES_IMPORT.findall(c.source)})
    for module in modules:
        results = _json_from_kernel(
            kernel,
            "import importlib as _il, json as _json\n"
            f"_ex = _il.import_module({module!r}).EXERCISES\n"
            "print(_json.dumps({n: [e.minutes, e.judge(e.solution()).ok, e.judge(e.solution()).message] "
            "for n, e in _ex.by_number.items()}))",
        )
        failing = {n: message for n, (_minutes, ok, message) in results.items() if not ok}
        assert not failing, f"{module}: solutions fail on the notebook's dataset: {failing}"
        stated = {
            m["number"]: int(m["minutes"])
            for c in nb.cells
            if c.cell_type == "markdown"
            for m in roomtime.EXERCISE.finditer(c.source)
        }
        declared = {n: minutes for n, (minutes, _ok, _message) in results.items()}
        assert stated == declared, f"{module}: exercise headings state {stated} minutes, the declarations {declared}"


def _json_from_kernel(kernel, code: str):
    """Run `code` in the notebook's kernel; the JSON it prints (its stdout)."""
    probe = kernel.execute(code)
    assert not probe.failed and probe.stdout, f"the probe failed or printed nothing: {probe.describe()}"
    return json.loads(probe.stdout)


# A chapter whose one solution is right only on the tiny dataset (as 02's planted-leaks solution
# once was): its checker counts the customers of the notebook's own database.
TINY_ONLY_EXERCISES = """
from workshop.lessons import Exercise, Exercises, Wrong
from workshop.shop.data.sizes import get_size


def _check(answer):
    from workshop.shop.models import Customer

    if Customer.objects.count() > get_size("tiny").customers:
        raise Wrong("this solution is only right on the tiny dataset")


def solution_1():
    return "an answer"


EXERCISES = Exercises("99", [Exercise(1, "Tiny only", 5, _check, ("a nudge", "a closer one"), solution_1)])
check = EXERCISES.check
"""


@pytest.mark.notebooks
def test_the_notebook_test_fails_a_solution_that_is_right_only_on_the_tiny_dataset(tmp_path):
    """What the room runs check of every chapter, shown on a chapter made to fail: the solution
    passes on `tiny` (the exercise tests' default) and is refused on the notebook's size."""
    if ROOM_SIZE == "tiny":
        pytest.skip("WORKSHOP_NOTEBOOK_SIZE=tiny: the room runs use the tiny dataset here")
    package = tmp_path / "tinyonly"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "exercises.py").write_text(TINY_ONLY_EXERCISES)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [
        nbformat.v4.new_code_cell("import workshop\nstatus = workshop.setup(progress=False)"),
        nbformat.v4.new_markdown_cell("### Exercise 1: tiny only (5 min)"),
        nbformat.v4.new_code_cell("from tinyonly.exercises import check\ncheck(1, ...)"),
    ]
    path = tmp_path / "99_tiny_only.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="solutions fail on the notebook's dataset.*only right on the tiny"):
        _run_twice(path, _room_env(), check_exercises=True)
    _run_twice(path, {"WORKSHOP_DATA_SIZE": "tiny"}, check_exercises=True)  # the same chapter on tiny: passes


def test_setup_check_names_the_fix_in_a_kernel_without_the_workshop(tmp_path):
    """Notebook 00's first code cell, run by a Python that cannot import the workshop (-S: no
    site-packages, run from outside the checkout), stops with the fix instead of a bare
    ModuleNotFoundError."""
    import subprocess
    import sys

    nb = nbformat.read(Path(__file__).resolve().parent.parent / "notebooks" / "00_setup_check.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "doctor" in first.source, "notebook 00 must run the doctor first"
    run = subprocess.run([sys.executable, "-S", "-c", first.source], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    assert "does not have the workshop installed" in run.stderr and "Change Kernel" in run.stderr
    assert "Traceback" not in run.stderr
