"""Chapter 02's reset: every schema this chapter made (anonymized copies, previews, the planted
copy of the exercises), found by the engine's marker in the schema's comment; a schema someone
else made is never dropped."""

from __future__ import annotations

CHAPTER = "02"


def reset() -> list[str]:
    from django.db import connection
    from psycopg import sql

    from workshop.anonymize.engine import MARKER
    from workshop.anonymize.exercises import PLANTED_SCHEMA

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE obj_description(oid, 'pg_namespace') LIKE %s OR nspname = %s "
            "ORDER BY 1",
            ["%" + MARKER, PLANTED_SCHEMA],
        )
        schemas = [name for (name,) in cursor.fetchall()]
        for schema in schemas:
            cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return [f"dropped schema {s}" for s in schemas]
