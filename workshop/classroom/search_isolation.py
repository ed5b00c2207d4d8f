"""Search indexes per attendee on the room's one Elasticsearch node.

Every index the workshop makes is named `workshop-<database>-<backend>-<kind>`, the database
folded to [a-z0-9_] (attendee databases are named so that the folding keeps them apart, see
names.database_for). In classroom mode the workshop's API refuses any index name that is
not of the attendee's own database, so a notebook cannot read another attendee's index
through it. (The node itself has no users: the room's isolation is the workshop's API; an
attendee who speaks HTTP to the node directly is not stopped by it.)"""

from __future__ import annotations

import re

from workshop.errors import WorkshopError

INDEX_PREFIX = "workshop-"


def database_prefix(database: str) -> str:
    """`workshop-<database folded>-`: the start of every index name of that database."""
    safe = re.sub(r"[^a-z0-9_]+", "_", database.lower()).strip("_") or "db"
    return f"{INDEX_PREFIX}{safe}-"


def check_index(name: str) -> str:
    """The index name, when this process may use it: any outside classroom mode, only its own
    database's in classroom mode."""
    from workshop.classroom import attendee

    own = attendee.own_database()
    if own is not None and not name.startswith(database_prefix(own)):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise WorkshopError(
            f"Index {shown!r} is not one of yours: in classroom mode you search your own database's indexes",
            f"use the names that start with {database_prefix(own)!r} (search.products() does)",
        )
    return name


def drop_indexes(es, database: str) -> int:
    """Delete every index of an attendee's database; returns how many."""
    found = list(es.indices.get(index=f"{database_prefix(database)}*", ignore_unavailable=True, allow_no_indices=True))
    for name in found:
        es.indices.delete(index=name, ignore_unavailable=True)
    return len(found)
