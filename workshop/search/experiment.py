"""The consistency experiment: one randomized workload against every backend at once,
then, per backend, how many documents disagree with the database and how long a committed
row takes to become searchable.

The workload: commits, rollbacks, two threads updating the same product at the same time,
categories renamed (the documents copy the category's name), products moved to another
category, a rename while another transaction updates one of its products, and in the
middle an incident: the outbox relay is killed with SIGKILL and Elasticsearch
does not answer for a while (the signal handlers get a dead node; the relay is simply not
running). Then the relay is started again and everything settles.
"""

from __future__ import annotations

import random
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field

from workshop.django_setup import require_setup

require_setup()

from django.db import connection, transaction  # noqa: E402

SKU_PREFIX = "EXP-"
CATEGORY_SLUG = "exp-category-"
PRODUCTS = 50  # enough that most rows are not rewritten after the incident (a rewrite heals signals)
CATEGORIES = 3  # the experiment's own: renaming one rewrites its products' and their reviews' documents
LAG_TIMEOUT = 10.0  # seconds a lag probe waits; one not found by then counts as a miss at this value


@dataclass
class ExperimentResult:
    rows: list[dict]
    lags_ms: dict[str, list[float]]
    log: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("backend")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


class _Rollback(Exception):
    pass


def _categories():
    from workshop.shop.models import Category

    return [
        Category.objects.get_or_create(slug=f"{CATEGORY_SLUG}{i}", defaults={"name": f"Experiment category {i}"})[0]
        for i in range(CATEGORIES)
    ]


def _products():
    from workshop.shop.models import Product

    categories = _categories()
    found = list(Product.objects.filter(sku__startswith=SKU_PREFIX).order_by("pk"))
    for i in range(len(found), PRODUCTS):
        found.append(
            Product.objects.create(
                sku=f"{SKU_PREFIX}{i:03d}",
                title=f"Experiment product {i}",
                description="written by the experiment",
                brand="Experiment",
                category=categories[i % CATEGORIES],
                price=10 + i,
                stock=5,
                created_at="2024-01-01T00:00:00Z",
            )
        )
    return found


def _write(product_id: int, title: str, rollback: bool = False, hold: float = 0.0) -> None:
    from workshop.shop.models import Product

    try:
        with transaction.atomic():
            product = Product.objects.get(pk=product_id)
            product.title = title
            product.save()  # the signal handler runs here, inside the transaction
            if hold:
                time.sleep(hold)  # the transaction stays open a moment (other work, a slow request)
            if rollback:
                raise _Rollback
    except _Rollback:
        pass


def cleanup() -> None:
    """Remove the experiment's products (their reviews with them) and categories."""
    from workshop.shop.models import Category, Product

    Product.objects.filter(sku__startswith=SKU_PREFIX).delete()
    Category.objects.filter(slug__startswith=CATEGORY_SLUG).delete()


def _rename(category_id: int, name: str) -> None:
    from workshop.shop.models import Category

    with transaction.atomic():
        category = Category.objects.get(pk=category_id)
        category.name = name
        category.save()


def _move(product_id: int, category_id: int) -> None:
    from workshop.shop.models import Product

    with transaction.atomic():
        product = Product.objects.get(pk=product_id)
        product.category_id = category_id
        product.save()


def _concurrently(product_id: int, titles: tuple[str, str], rename: tuple[int, str] | None = None) -> None:
    """Two transactions at the same time: both update the same product (the second waits
    for the first's row lock), or with `rename` the second renames the category while the
    first still holds its update of the product."""

    def worker(title: str, hold: float) -> None:
        try:
            _write(product_id, title, hold=hold)
        finally:
            connection.close()  # this thread's own connection

    def renamer() -> None:
        try:
            _rename(*rename)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(titles[0], 0.08 if rename else 0.03)),
        threading.Thread(target=renamer) if rename else threading.Thread(target=worker, args=(titles[1], 0.0)),
    ]
    threads[0].start()
    time.sleep(0.03 if rename else 0.005)  # a rename starts once the update holds the row
    threads[1].start()
    for t in threads:
        t.join()


def _wait_for_outbox(timeout: float) -> bool:
    from workshop.search import outbox

    deadline = time.time() + timeout
    while time.time() < deadline:
        if outbox.pending() == 0:
            return True
        time.sleep(0.05)
    return False


def visible_after(backend: str, word: str, started: float, timeout: float = LAG_TIMEOUT) -> float | None:
    """Milliseconds from `started` until a search for `word` finds a row (None: timed out)."""
    from workshop.search import api

    while time.perf_counter() - started < timeout:
        if api.products().search(word, backend=backend).exists():
            return (time.perf_counter() - started) * 1000
        time.sleep(0.01)
    return None


@dataclass
class Probes:
    lags_ms: list[float]  # one per probe; a probe never found counts at the timeout
    misses: int  # probes not found within the timeout


def measure_lag(
    backend: str, samples: int, product_id: int, rng: random.Random, timeout: float = LAG_TIMEOUT
) -> Probes:
    """Commit a new word, search until it is found. A probe that times out is a miss and
    counts at the timeout: left out, a backend that loses writes would look fast."""
    probes = Probes([], 0)
    for _ in range(samples):
        word = f"lag{rng.randrange(10**9):09d}x"
        _write(product_id, f"Experiment lag probe {word}")
        committed = time.perf_counter()
        lag = visible_after(backend, word, committed, timeout)
        if lag is None:
            probes.misses += 1
        probes.lags_ms.append(timeout * 1000 if lag is None else lag)
    return probes


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def run(
    operations: int = 120, seed: int = 42, lag_samples: int = 10, progress: bool = True, outage: bool = True
) -> ExperimentResult:
    """Run the workload on every backend usable here; returns the table and the lags."""
    from tqdm.auto import tqdm

    from workshop.search import api, consistency, outbox, signals
    from workshop.search import es as es_side

    rng = random.Random(seed)
    usable = [b for b, why in api.backends().items() if not why and b != "zombodb"]
    log: list[str] = []
    for backend in usable:
        log.append(api.install(backend))
    products = _products()
    categories = [c.pk for c in _categories()]
    counts = {"commit": 0, "rollback": 0, "concurrent": 0, "rename": 0, "move": 0, "rename during update": 0}
    es_backends = [b for b in usable if b in api.ES_BACKENDS]
    relay_proc = None
    if "outbox" in es_backends:
        outbox.stop(api.prefix("outbox"))  # the experiment runs its own relay process, to kill it
        relay_proc = outbox.spawn(api.es_url(), api.prefix("outbox"))
    real_client = signals._state["es"]
    lost_before = signals.lost()
    incident_start, incident_end = operations // 2, operations // 2 + max(1, operations // 6)
    bar = tqdm(range(operations), desc="workload", disable=not progress)
    try:
        for step in bar:
            if outage and es_backends and step == incident_start:
                if relay_proc is not None:
                    relay_proc.send_signal(signal.SIGKILL)
                    relay_proc.wait()
                    relay_proc = None
                    log.append(f"step {step}: relay killed with SIGKILL")
                if "signals" in es_backends:
                    signals._state["es"] = es_side.client("http://127.0.0.1:9")  # nothing listens there
                log.append(f"step {step}: Elasticsearch unreachable")
            if outage and es_backends and step == incident_end:
                signals._state["es"] = real_client
                if "outbox" in es_backends:
                    relay_proc = outbox.spawn(api.es_url(), api.prefix("outbox"))
                log.append(f"step {step}: Elasticsearch back, relay restarted")
            product = rng.choice(products)
            word = f"exp{seed}s{step}w{rng.randrange(1000)}"
            kind = rng.choices(list(counts), weights=[6, 2, 2, 1, 1, 1])[0]
            counts[kind] += 1
            if kind == "commit":
                _write(product.pk, f"Experiment {word}")
            elif kind == "rollback":
                _write(product.pk, f"Experiment {word} rolled back", rollback=True)
            elif kind == "concurrent":
                _concurrently(product.pk, (f"Experiment {word}a", f"Experiment {word}b"))
            elif kind == "rename":
                _rename(rng.choice(categories), f"Experiment category {word}")
            elif kind == "move":
                _move(product.pk, rng.choice(categories))
            else:  # the rename reads the product while another transaction holds its update
                category_id = type(product).objects.values_list("category_id", flat=True).get(pk=product.pk)
                _concurrently(
                    product.pk, (f"Experiment {word}a", ""), rename=(category_id, f"Experiment category {word}")
                )
        settled = _wait_for_outbox(60) if "outbox" in es_backends else True
        log.append("outbox drained" if settled else "outbox NOT drained after 60 s")
    finally:
        signals._state["es"] = real_client if real_client is not None else signals._state["es"]
        if relay_proc is not None:
            relay_proc.terminate()
            relay_proc.wait(timeout=30)
        if "outbox" in es_backends:
            outbox.start(api.es_url(), api.prefix("outbox"))

    # compare first, then probe the lag (the probes write, which the comparison must not see)
    found = {}
    for backend in tqdm(usable, desc="comparing with the database", disable=not progress):
        found[backend] = (
            consistency.compare_postgres()
            if backend == "postgres"
            else consistency.compare_elasticsearch(api.es_client(), api.prefix(backend))
        )
    rows, lags = [], {}
    for backend in tqdm(usable, desc="lag probes", disable=not progress):
        probes = measure_lag(backend, lag_samples, products[0].pk, rng)
        lags[backend] = probes.lags_ms
        f = found[backend]
        rows.append(
            {
                "backend": backend,
                "disagreements": f.total,
                "missing": f.missing,
                "extra (rolled back / deleted)": f.extra,
                "stale": f.stale,
                "lag p50 ms": _round(percentile(lags[backend], 50)),
                "lag p95 ms": _round(percentile(lags[backend], 95)),
                f"lag misses (> {LAG_TIMEOUT:g} s)": probes.misses,
                "lost by handlers": signals.lost() - lost_before if backend == "signals" else 0,
            }
        )
    return ExperimentResult(rows, lags, log, counts)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def plot(result: ExperimentResult):
    """Disagreements and lag per backend, side by side."""
    import matplotlib.pyplot as plt

    table = result.table()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    table["disagreements"].plot.bar(ax=left, color=["#2b8a3e" if v == 0 else "#c92a2a" for v in table["disagreements"]])
    left.set_title("documents that disagree with the database")
    left.set_xlabel("")
    right.boxplot([result.lags_ms[b] or [0] for b in table.index], tick_labels=list(table.index))
    right.set_title("commit-to-searchable lag (ms)")
    fig.tight_layout()
    plt.close(fig)
    return fig
