"""The dataset as one file: `workshop data export FILE` and `workshop data import FILE`.

An instructor exports the dataset once and hands the file out (a USB stick, the room's
server), so that a laptop loads it instead of generating it. The file is a gzip'd tar: a
manifest (format, size, seed, the generator and vocabulary it came from, every table's
columns, row count and SHA-256) followed by each table in COPY's text format.

What is exported is the dataset as loaded (the copy `workshop reset` restores from), not what
a chapter changed since. An import checks everything before anything commits: a file that is
not such an archive, comes from another workshop version, or whose tables do not match their
checksums is refused with one line, and the dataset in place stays as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from psycopg import sql

from workshop.errors import WorkshopError
from workshop.shop.data import generate, load, snapshot, vocab

FORMAT = "django-workshop-dataset"
VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20


def export(path: str | os.PathLike) -> dict:
    """Write the loaded dataset to `path` (written whole under a temporary name, then renamed)."""
    from django.db import connection, transaction

    path = Path(path)
    dataset = load.current()
    if dataset is None:
        raise WorkshopError("No dataset is loaded to export", "run workshop.setup() or `workshop data load` first")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "size": dataset.size,
        "seed": dataset.seed,
        "generator_version": dataset.generator_version,
        "vocab": dataset.row_counts.get("_vocab"),
        "tables": [],
    }
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise WorkshopError(f"Folder {parent} does not exist", "export into an existing folder")
    with tempfile.TemporaryDirectory(prefix=".export-", dir=parent) as tmp:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [load.LOCK_KEY])  # not while a load runs
            if snapshot.label(cursor) is None:
                raise WorkshopError(
                    "This database has no saved copy of its dataset (it was loaded by an older workshop)",
                    "run `workshop data load --force` once, then export",
                )
            for table in snapshot.saved_tables(cursor):
                columns = snapshot.columns(cursor, table)
                digest, rows = hashlib.sha256(), 0
                with open(Path(tmp) / f"{table}.tsv", "wb") as out:
                    statement = sql.SQL("COPY {} ({}) TO STDOUT").format(
                        sql.Identifier(snapshot.SCHEMA, table), sql.SQL(", ").join(map(sql.Identifier, columns))
                    )
                    with cursor.cursor.copy(statement) as copy:
                        for block in copy:
                            digest.update(block)
                            rows += bytes(block).count(b"\n")
                            out.write(block)
                manifest["tables"].append(
                    {"name": table, "columns": columns, "rows": rows, "sha256": digest.hexdigest()}
                )
        partial = Path(tmp) / "archive"
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            for table in manifest["tables"]:
                tar.add(Path(tmp) / f"{table['name']}.tsv", arcname=f"{table['name']}.tsv")
        os.replace(partial, path)
    return manifest


def _refuse(path: Path, why: str) -> WorkshopError:
    return WorkshopError(
        f"{path} is not a dataset the workshop can import ({why})",
        "export one with `workshop data export FILE` from this workshop version; the current dataset is unchanged",
    )


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile() or first.size > 1 << 20:
        raise _refuse(path, "no manifest at its start")
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except (ValueError, UnicodeDecodeError):
        raise _refuse(path, "its manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise _refuse(path, "another format or version")
    if manifest.get("generator_version") != generate.GENERATOR_VERSION or manifest.get("vocab") != vocab.checksum():
        raise _refuse(path, "made by another workshop version: its generator or vocabulary differ")
    if not isinstance(manifest.get("tables"), list) or not manifest["tables"]:
        raise _refuse(path, "its manifest lists no table")
    return manifest


def import_(path: str | os.PathLike, progress: bool = True) -> load.LoadResult:
    """Load the dataset from an exported file, in one transaction, checked before it commits."""
    path = Path(path)
    try:
        tar = tarfile.open(path, "r:gz")
    except FileNotFoundError:
        raise WorkshopError(f"No file {path}", "give the path of a file made by `workshop data export`") from None
    except (tarfile.TarError, OSError, EOFError):
        raise _refuse(path, "not a gzip'd tar") from None
    try:
        with tar:
            return _import(tar, path, progress)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:  # truncated or damaged (nothing committed)
        raise _refuse(path, f"damaged: {error}") from None


def _import(tar: tarfile.TarFile, path: Path, progress: bool) -> load.LoadResult:
    from django.db import connection

    manifest = read_manifest(tar, path)
    expected = {t["name"]: t for t in manifest["tables"]}
    with connection.cursor() as cursor:
        for name, table in expected.items():
            if snapshot.live_columns(cursor, name) != table.get("columns"):
                raise _refuse(path, f"table {name!r} has other columns here")
    members = {m.name: m for m in tar.getmembers() if m.isfile()}
    missing = [n for n in expected if f"{n}.tsv" not in members]
    if missing:
        raise _refuse(path, f"tables missing: {', '.join(missing)}")
    tables = [
        generate.Table(name, tuple(t["columns"]), _checked_chunks(tar, members[f"{name}.tsv"], t, path))
        for name, t in expected.items()
    ]
    rows = sum(int(t.get("rows", 0)) for t in expected.values())
    return load.replace(
        tables,
        manifest["size"],
        int(manifest["seed"]),
        manifest["generator_version"],
        manifest["vocab"],
        rows,
        progress,
    )


def _checked_chunks(tar: tarfile.TarFile, member: tarfile.TarInfo, table: dict, path: Path):
    """COPY chunks of one member; at its end, the SHA-256 and row count must be the manifest's
    (raised inside the load's transaction, so nothing commits)."""

    def chunks() -> Iterator[tuple[int, bytes]]:
        digest, rows = hashlib.sha256(), 0
        handle = tar.extractfile(member)
        while block := handle.read(CHUNK):
            digest.update(block)
            count = block.count(b"\n")
            rows += count
            yield count, block
        if digest.hexdigest() != table.get("sha256") or rows != table.get("rows"):
            raise _refuse(path, f"table {table['name']!r} does not match its checksum")

    return chunks
