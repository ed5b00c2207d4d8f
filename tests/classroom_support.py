"""A real room for the classroom tests: a password-protected PostgreSQL started from the
embedded server's binaries (workshop.classroom.server), a template with the tiny dataset,
and attendee roles. Attendees run as child processes, each with its own state folder and
only its own URL, as their kernels would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Room:
    home: Path
    admin_url: str
    urls: dict[str, str]  # attendee -> their URL (with their password)
    tag: str
    es_url: str | None  # the Elasticsearch node the room shares, when there is one

    def env(self, attendee: str, **extra: str) -> dict[str, str]:
        """An attendee kernel's environment: their own state folder and URL, nothing of the instructor's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
        env.update(
            {
                "WORKSHOP_HOME": str(self.home.parent / f"kernel-{attendee}"),
                "WORKSHOP_NO_DOCKER": "1",
                "WORKSHOP_CLASSROOM": "1",
                "WORKSHOP_DATABASE_URL": self.urls[attendee],
                **({"WORKSHOP_ELASTICSEARCH_URL": self.es_url} if self.es_url else {}),
                **extra,
            }
        )
        return env

    def run(self, attendee: str, script: str, set_up: bool = True, **extra: str) -> dict:
        """Run `script` as the attendee (after workshop.setup(), unless not `set_up`: a chapter
        that needs none); its last stdout line is JSON."""
        code = "import json, workshop\n" + ("workshop.setup(progress=False)\n" if set_up else "") + script
        done = subprocess.run(
            [sys.executable, "-c", code], env=self.env(attendee, **extra), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", name="room")
def room_fixture():
    from workshop.classroom import instructor
    from workshop.classroom.server import ClassroomServer
    from workshop.services import elasticsearch

    parent = Path(tempfile.mkdtemp(prefix="workshop-room-"))
    parent.chmod(0o755)  # the server runs as its own account when we are root
    home = parent / "state"
    tag = uuid.uuid4().hex[:6]  # index names of this run only, on a shared Elasticsearch node
    attendees = [f"a{tag}", f"b{tag}", f"jupyter-c{tag}"]
    server = ClassroomServer(home)
    found = elasticsearch.find()  # before the state folder changes: this checkout's node
    with pytest.MonkeyPatch.context() as patch:
        if found.available:  # the instructor's drop-all deletes the room's indexes there
            patch.setenv("WORKSHOP_ELASTICSEARCH_URL", found.url)
        try:
            admin_url = server.admin_url()
            patch.setenv("WORKSHOP_CLASSROOM_ADMIN_URL", admin_url)
            patch.setenv("WORKSHOP_HOME", str(home))  # the instructor's state folder (attendees.tsv)
            instructor.prepare(attendees, size="tiny")
            urls = dict(
                line.split("\t", 1) for line in instructor.attendees_file().read_text().splitlines() if "\t" in line
            )
            yield Room(home, admin_url, urls, tag, found.url if found.available else None)
            instructor.drop_all()
        finally:
            server.stop()
            shutil.rmtree(parent, ignore_errors=True)
