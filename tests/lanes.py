"""`make test` in two lanes at once: JupyterLab in a browser, the notebooks' room runs and the
Binder session (`rooms`) beside all the other tests (`rest`). Both spend much of their time
waiting on kernels, JVMs and servers, so together they fill a 2-core machine that one pytest
leaves 40% idle. They share the embedded PostgreSQL and the Elasticsearch
node, never a database nor an index (each lane's databases have names of their own, and
index names start with the database's). tests/conftest.py deselects the other lane's tests.

    python tests/lanes.py [--lanes 1|2] [--exercise-sizes "workshop"] [pytest arguments...]

The `rest` lane prints as it goes, then runs the exercise checks again on each of
--exercise-sizes (the notebooks' dataset, in a test database of its own); the `rooms` lane's
output is kept in test-artifacts/lane-rooms.log and printed when both are done. The exit
status is the first failing one (pytest's codes; a lane the selection leaves empty passes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "test-artifacts" / "lane-rooms.log"
LANE_ENV = "WORKSHOP_TEST_LANE"
# The rooms lane: JupyterLab in Chromium, the notebooks' room runs and the Binder session (~20 min
# in one pytest on 2 cores); the rest, the attendee kernels among them, takes about as long.
ROOMS_MARKER = "browser"
ROOMS_MODULES = ("test_notebooks.py", "test_binder_session.py")


NO_TESTS = 5  # pytest's exit code when the selection left nothing to run


def in_rooms(item) -> bool:
    return item.get_closest_marker(ROOMS_MARKER) is not None or item.path.name in ROOMS_MODULES


def _pytest(args: list[str], **env: str) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-m", "pytest", *args], {**os.environ, **env}


def _rest(pytest_args: list[str], sizes: list[str], lane: dict[str, str]) -> int:
    """The rest lane (or every test), then the exercise checks on the notebooks' sizes."""
    command, env = _pytest(pytest_args, **lane)
    code = subprocess.call(command, cwd=ROOT, env=env)
    for size in sizes:
        if code not in (0, NO_TESTS):
            break
        print(f"The exercise checks on the {size} dataset (the notebooks' size):", flush=True)
        # a test database of their own (test_workshop_exercises): never the one a lane uses
        command, env = _pytest(["-m", "exercises"], WORKSHOP_TEST_DATA_SIZE=size, WORKSHOP_DB_NAME="workshop_exercises")
        code = subprocess.call(command, cwd=ROOT, env=env)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--lanes", type=int, choices=(1, 2), default=2)
    parser.add_argument("--exercise-sizes", default="", help="dataset sizes to run the exercise checks on again")
    args, pytest_args = parser.parse_known_args(argv)
    sizes = args.exercise_sizes.split()
    if args.lanes == 1:
        return _rest(pytest_args, sizes, {})
    LOG.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(LOG, "w") as log:
        command, env = _pytest(pytest_args, **{LANE_ENV: "rooms", "WORKSHOP_DB_NAME": "workshop_lane_rooms"})
        rooms = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            rest = _rest(pytest_args, sizes, {LANE_ENV: "rest"})
            print(f"lanes: the rest lane ended (exit {rest}) after {time.monotonic() - started:.0f} s", flush=True)
            code = rooms.wait()
        except BaseException:
            rooms.terminate()
            rooms.wait()
            raise
    print(f"lanes: the rooms lane ended (exit {code}) after {time.monotonic() - started:.0f} s; its output:")
    print(LOG.read_text(), flush=True)
    if {rest, code} == {NO_TESTS}:
        return NO_TESTS
    return next((c for c in (rest, code) if c not in (0, NO_TESTS)), 0)


if __name__ == "__main__":
    sys.exit(main())
