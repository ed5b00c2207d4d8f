"""The dump's CSV fallback names a file after each table of the copy: a table named with `..`,
a separator or an absolute path must not write outside the dump's folder. Refused in one line,
before any file is written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from anonymize_support import drop
from psycopg import sql

from workshop.anonymize import db
from workshop.anonymize import dump as dump_mod
from workshop.errors import WorkshopError

pytestmark = pytest.mark.django_db
TAG = uuid.uuid4().hex[:12]
HOSTILE = [f"../../escaped_{TAG}", f"/tmp/absolute_{TAG}", f"sub/dir_{TAG}", "..", "."]


@pytest.fixture
def csv_fallback(monkeypatch):
    """As on a machine without a usable pg_dump: the dump falls back to COPY ... TO STDOUT."""
    monkeypatch.setattr(dump_mod, "_pg_dump", lambda: None)


@pytest.mark.parametrize("table", HOSTILE)
def test_a_table_name_that_would_leave_the_folder_is_refused(table, csv_fallback, tmp_path):
    folder = tmp_path / "out" / "copy"
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA dump_hostile")
        conn.execute("CREATE TABLE dump_hostile.plain (id int)")
        conn.execute(sql.SQL("CREATE TABLE {} (secret text)").format(sql.Identifier("dump_hostile", table)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES ('x')").format(sql.Identifier("dump_hostile", table)))
    try:
        with pytest.raises(WorkshopError, match="table name") as error:
            dump_mod.dump("dump_hostile", tmp_path / "out" / "copy.dump")
        assert "\n" not in str(error.value)
    finally:
        drop("dump_hostile")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not written, written  # not even the plain table: nothing half-written
    for place in (Path("/tmp"), tmp_path, tmp_path / "out", folder.parent.parent):
        assert not list(place.glob(f"*{TAG}*")), place


def test_plain_names_still_dump_to_csv(csv_fallback, tmp_path):
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA dump_plain")
        conn.execute('CREATE TABLE dump_plain."Mixed Case-name" (id int)')
        conn.execute('INSERT INTO dump_plain."Mixed Case-name" VALUES (7)')
    try:
        folder = dump_mod.dump("dump_plain", tmp_path / "copy.dump")
    finally:
        drop("dump_plain")
    assert (folder / "Mixed Case-name.csv").read_text() == "id\n7\n"
    assert (folder / "Mixed Case-name.csv").stat().st_mode & 0o777 == 0o600
