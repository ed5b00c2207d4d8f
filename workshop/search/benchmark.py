"""The measurements behind `workshop bench search` (run in a child process on a database
of its own, see bench.py): indexing throughput, query latency over 50 fixed queries,
ranking quality (nDCG@10 over the judged queries), commit-to-searchable lag under a steady
write load, and the consistency experiment's disagreements, per backend, on 100k documents."""

from __future__ import annotations

import random
import sys
import threading
import time

from workshop.django_setup import require_setup

require_setup()

from django.db import connection, transaction  # noqa: E402

GENERATED_SKU = "GEN-"

# Fifty searches a shop's visitors type: products, materials, colours, phrases, alternatives,
# exclusions, a few typos (the fuzzy flag is on for all, as in the search box).
QUERIES = [
    "wireless earbuds",
    "over-ear headphones",
    "bluetooth speaker",
    "record player",
    "usb microphone",
    "cast iron skillet",
    "chef's knife",
    "dutch oven",
    "french press",
    "electric kettle",
    "standing desk",
    "office chair",
    "mechanical keyboard",
    "wireless mouse",
    "monitor stand",
    "two-person tent",
    "sleeping bag",
    "camp stove",
    "headlamp",
    "water bottle",
    "garden hose",
    "pruning shears",
    "raised garden bed",
    "watering can",
    "compost bin",
    "yoga mat",
    "adjustable dumbbell",
    "kettlebell",
    "foam roller",
    "jump rope",
    "travel backpack",
    "carry-on suitcase",
    "duffel bag",
    "weighted blanket",
    "duvet cover",
    "desk lamp",
    "floor lamp OR pendant light",
    '"string light"',
    "smart bulb",
    "board game",
    "dog bed",
    "cat tree",
    "cordless drill",
    "tape measure",
    "leather belt -wallet",
    "wool beanie",
    "ceramic vase",
    "headphnes",
    "skilet cast iron",
    "lamp linen OR glass",
]
assert len(QUERIES) == 50


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def ensure_documents(target: int) -> int:
    """Products and reviews of the dataset, plus generated products (titles and
    descriptions recombined from real ones) up to `target` documents."""
    from workshop.shop.models import Product, Review

    have = Product.objects.count() + Review.objects.count()
    if have < target:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                """
                WITH src AS (SELECT array_agg(id ORDER BY id) AS ids FROM shop_product WHERE sku NOT LIKE 'GEN-%%')
                INSERT INTO shop_product (sku, title, description, brand, category_id, price, stock, is_active, created_at)
                SELECT %s || g, a.title, b.description, a.brand, a.category_id, a.price, a.stock, true, a.created_at
                  FROM generate_series(1, %s) AS g, src
                  JOIN LATERAL (SELECT * FROM shop_product WHERE id = src.ids[1 + (g * 7) %% cardinality(src.ids)]) a ON true
                  JOIN LATERAL (SELECT * FROM shop_product WHERE id = src.ids[1 + (g * 13 + 5) %% cardinality(src.ids)]) b ON true
            """,
                [GENERATED_SKU, target - have],
            )
            cur.execute("ANALYZE shop_product")
    return Product.objects.count() + Review.objects.count()


def percentile(values: list[float], p: float) -> float:
    from workshop.search.experiment import percentile as pct

    return pct(values, p) or 0.0


def index_rates(total_docs: int) -> dict[str, dict]:
    from workshop.search import api, outbox, pg, signals
    from workshop.search import es as es_side
    from workshop.search.relay import Relay

    out: dict[str, dict] = {}
    pg.uninstall()
    outbox.uninstall()
    signals.disconnect()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM search_outboxevent")
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'search_%%'")

    started = time.perf_counter()
    pg.install()  # computes every vector (and the GIN entries) in one statement per kind
    seconds = time.perf_counter() - started
    out["postgres"] = {
        "index_docs_per_second": total_docs / seconds,
        "note": f"{total_docs:,} tsvectors + GIN in {seconds:.1f} s (with the typo vocabulary)",
    }
    log(f"postgres: {out['postgres']['note']}")

    es = api.es_client(refresh=True)
    for backend in ("outbox", "signals"):
        es_side.drop_indexes(es, api.prefix(backend))
        es_side.ensure_indexes(es, api.prefix(backend))
    started = time.perf_counter()
    queued = outbox.install(backfill=True)
    queue_seconds = time.perf_counter() - started
    relay = Relay(outbox.dsn(), api.es_url(), api.prefix("outbox"))
    started = time.perf_counter()
    relay.drain()
    drain_seconds = time.perf_counter() - started
    relay.close()
    es.indices.refresh(index=f"{api.prefix('outbox')}-*")
    out["outbox"] = {
        "index_docs_per_second": queued / (queue_seconds + drain_seconds),
        "note": f"{queued:,} events queued in {queue_seconds:.1f} s by one INSERT...SELECT, relayed in "
        f"{drain_seconds:.1f} s (batches of {relay.batch_size:,})",
    }
    log(f"outbox: {out['outbox']['note']}")

    started = time.perf_counter()
    bulk_loaded = signals.index_all(es, api.prefix("signals"))
    bulk_seconds = time.perf_counter() - started
    signals.connect(es, api.prefix("signals"))
    from workshop.shop.models import Product

    sample = list(Product.objects.filter(sku__startswith=GENERATED_SKU).order_by("pk")[:500])
    started = time.perf_counter()
    for product in sample:  # what the handlers cost in operation: one request per save
        product.save()
    per_save = len(sample) / (time.perf_counter() - started)
    out["signals"] = {
        "index_docs_per_second": per_save,
        "note": f"{per_save:,.0f} saves/s with the handler's one request each (the initial bulk load "
        f"of {bulk_loaded:,} docs ran at {bulk_loaded / bulk_seconds:,.0f}/s, outside the handlers)",
    }
    log(f"signals: {out['signals']['note']}")
    es.indices.refresh(index=f"{api.prefix('signals')}-*")
    outbox.start(api.es_url(), api.prefix("outbox"))
    return out


def query_latency(backend: str, repeats: int = 3) -> tuple[float, float]:
    from workshop.search import api

    if backend == "postgres":  # after the bulk writes above, as one would after any bulk load
        with connection.cursor() as cur:
            for table in ("shop_product", "shop_review", "search_productvector", "search_reviewvector"):
                # VACUUM cannot run inside a transaction (the tests' case): ANALYZE can
                cur.execute(f"{'' if connection.in_atomic_block else 'VACUUM '}ANALYZE {table}")

    def one(q: str) -> float:  # with the API's default window: what the search box's users get
        started = time.perf_counter()
        list(api.products().search(q, backend=backend, fuzzy=True)[:10])
        return (time.perf_counter() - started) * 1000

    for q in QUERIES:  # warm-up: caches, connections
        one(q)
    timings = [one(q) for _ in range(repeats) for q in QUERIES]
    return percentile(timings, 50), percentile(timings, 95)


def ranking_quality(backend: str) -> dict:
    """nDCG@10 over the judged queries (relevance.py), weighted and flat side by side."""
    from workshop.search import relevance

    weighted = relevance.score(backend)
    found = {"ndcg_at_10": weighted.ndcg, "judged_queries": len(weighted.per_query)}
    found["ndcg_at_10_flat"] = relevance.score(backend, ranking="flat").ndcg
    log(
        f"{backend}: nDCG@10 {weighted.ndcg:.3f} weighted, {found.get('ndcg_at_10_flat', float('nan')):.3f} flat, "
        f"over {len(weighted.per_query)} judged queries ({len(weighted.unjudged)} with nothing to find here)"
    )
    return found


def lag_under_load(backends: list[str], probes: int, writes_per_second: float = 20.0) -> dict:
    """A writer commits updates at a steady rate; meanwhile each backend gets `probes`
    sequential probes (write a new word, commit, search until it is found; one never found
    counts as a miss at the timeout). Returns {backend: experiment.Probes}."""
    from workshop.search.experiment import measure_lag
    from workshop.shop.models import Product

    ids = list(Product.objects.filter(sku__startswith=GENERATED_SKU).values_list("pk", flat=True)[:5000])
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        rng = random.Random(1)
        try:
            while not stop.is_set():
                pk = rng.choice(ids[1:])
                with transaction.atomic():
                    Product.objects.filter(pk=pk).update(stock=rng.randrange(100))
                written[0] += 1
                stop.wait(1 / writes_per_second)
        finally:
            connection.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    lags = {}
    try:
        for backend in backends:
            lags[backend] = measure_lag(backend, probes, ids[0], random.Random(backend))
            log(f"{backend}: lag probes {[round(v) for v in lags[backend].lags_ms]}, {lags[backend].misses} missed")
    finally:
        stop.set()
        thread.join()
    log(f"writer committed {written[0]} updates during the probes")
    return lags


def run(total: int = 100_000, probes: int = 30, operations: int = 120) -> dict:
    from workshop.search import experiment

    docs = ensure_documents(total)
    log(f"{docs:,} documents (products and reviews, generated products included)")
    results = index_rates(docs)
    backends = ["signals", "outbox", "postgres"]  # zombodb: measured on its own server (zombodb_bench.py)
    for backend in backends:
        p50, p95 = query_latency(backend)
        results.setdefault(backend, {}).update(query_p50_ms=p50, query_p95_ms=p95)
        log(f"{backend}: query p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        results[backend].update(ranking_quality(backend))
    lags = lag_under_load(backends, probes)
    for backend, found in lags.items():
        results[backend].update(
            visible_lag_p50_ms=percentile(found.lags_ms, 50),
            visible_lag_p95_ms=percentile(found.lags_ms, 95),
            visible_lag_misses=found.misses,
        )
    found = experiment.run(operations=operations, lag_samples=0, progress=False)
    for row in found.rows:
        results[row["backend"]]["disagreements"] = row["disagreements"]
    log(f"experiment: {found.counts}; {found.log}")
    results["_meta"] = {"documents": docs, "experiment": found.counts}
    return results
