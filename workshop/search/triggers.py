"""Which rows of a kind a statement on the shop's tables makes stale: the triggers both
transactional backends build on it (the tsvectors in pg.py, the outbox in outbox.py).

- Statement-level with transition tables: one INSERT ... SELECT per statement, so a COPY of
  300k rows costs one extra statement, not 300k trigger calls.
- An UPDATE rebuilds only the rows whose indexed columns changed (a stock update writes
  nothing). Not `AFTER UPDATE OF <columns>`: PostgreSQL refuses transition tables on a
  trigger with a column list, and Django's save() names every column in its SET, so such a
  trigger would fire on every save() anyway. The old row is compared with the new one.
- Columns copied from joined tables (the category's name and slug) have triggers on those
  tables: a category renamed, or a product moved to another category, rebuilds the
  documents that carry it. They lock the rows they rebuild (FOR SHARE): a concurrent writer
  of one of those rows commits first, and its content is what the rebuild reads; without
  the lock the rebuild could read the older row and, with the larger event id, win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workshop.search.documents import Kind

TRANSITION = "OLD TABLE AS old_rows NEW TABLE AS new_rows"


@dataclass(frozen=True)
class Source:
    trigger: str  # the trigger's name after search_<backend>_
    function: str  # the function's name after search_<backend>_<kind>_
    table: str
    event: str  # INSERT | UPDATE
    referencing: str
    with_sql: str  # a WITH clause the statement starts with, or ""
    from_sql: str  # FROM ... giving the kind's rows as `n`, with the kind's joins
    lock: str  # a locking clause for the SELECT, or ""


def changed_sql(columns: tuple[str, ...], select: str) -> str:
    """The updated rows whose `columns` differ between old_rows and new_rows."""
    new = ", ".join(f"n.{c}" for c in columns)
    old = ", ".join(f"o.{c}" for c in columns)
    return f"SELECT {select} FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE ({new}) IS DISTINCT FROM ({old})"


def sources(kind: Kind, columns: tuple[str, ...]) -> list[Source]:
    joins = kind.payload_joins
    found = [
        Source("ins", "insert", kind.table, "INSERT", "NEW TABLE AS new_rows", "", f"FROM new_rows n {joins}", ""),
        Source(
            "upd", "update", kind.table, "UPDATE", TRANSITION, "", f"FROM ({changed_sql(columns, 'n.*')}) n {joins}", ""
        ),
    ]
    for dep in kind.dependencies:
        found.append(
            Source(
                f"{kind.name}_dep",
                f"from_{dep.table}",
                dep.table,
                "UPDATE",
                TRANSITION,
                f"WITH changed AS ({changed_sql(dep.columns, 'n.id')})",
                f"FROM {kind.table} n {joins} WHERE n.id IN ({dep.affected_sql})",
                "FOR SHARE OF n",
            )
        )
    return found


def statements(backend: str, kind: Kind, columns: tuple[str, ...], body: Callable[[Source], str]) -> list[str]:
    """The functions and triggers that write `body(source)` for each source of rows."""
    out = []
    for s in sources(kind, columns):
        function = f"search_{backend}_{kind.name}_{s.function}"
        trigger = f"search_{backend}_{s.trigger}"
        out += [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body(s)}\n  RETURN NULL;\nEND $$",
            f"DROP TRIGGER IF EXISTS {trigger} ON {s.table}",
            f"CREATE TRIGGER {trigger} AFTER {s.event} ON {s.table} REFERENCING {s.referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    # the single INSERT-or-UPDATE function of earlier versions fired on every update
    out.append(f"DROP FUNCTION IF EXISTS search_{backend}_{kind.name}_upsert()")
    return out


def drop_statements(backend: str, kind: Kind) -> list[str]:
    names = [(f"search_{backend}_{s.trigger}", s.table) for s in sources(kind, ())]
    names += [(f"search_{backend}_{t}", kind.table) for t in ("del", "trunc")]
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in names]
