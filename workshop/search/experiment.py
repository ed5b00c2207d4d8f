"""The consistency experiment: one randomized workload against every backend at once,
then, per backend, how many documents disagree with the database and how long a committed
row takes to become searchable.

The workload: commits, rollbacks, two threads updating the same product at the same time,
and in the middle an incident: the outbox relay is killed with SIGKILL and Elasticsearch
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
PRODUCTS = 50  # enough that most rows are not rewritten after the incident (a rewrite heals signals)


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


def _products():
    from workshop.shop.models import Category, Product

    category = Category.objects.order_by("pk").first()
    found = list(Product.objects.filter(sku__startswith=SKU_PREFIX).order_by("pk"))
    for i in range(len(found), PRODUCTS):
        found.append(
            Product.objects.create(
                sku=f"{SKU_PREFIX}{i:03d}",
                title=f"Experiment product {i}",
                description="written by the experiment",
                brand="Experiment",
                category=category,
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


def _concurrently(product_id: int, titles: tuple[str, str]) -> None:
    """Two transactions updating the same product at the same time (the second waits for
    the first's row lock)."""

    def worker(title: str, hold: float) -> None:
        try:
            _write(product_id, title, hold=hold)
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=worker, args=(titles[0], 0.03)),
        threading.Thread(target=worker, args=(titles[1], 0.0)),
    ]
    threads[0].start()
    time.sleep(0.005)
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


def visible_after(backend: str, word: str, started: float, timeout: float = 10.0) -> float | None:
    """Milliseconds from `started` until a search for `word` finds a row (None: timed out)."""
    from workshop.search import api

    while time.perf_counter() - started < timeout:
        if api.products().search(word, backend=backend).exists():
            return (time.perf_counter() - started) * 1000
        time.sleep(0.01)
    return None


def measure_lag(backend: str, samples: int, product_id: int, rng: random.Random) -> list[float]:
    lags = []
    for _ in range(samples):
        word = f"lag{rng.randrange(10**9):09d}x"
        _write(product_id, f"Experiment lag probe {word}")
        committed = time.perf_counter()
        lag = visible_after(backend, word, committed)
        if lag is not None:
            lags.append(lag)
    return lags


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
    counts = {"commit": 0, "rollback": 0, "concurrent": 0}
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
            kind = rng.choices(["commit", "rollback", "concurrent"], weights=[6, 2, 2])[0]
            counts[kind] += 1
            if kind == "commit":
                _write(product.pk, f"Experiment {word}")
            elif kind == "rollback":
                _write(product.pk, f"Experiment {word} rolled back", rollback=True)
            else:
                _concurrently(product.pk, (f"Experiment {word}a", f"Experiment {word}b"))
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
        lags[backend] = measure_lag(backend, lag_samples, products[0].pk, rng)
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
