"""Load the generated dataset with COPY, in one transaction, with a progress bar.

The rows and the `shop.Dataset` row that says "loaded" commit together: an interrupted
load leaves the previous dataset (or nothing) behind, never half a dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from workshop.errors import WorkshopError
from workshop.shop.data import vocab
from workshop.shop.data.sizes import get_size
from workshop.shop.data.version import DEFAULT_SEED, GENERATOR_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from workshop.shop.data import generate

LOCK_KEY = 0x5750_0001  # advisory lock: one loader at a time per database (two kernels, one DB)
MAX_SEED = 2**31 - 1  # shop.Dataset.seed is an integer column


def check_seed(seed) -> int:
    """The seed as an int, or a one-line error (numpy refuses negatives, the column big ones)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        shown = repr(seed)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise WorkshopError(f"Seed {shown} is not usable", f"pass a whole number from 0 to {MAX_SEED}, e.g. 42")
    return seed


@dataclass(frozen=True)
class LoadResult:
    size: str
    rows: int
    seconds: float
    loaded: bool  # False when the wanted dataset was already there

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def current():
    """The completely loaded dataset, or None."""
    from workshop.shop.models import Dataset

    return Dataset.objects.order_by("-loaded_at").first()


def matches(dataset, size: str, seed: int) -> bool:
    return (
        dataset is not None
        and dataset.size == size
        and dataset.seed == seed
        and dataset.generator_version == GENERATOR_VERSION
        and dataset.row_counts.get("_vocab") == vocab.checksum()
    )


def load(size: str, seed: int = DEFAULT_SEED, *, force: bool = False, progress: bool = True) -> LoadResult:
    """Make the database hold exactly the `size` dataset for `seed` (loads only if needed)."""
    spec = get_size(size)  # fails fast on an unknown size, before touching anything
    seed = check_seed(seed)
    if not force and matches(current(), size, seed):
        return LoadResult(size, 0, 0.0, loaded=False)
    from workshop.shop.data import generate  # numpy: only when there is something to generate

    tables = generate.ShopGenerator(spec, seed).tables()
    already = None if force else (lambda: matches(current(), size, seed))
    return replace(tables, size, seed, GENERATOR_VERSION, vocab.checksum(), spec.approx_rows, progress, already)


def replace(
    tables: list[generate.Table],
    size: str,
    seed: int,
    generator_version: int,
    vocab_checksum: str,
    approx_rows: int,
    progress: bool = True,
    already: Callable[[], bool] | None = None,
) -> LoadResult:
    """Replace the dataset with `tables` (COPY text chunks) in one transaction, save the copy
    that `workshop reset` restores from, and record the `shop.Dataset` row. `already`: checked
    under the lock, True when another process loaded the wanted dataset meanwhile."""
    from django.db import connection, transaction

    from workshop.shop.data import constraints, snapshot
    from workshop.shop.models import Dataset

    started = time.perf_counter()
    counts: dict[str, object] = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            if already is not None and already():
                return LoadResult(size, 0, 0.0, loaded=False)
            names = [t.name for t in tables] + [Dataset._meta.db_table]
            cursor.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, names)))
            )
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            saved = constraints.drop(cursor, [t.name for t in tables])
            with _progress_bar(size, approx_rows, progress) as bar:
                for table in tables:
                    bar.set_postfix_str(table.name)
                    counts[table.name] = _copy(cursor.cursor, table, bar)
                bar.set_postfix_str("indexes and foreign keys")
                constraints.restore(cursor, saved)
            for table in tables:
                cursor.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({t}, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {i}"
                    ).format(t=sql.Literal(table.name), i=sql.Identifier(table.name))
                )
            snapshot.save(cursor, [t.name for t in tables], f"{size} (seed {seed})")
        rows = sum(v for v in counts.values() if isinstance(v, int))
        counts["_vocab"] = vocab_checksum
        dataset = Dataset.objects.create(
            size=size, seed=seed, generator_version=generator_version, row_counts=counts, load_seconds=0
        )
    with connection.cursor() as cursor:
        # Fresh statistics, or the query notebook's plans lie.
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, names))))
    seconds = time.perf_counter() - started  # everything: generation or reading, COPY, indexes, COMMIT, ANALYZE
    Dataset.objects.filter(pk=dataset.pk).update(load_seconds=seconds)
    return LoadResult(size, rows, seconds, loaded=True)


def _copy(raw_cursor, table: generate.Table, bar) -> int:
    rows = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
    )
    with raw_cursor.copy(statement) as copy:
        for n, text in table.chunks():
            copy.write(text)
            rows += n
            bar.update(n)
    return rows


def _progress_bar(size: str, approx_rows: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=approx_rows,
        unit=" rows",
        unit_scale=True,
        desc=f"Loading {size} dataset",
        disable=not enabled,
        leave=False,
    )
