"""Which schemas are the engine's to write and drop, and what a drop would take along.

Every schema the engine (or a helper of this chapter) makes carries a comment ending with
MARKER. A helper that writes into a schema its caller names accepts only such a schema: a
typo must not reach `public` or someone's own schema. Dropping one (DROP SCHEMA ... CASCADE)
also drops whatever depends on it elsewhere, such as a view someone made over the copy:
that is refused with the objects named, and nothing is dropped.
"""

from __future__ import annotations

from psycopg import sql

from workshop.errors import WorkshopError

MARKER = "by workshop.anonymize"  # the end of the comment on every schema this engine writes


def marked(conn, schema: str) -> bool | None:
    """None: no such schema; True: made by this engine (its comment ends with the marker)."""
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", [schema]
    ).fetchone()
    if row is None:
        return None
    return bool(row[0]) and row[0].endswith(MARKER)


def require_marked(conn, schema: str, what: str, *, absent_ok: bool = False) -> None:
    """For a helper (`what`) that writes into a schema its caller names: only a schema the
    engine made (or, with absent_ok, none yet: the helper makes and marks it)."""
    made = marked(conn, schema)
    if made is None and not absent_ok:
        raise WorkshopError(
            f"There is no schema {schema!r} for {what}", "build the copy first, e.g. build(target='anon')"
        )
    if made is False:
        raise WorkshopError(
            f"Schema {schema!r} was not made by workshop.anonymize: {what} only changes a schema the engine made",
            "name an anonymized copy, e.g. build(target='anon') then 'anon'",
        )


# Objects a DROP SCHEMA ... CASCADE would take that the engine did not make:
# - outside the schema, whatever depends (normal dependency) on one of its tables, types or
#   functions, placed by the schema it lives in: a view's rule in its view's, a constraint,
#   default or trigger in its table's; one in any other catalog counts as outside;
# - inside it, what the engine never makes (it makes tables, their indexes, sequences and
#   row types only): views, materialized views, foreign tables, composite types, functions.
_OTHERS = """
WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
inside AS (
    SELECT 'pg_class'::regclass AS classid, c.oid FROM pg_class c, s WHERE c.relnamespace = s.oid
    UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t, s WHERE t.typnamespace = s.oid
    UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p, s WHERE p.pronamespace = s.oid
),
dependent AS (
    SELECT DISTINCT d.classid, d.objid, d.objsubid FROM pg_depend d JOIN inside i
        ON d.refclassid = i.classid AND d.refobjid = i.oid
    WHERE d.deptype = 'n'
),
outside AS (
    SELECT CASE WHEN r.oid IS NULL THEN d.classid ELSE 'pg_class'::regclass END AS classid,
           coalesce(r.ev_class, d.objid) AS objid, CASE WHEN r.oid IS NULL THEN d.objsubid ELSE 0 END AS objsubid
    FROM dependent d
    LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
    LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
    LEFT JOIN pg_attrdef a ON d.classid = 'pg_attrdef'::regclass AND a.oid = d.objid
    LEFT JOIN pg_trigger g ON d.classid = 'pg_trigger'::regclass AND g.oid = d.objid
    LEFT JOIN pg_class c ON c.oid = CASE d.classid WHEN 'pg_class'::regclass THEN d.objid
        WHEN 'pg_rewrite'::regclass THEN r.ev_class WHEN 'pg_attrdef'::regclass THEN a.adrelid
        WHEN 'pg_trigger'::regclass THEN g.tgrelid END
    LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    WHERE coalesce(c.relnamespace, k.connamespace, t.typnamespace, p.pronamespace) IS DISTINCT FROM (SELECT oid FROM s)
),
foreign_inside AS (
    SELECT 'pg_class'::regclass AS classid, c.oid AS objid, 0 AS objsubid FROM pg_class c, s
    WHERE c.relnamespace = s.oid AND c.relkind IN ('v', 'm', 'f', 'c')
    UNION ALL SELECT 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p, s WHERE p.pronamespace = s.oid
)
SELECT DISTINCT o.type || ' ' || o.identity  -- schema-qualified, whatever the search_path
FROM (SELECT * FROM outside UNION SELECT * FROM foreign_inside) x,
     pg_identify_object(x.classid, x.objid, x.objsubid) AS o
ORDER BY 1
"""


def others_objects(conn, schema: str) -> list[str]:
    """What dropping `schema` with CASCADE would take that the engine did not make, as
    PostgreSQL names it ("view public.v", "table constraint fk on other.t")."""
    return [what for (what,) in conn.execute(_OTHERS, {"schema": schema}).fetchall()]


def refuse_others_objects(conn, schema: str) -> None:
    """A one-line WorkshopError naming them, if dropping `schema` would take others' objects."""
    found = others_objects(conn, schema)
    if not found:
        return
    it = "it" if len(found) == 1 else "them"
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    raise WorkshopError(
        f"{shown[0].upper() + shown[1:]} {'depends' if it == 'it' else 'depend'} on schema {schema!r}: dropping "
        f"the schema (DROP SCHEMA ... CASCADE) would drop {it} too, so nothing was changed",
        f"drop {it} yourself first (and create {it} again over the new copy)",
    )


def drop_marked(conn, schema: str) -> None:
    """DROP ... CASCADE, only of a schema that carries the marker, and only when the cascade
    takes nothing but the engine's own objects."""
    if marked(conn, schema):
        refuse_others_objects(conn, schema)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
