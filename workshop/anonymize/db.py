"""Connections of our own to the database Django uses (the test database under pytest):
the engine runs its own transactions and works in parallel, outside Django's."""

from __future__ import annotations

import psycopg

from workshop.django_setup import require_setup  # noqa: E402

require_setup()  # used before workshop.setup(): say which cell to run


def conninfo() -> dict:
    from django.db import connection

    # Django's own parameters (OPTIONS merged in), minus its Python-side adapters.
    params = connection.get_connection_params()
    info = {k: v for k, v in params.items() if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")}
    info["application_name"] = "workshop.anonymize"
    return {k: v for k, v in info.items() if v not in (None, "")}


def connect(autocommit: bool = True) -> psycopg.Connection:
    # No automatic server-side prepare: a prepared statement gets a generic plan, where a
    # bound array is not a constant and `= ANY(array)` loses its hash (a scan per row).
    return psycopg.connect(**conninfo(), autocommit=autocommit, prepare_threshold=None)
