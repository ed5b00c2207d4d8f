"""The room's progress: each attendee's checks land in their own database, the instructor
sees the whole room in one table (and as nbgrader's export CSV), and no answer is stored."""

from __future__ import annotations

import csv
import subprocess
import sys

import psycopg

from tests.classroom_support import room_fixture  # noqa: F401 (the `room` fixture)
from workshop.classroom import attendee, names, room_progress

CHECKS = """
from workshop.lessons import Exercise, Exercises, Wrong, progress

def checker(answer):
    if answer != 42:
        raise Wrong("not that number")

E = Exercises("04", [Exercise(1, "t", minutes=5, checker=checker, hints=("a nudge", "closer"), solution=lambda: 42)])
E.check(1, "SECRET-ANSWER-%s")
E.hint(1)
verdict = E.check(1, %s)
progress.record("04", 2, revealed=True)
print(json.dumps(str(verdict)))
"""


def test_the_instructor_sees_each_attendees_checks_in_one_table_and_never_an_answer(room):
    from workshop.classroom import instructor, room_table

    alice, bob = f"a{room.tag}", f"b{room.tag}"
    assert room.run(alice, CHECKS % (alice, 42)).startswith("Correct")
    assert room.run(bob, CHECKS % (bob, 7)).startswith("Not yet")
    by_role = {a.role: a for a in instructor.room()}
    rows = {(r["chapter"], r["exercise"]): r for r in by_role[alice].progress}
    assert rows[("04", 1)]["passed_at"] is not None and rows[("04", 1)]["attempts"] == 2
    assert rows[("04", 1)]["hints"] == 1 and rows[("04", 2)]["revealed"]
    bobs = {(r["chapter"], r["exercise"]): r for r in by_role[bob].progress}
    assert bobs[("04", 1)]["passed_at"] is None and bobs[("04", 1)]["attempts"] == 2
    table = room_table.render(list(by_role.values()))
    line = {row.split()[0]: row for row in table.splitlines()[2:] if row.strip()}
    assert "✔h1" in line[alice] and "✘2h1" in line[bob] and "(no database yet)" in line[f"jupyter-c{room.tag}"]
    with psycopg.connect(attendee.database_url(room.admin_url, names.database_for(alice))) as conn:
        stored = conn.execute(f"SELECT * FROM {room_progress.SCHEMA}.progress").fetchall()
        columns = [c.name for c in conn.execute(f"SELECT * FROM {room_progress.SCHEMA}.progress LIMIT 0").description]
    assert columns == ["chapter", "exercise", "passed_at", "attempts", "hints", "revealed", "updated_at"]
    assert "SECRET-ANSWER" not in repr(stored)


def test_a_chapter_without_set_up_reports_its_checks_to_the_room(room):
    """Chapter 01 never calls setup(): its checks still reach the attendee's database."""
    from workshop.classroom import instructor

    bob = f"b{room.tag}"
    script = (CHECKS % (bob, 42)).replace('"04"', '"01"')
    assert room.run(bob, script + "import sys\nassert 'django.db' not in sys.modules\n", set_up=False) == "Correct!"
    [bobs] = [a for a in instructor.room() if a.role == bob]
    rows = {(r["chapter"], r["exercise"]): r for r in bobs.progress}
    assert rows[("01", 1)]["passed_at"] is not None and rows[("01", 2)]["revealed"]


def test_status_writes_nbgrader_export_columns_and_progress_survives_a_reset(room, tmp_path):
    from workshop.classroom import instructor

    alice = f"a{room.tag}"
    room.run(alice, CHECKS % (alice, 42))
    instructor.reset(alice)  # a fresh clone: the room table is empty again...
    assert [a.progress for a in instructor.room() if a.role == alice] == [[]]
    room.run(alice, "print(json.dumps(0))")  # ...until the attendee's next setup() writes it back
    assert [len(a.progress) for a in instructor.room() if a.role == alice] == [2]
    out = tmp_path / "grades.csv"
    env = {**room.env(alice), "WORKSHOP_HOME": str(room.home), "WORKSHOP_CLASSROOM_ADMIN_URL": room.admin_url}
    env.pop("WORKSHOP_CLASSROOM")
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "classroom", "status", "--csv", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert alice in done.stdout and room.admin_url.split("@")[0].split(":")[-1] not in done.stdout
    with open(out) as handle:
        graded = [r for r in csv.DictReader(handle) if r["student_id"] == alice and r["assignment"] == "04"]
    assert list(graded[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                               "email", "raw_score", "late_submission_penalty", "score", "max_score"]  # fmt: skip
    assert float(graded[0]["score"]) == 1.0 and int(graded[0]["max_score"]) >= 2
