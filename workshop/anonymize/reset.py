"""Chapter 02's reset: every schema this chapter made (anonymized copies, previews, the planted
copy of the exercises), found by the engine's marker in the schema's comment; a schema someone
else made is never dropped, nor one that something of someone else's depends on (a view over a
copy): that is a one-line error naming it, and nothing is dropped."""

from __future__ import annotations

CHAPTER = "02"


def reset() -> list[str]:
    from django.db import connection
    from psycopg import sql

    from workshop.anonymize.exercises import PLANTED_SCHEMA
    from workshop.anonymize.ownership import MARKER, refuse_others_objects

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE obj_description(oid, 'pg_namespace') LIKE %s OR nspname = %s "
            "ORDER BY 1",
            ["%" + MARKER, PLANTED_SCHEMA],
        )
        schemas = [name for (name,) in cursor.fetchall()]
        for schema in schemas:  # all checked before any is dropped: nothing half reset
            refuse_others_objects(cursor, schema)  # a view someone made over a copy is not ours to drop
        for schema in schemas:
            cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return [f"dropped schema {s}" for s in schemas]
