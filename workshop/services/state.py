"""The state folder: created with a marker so that we never mistake (or delete) someone else's folder.

It holds the database, keys and logs, so it is private: 0700. As root the embedded
PostgreSQL and Elasticsearch run as their own system users, which must traverse it to reach
their own (private) subfolders: then it is 0711, enter but not list."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

MARKER = ".django-workshop-state"
FORMAT = 1
FIX_CORRUPT = "run `workshop db reset --hard` to rebuild it (it deletes the embedded database)"


def folder_mode() -> int:
    return 0o711 if os.geteuid() == 0 else 0o700


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write a file atomically and privately: a temporary file (created 0600) in the same
    folder, fsynced, then renamed over the target. A concurrent reader sees the old content
    or the new one, never an empty or half-written file; a crash leaves no partial file."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _marker_format(marker: Path):
    try:
        return json.loads(marker.read_text()).get("format")
    except (ValueError, AttributeError):
        return None


def home(path: Path | None = None) -> Path:
    """The state folder, created and checked: ours, writable, private, of a format we understand."""
    folder = Path(path) if path else config.state_dir()
    marker = folder / MARKER
    try:
        if folder.exists() and not folder.is_dir():
            raise WorkshopError(
                f"State folder {folder} is a file, not a folder",
                f"remove it or point {config.ENV_HOME} elsewhere",
            )
        if not folder.exists():
            _create(folder)
        if not marker.exists() and _foreign_entries(folder):
            raise WorkshopError(
                f"State folder {folder} is not empty and was not made by the workshop",
                f"point {config.ENV_HOME} to a new folder, or empty this one yourself",
            )
        if marker.exists():
            found = _marker_format(marker)
            if found != FORMAT:
                raise WorkshopError(
                    f"State folder {folder} is corrupt or from another workshop version (format {found!r})",
                    FIX_CORRUPT,
                )
        else:
            write_private(marker, json.dumps({"format": FORMAT}), mode=0o644)
        _make_private(folder)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(folder)
    except PermissionError:
        raise WorkshopError(
            f"No permission to write the state folder {folder}",
            f"fix its permissions or set {config.ENV_HOME} to a folder you own",
        ) from None
    except OSError as exc:  # a path under /proc, a name too long, a read-only or full disk
        raise WorkshopError(
            f"Cannot use {folder} as the state folder ({exc.strerror or exc})",
            f"set {config.ENV_HOME} to a folder you own, e.g. ~/django-workshop",
        ) from None
    return folder


def _create(folder: Path) -> None:
    """Create the folder with its marker already inside: built under a temporary name and
    renamed into place, so that a second process starting at the same moment never sees it
    without its marker (and takes it for someone else's folder)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / MARKER).write_text(json.dumps({"format": FORMAT}))
        (tmp / MARKER).chmod(0o644)
        tmp.chmod(folder_mode())
        os.rename(tmp, folder)
    except OSError:
        if not folder.is_dir():  # another process won the race: use its folder
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _foreign_entries(folder: Path) -> list[str]:
    """Entries other than a marker being written right now (write_private's temporary file)."""
    return [p.name for p in folder.iterdir() if not p.name.startswith(f".{MARKER}.")]


def _make_private(folder: Path) -> None:
    """Older workshops made the folder with the default umask (0755): close it."""
    st = folder.stat()
    wanted = folder_mode()
    if st.st_uid == os.geteuid() and (st.st_mode & 0o777) != wanted:
        folder.chmod(wanted)


def repair(path: Path | None = None) -> Path:
    """Make a state folder that carries our marker usable again (a corrupt or foreign-format
    marker is rewritten); `workshop db reset --hard` calls this before rebuilding."""
    folder = Path(path) if path else config.state_dir()
    marker = folder / MARKER
    if folder.is_dir() and marker.exists() and _marker_format(marker) != FORMAT:
        write_private(marker, json.dumps({"format": FORMAT}), mode=0o644)
    return home(folder)


def wipe(folder: Path) -> None:
    """Delete a state folder, but only one that carries our marker."""
    if not folder.exists():
        return
    if not (folder / MARKER).exists():
        raise WorkshopError(
            f"Refusing to delete {folder}: it was not made by the workshop",
            f"delete it yourself or point {config.ENV_HOME} elsewhere",
        )
    shutil.rmtree(folder)
