"""Pools of fake values: drawn once with Faker (seeded, per locale), loaded with COPY,
then stripped of every original value so a fake can never be a real one by chance.

Faker per row is the usual bottleneck of anonymizers; a pool of a few thousand values
drawn once and picked by SQL costs the same for ten rows or ten million.
"""

from __future__ import annotations

from functools import lru_cache

from psycopg import sql

from workshop.anonymize.query import Pool


@lru_cache(maxsize=32)
def _faker(locale: str):
    from faker import Faker

    return Faker(locale)


def check_provider(provider: str, locale: str) -> str | None:
    try:
        fake = _faker(locale)
    except AttributeError:
        return f"Faker has no locale {locale!r}; try 'en_US', 'fr_FR', 'de_DE'"
    if provider.startswith("_") or not callable(getattr(fake, provider, None)):
        return f"Faker has no provider {provider!r}; try 'first_name', 'last_name', 'street_address', 'city'"
    return None


@lru_cache(maxsize=64)
def draw(provider: str, locale: str, seed: int, size: int, max_length: int | None) -> tuple[str, ...]:
    """Up to `size` distinct values, the same for the same arguments (Faker seeded per pool)."""
    fake = _faker(locale)
    fake.seed_instance(seed)
    method = getattr(fake, provider)
    values: dict[str, None] = {}
    for _ in range(size * 3):
        value = str(method()).replace("\n", ", ")
        if max_length is None or len(value) <= max_length:
            values[value] = None
        if len(values) >= size:
            break
    return tuple(values)


def create(cursor, table: sql.Composable, values: list[str]) -> Pool:
    """Create a pool table holding `values` numbered 0..n-1, so a row picks with mod(hash, n)."""
    cursor.execute(sql.SQL("CREATE TABLE {} (i int PRIMARY KEY, v text NOT NULL)").format(table))
    with cursor.copy(sql.SQL("COPY {} (i, v) FROM STDIN").format(table)) as copy:
        for i, value in enumerate(values):
            copy.write_row((i, value))
    cursor.execute(sql.SQL("ANALYZE {}").format(table))
    return Pool(table, len(values))


def originals_among(cursor, candidates: set[str], selects: list[sql.Composable]) -> set[str]:
    """Which candidates occur as original values in the columns `selects` name.

    One scan per column with `= ANY(array)`, which PostgreSQL answers with a hash of the
    array: a million rows against thousands of candidates in a fraction of a second.
    """
    found: set[str] = set()
    if not candidates:
        return found
    for select in selects:
        query = sql.SQL("SELECT DISTINCT o.v FROM ({}) AS o(v) WHERE o.v = ANY(%s::text[])").format(select)
        found.update(v for (v,) in cursor.execute(query, [sorted(candidates)]))
    return found
