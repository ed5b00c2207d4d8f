"""Where the workshop keeps its state, and the environment variables that steer it.

Every knob is an environment variable so that notebooks, the CLI, tests and CI agree
without passing arguments around.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workshop.errors import WorkshopError

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent
DATA_DIR = CHECKOUT_DIR / "data"

# Environment variables (documented in README.md).
ENV_HOME = "WORKSHOP_HOME"  # state folder: embedded database, Elasticsearch node, logs
ENV_DATABASE_URL = "WORKSHOP_DATABASE_URL"  # an external PostgreSQL, wins over everything
ENV_DB_NAME = "WORKSHOP_DB_NAME"  # database name on the embedded server / Docker stack
ENV_SIZE = "WORKSHOP_DATA_SIZE"  # dataset size loaded by setup()
ENV_ELASTICSEARCH_URL = "WORKSHOP_ELASTICSEARCH_URL"
ENV_NO_DOCKER = "WORKSHOP_NO_DOCKER"  # "1": never probe the Docker stack ports
ENV_CLASSROOM = "WORKSHOP_CLASSROOM"  # "1": an attendee on the room's shared server (workshop/classroom/)
ENV_CLASSROOM_ADMIN_URL = "WORKSHOP_CLASSROOM_ADMIN_URL"  # the instructor's URL for `workshop classroom`

DEFAULT_DB_NAME = "workshop"
DEFAULT_SIZE = "workshop"


def in_checkout() -> bool:
    """True when the package runs from a source checkout (editable install or the repo itself)."""
    return (CHECKOUT_DIR / "pyproject.toml").is_file() and (CHECKOUT_DIR / "notebooks").is_dir()


def state_dir() -> Path:
    """The folder holding everything the workshop generates (never committed).

    WORKSHOP_HOME wins; in a checkout it is <checkout>/.workshop so `make clean` can find it;
    otherwise the user's data folder.
    """
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        if "\0" in explicit or len(explicit) > 1024:
            raise WorkshopError(
                f"{ENV_HOME} is not a usable folder path (a NUL byte, or over 1024 characters)",
                f"set {ENV_HOME} to a folder such as ~/django-workshop",
            )
        return Path(explicit).expanduser().resolve()
    if in_checkout():
        return CHECKOUT_DIR / ".workshop"
    return Path.home() / ".local" / "share" / "django-workshop"


# Letters, digits, _ and -: PostgreSQL would silently truncate a name over 63 bytes (and
# then drop or load another database than the one named); quotes and NULs have no business here.
_DB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")


def db_name() -> str:
    name = os.environ.get(ENV_DB_NAME) or DEFAULT_DB_NAME
    if not _DB_NAME.fullmatch(name):
        shown = repr(name) if len(name) <= 40 else repr(name[:37]) + "..."
        raise WorkshopError(
            f"{ENV_DB_NAME}={shown} is not a database name the workshop accepts",
            "use up to 63 letters, digits, _ or -, starting with a letter (e.g. workshop)",
        )
    return name


def default_size() -> str:
    return os.environ.get(ENV_SIZE) or DEFAULT_SIZE


def classroom() -> bool:
    return os.environ.get(ENV_CLASSROOM, "").strip().lower() in ("1", "true", "yes", "on")


def docker_allowed() -> bool:
    return os.environ.get(ENV_NO_DOCKER, "") not in ("1", "true", "yes")
