"""`workshop bench search`'s zombodb rows, measured in a child process whose default database
is the `search_bench` database on the ZomboDB server (PostgreSQL 15), with the same
documents as the other backends' (the same dataset and generated products).

- index_docs_per_second: CREATE INDEX ... USING zombodb over the products and reviews, one shard each;
- writes_per_second: single-row UPDATEs, each its own transaction, with the index;
- write_overhead_ratio: those UPDATEs with the index against the same UPDATEs without it
  (the price of indexing synchronously, inside each transaction);
- query_p50/p95_ms: the benchmark's 50 queries (benchmark.QUERIES), fuzzy on, as for the others;
- ndcg_at_10 (and _flat): the judged queries, as for the others (a category whose name matches,
  found in the same statement, scored as the field's boost: a constant-score terms query);
- visible_lag_p50/p95_ms: COMMIT to found, probing with a search after each commit;
- disagreements: the consistency experiment's zombodb column (zombodb_consistency).
"""

from __future__ import annotations

import random
import time

from workshop.django_setup import require_setup

require_setup()

from django.db import connection  # noqa: E402

WRITES = 300


def _drop_indexes() -> None:
    from workshop.search import zombodb

    with connection.cursor() as cur:
        for index in ("search_product_zdb", "search_review_zdb", zombodb.LEGACY_CATEGORY_INDEX):
            cur.execute(f"DROP INDEX IF EXISTS {index}")


def _single_row_updates(ids: list[int]) -> float:
    """Seconds for one UPDATE per id, each committed on its own (autocommit)."""
    started = time.perf_counter()
    with connection.cursor() as cur:
        for pk in ids:
            cur.execute("UPDATE shop_product SET stock = stock + 1 WHERE id = %s", [pk])
    return time.perf_counter() - started


def run(total: int = 100_000, probes: int = 30, operations: int = 120) -> dict:
    from workshop.search import benchmark, zombodb, zombodb_consistency
    from workshop.search.experiment import percentile
    from workshop.shop.models import Product

    docs = benchmark.ensure_documents(total)
    benchmark.log(f"zombodb: {docs:,} documents on PostgreSQL 15")
    _drop_indexes()
    ids = list(Product.objects.order_by("?").values_list("pk", flat=True)[:WRITES])
    _single_row_updates(ids)  # warm: the rows in shared buffers for both measurements
    without = _single_row_updates(ids)
    started = time.perf_counter()
    zombodb.install()
    seconds = time.perf_counter() - started
    with_index = _single_row_updates(ids)
    out = {
        "index_docs_per_second": docs / seconds,
        "writes_per_second": len(ids) / with_index,
        "write_overhead_ratio": with_index / without,
        "note": f"{docs:,} docs: CREATE INDEX of both tables in {seconds:.1f} s",
    }
    benchmark.log(
        f"zombodb: {out['note']}; {len(ids)} single-row UPDATEs {without:.2f} s without the index, "
        f"{with_index:.2f} s with it"
    )
    p50, p95 = benchmark.query_latency("zombodb")
    out.update(query_p50_ms=p50, query_p95_ms=p95)
    benchmark.log(f"zombodb: query p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    out.update(benchmark.ranking_quality("zombodb"))
    lags = zombodb_consistency.measure_lag("default", probes, ids[0], random.Random(1))
    out.update(
        visible_lag_p50_ms=percentile(lags, 50) or 0.0,
        visible_lag_p95_ms=percentile(lags, 95) or 0.0,
        visible_lag_misses=probes - len(lags),  # a probe not found within 10 s
    )
    row, _lags, counts = zombodb_consistency.run(operations=operations, lag_samples=0)
    out["disagreements"] = row["disagreements"]
    out["experiment"] = {"counts": counts, "row": row}
    benchmark.log(f"zombodb: experiment {counts}: {row}")
    return out
