"""The anonymized copy as a Django database alias: `Customer.objects.using("anon")`.

The copy is a schema of the same database, so the alias is the default connection's
settings with PostgreSQL's search_path set to that schema (libpq's `options`): the ORM's
unqualified table names then resolve in the copy, and every queryset works there unchanged.
"""

from __future__ import annotations

import re

from workshop.errors import WorkshopError

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def use_copy(schema: str = "anon", alias: str | None = None) -> str:
    """Register (or refresh) database alias `alias` (default: the schema's name) reading
    schema `schema`. Returns the alias. Safe to call again."""
    from django.conf import settings
    from django.db import connections

    from workshop.django_setup import require_setup

    require_setup()
    alias = alias or schema
    for what, name in (("schema", schema), ("alias", alias)):
        if not isinstance(name, str) or not _NAME.match(name):
            raise WorkshopError(
                f"{what} name {name!r} is not usable", "use lower-case letters, digits and _, e.g. 'anon'"
            )
    if alias == "default":
        raise WorkshopError("The alias 'default' is the source database", "pick another alias, e.g. 'anon'")
    default = connections.settings["default"]
    options = {k: v for k, v in default.get("OPTIONS", {}).items() if k != "options"}
    # The schema name matched _NAME above: nothing else can reach this option string.
    options["options"] = f"-c search_path={schema}"
    wanted = {**default, "OPTIONS": options, "TEST": {**default.get("TEST", {}), "MIRROR": "default"}}
    if alias in connections.settings and connections.settings[alias] == wanted:
        return alias
    if alias in connections.settings:
        connections[alias].close()
        del connections[alias]  # the next use opens a connection with the new settings
    settings.DATABASES[alias] = wanted
    connections.settings[alias] = wanted
    return alias
