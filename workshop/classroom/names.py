"""The names classroom mode uses: the template, the role owning its objects, and each
attendee's database (from the attendee's role, so the same on every machine)."""

from __future__ import annotations

import hashlib
import os
import re

from workshop import config
from workshop.errors import WorkshopError

TEMPLATE = "workshop_template"
OWNER_ROLE = "workshop_room"  # NOLOGIN: owns the template's objects, hence every clone's
DATABASE_PREFIX = "room_"
# Attendee roles the instructor creates: lower-case, like Unix and JupyterHub user names.
_ATTENDEE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_SAFE = re.compile(r"[a-z0-9_]+")


def enabled() -> bool:
    return config.classroom()


def admin_url() -> str:
    url = os.environ.get(config.ENV_CLASSROOM_ADMIN_URL)
    if not url:
        raise WorkshopError(
            f"{config.ENV_CLASSROOM_ADMIN_URL} is not set",
            "set it to the instructor's URL of the room's server (a superuser), "
            "e.g. postgresql://postgres@/postgres?host=/run/postgresql",
        )
    return url


def check_attendee(name: str) -> str:
    if not isinstance(name, str) or not _ATTENDEE.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise WorkshopError(
            f"{shown} is not an attendee name the classroom accepts",
            "use 1-40 lower-case letters, digits, _ or -, starting with a letter (e.g. alice or jupyter-alice)",
        )
    return name


def database_for(role: str) -> str:
    """room_<role>, unique per role after the search engine's own folding of names
    (workshop.search.es.prefix_for keeps [a-z0-9_]): a role with other characters gets a
    digest of its exact name, so 'a-b' and 'a_b' never share a database nor an index."""
    safe = role if _SAFE.fullmatch(role) else re.sub(r"[^a-z0-9_]", "_", role.lower())[:40]
    if safe != role:
        safe = f"{safe}_{hashlib.sha256(role.encode()).hexdigest()[:8]}"
    return DATABASE_PREFIX + safe
