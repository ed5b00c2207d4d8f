"""Keyed re-numbering of primary keys (build(renumber=True)), the same across every
foreign key.

The copy keeps its rows' ids by default, and an id is a join key into everything else
that keeps it (a log, an export, the source itself for whoever holds both). Renumbered,
every integer primary key goes through a keyed permutation of [0, 2^30) of its own
table (a keyed offset per table, then one keyed 10-round Feistel network), and every single-column foreign key onto it through the same one, so joins
still work inside the copy and nowhere else. The trade-off: the ids are no longer dense
or in insertion order (ORDER BY id no longer means "oldest first"), references the
database does not declare (a generic object_id, an id in a JSON field) are left as they
were and now point nowhere, and whoever holds the key can map them back.
"""

from __future__ import annotations

from psycopg import sql

from workshop.anonymize import session_keys, sqlhash
from workshop.errors import WorkshopError

HALF = 2**15
DOMAIN = HALF * HALF  # ids must be in [0, 2^30): room left for an int4 identity to go on


def _tables(hmac_key: bytes):
    # One keyed permutation for every table (its 10 round tables of 2^15 entries go to each
    # connection once), made a different one per table by a keyed offset added first.
    return sqlhash.feistel_tables(hmac_key, "renumber", HALF, HALF)


def _offset(hmac_key: bytes, table: str) -> int:
    return int.from_bytes(sqlhash.hmac_python(hmac_key, f"renumber-offset|{table}")[:8], "big") % DOMAIN


def forward(hmac_key: bytes, table: str, value: int) -> int:
    return sqlhash.feistel_python((value + _offset(hmac_key, table)) % DOMAIN, _tables(hmac_key), HALF, HALF)


def inverse(hmac_key: bytes, table: str, value: int) -> int:
    return (sqlhash.feistel_inverse_python(value, _tables(hmac_key), HALF, HALF) - _offset(hmac_key, table)) % DOMAIN


def expression(q, table: str, column: str, type_: str) -> sql.Composable:
    """SQL of `column` (an id of `table`, or a key onto it) renumbered, in its own type."""
    refs = [session_keys.array(q, f"renumber|{r}", t) for r, t in enumerate(_tables(q.hmac_key))]
    offset = session_keys.array(q, f"renumber-offset|{table}", [_offset(q.hmac_key, table)])
    x = q.let(sql.SQL("mod({}::bigint + ({})[1], {})").format(q.col(column), offset, sql.Literal(DOMAIN)), 0)
    # A type name from the catalog (format_type), not user input.
    return sql.SQL("({})::{}").format(sqlhash.feistel_sql(x, refs, HALF, HALF, let=q.let), sql.SQL(type_))


def columns(tables: dict, fkeys: dict) -> dict[str, dict[str, str]]:
    """table -> {column: the table whose ids it holds}: every integer primary key, and every
    single-column foreign key onto one."""
    found = {t.name: {t.pk: t.name} for t in tables.values() if t.pk}
    for name, keys in fkeys.items():
        for k in keys:
            ref = tables[k.ref_table]
            if len(k.columns) == 1 and ref.pk and k.ref_columns == [ref.pk]:
                found.setdefault(name, {})[k.columns[0]] = ref.name
    return found


def check_range(table: str, lo, hi) -> None:
    if lo is not None and (lo < 0 or hi >= DOMAIN):
        raise WorkshopError(
            f"Table {table} has ids outside 0..{DOMAIN - 1}, which renumbering cannot map",
            "build without renumber=True",
        )
