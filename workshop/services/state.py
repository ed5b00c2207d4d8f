"""The state folder: created with a marker so that we never mistake (or delete) someone else's folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

MARKER = ".django-workshop-state"
FORMAT = 1


def home(path: Path | None = None) -> Path:
    """The state folder, created and checked: ours, writable, of a format we understand."""
    folder = Path(path) if path else config.state_dir()
    marker = folder / MARKER
    try:
        if folder.exists() and not folder.is_dir():
            raise WorkshopError(
                f"State folder {folder} is a file, not a folder",
                f"remove it or point {config.ENV_HOME} elsewhere",
            )
        if folder.is_dir() and any(folder.iterdir()) and not marker.exists():
            raise WorkshopError(
                f"State folder {folder} is not empty and was not made by the workshop",
                f"point {config.ENV_HOME} to a new folder, or empty this one yourself",
            )
        folder.mkdir(parents=True, exist_ok=True)
        if marker.exists():
            try:
                found = json.loads(marker.read_text()).get("format")
            except (ValueError, AttributeError):
                found = None
            if found != FORMAT:
                raise WorkshopError(
                    f"State folder {folder} is corrupt or from another workshop version (format {found!r})",
                    "run `workshop db reset` to rebuild it",
                )
        else:
            marker.write_text(json.dumps({"format": FORMAT}))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(folder)
    except PermissionError:
        raise WorkshopError(
            f"No permission to write the state folder {folder}",
            f"fix its permissions or set {config.ENV_HOME} to a folder you own",
        ) from None
    return folder


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
