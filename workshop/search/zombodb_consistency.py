"""The consistency experiment's zombodb column: the same kinds of writes, on the database
that has ZomboDB, then what a search through `==>` finds against what the rows say.

ZomboDB has no relay and no handler to lose an event: its index is written inside each
transaction and every search filters the index by the transaction's snapshot. The
workload is the experiment's (commits, rollbacks, two transactions updating one row at
once) plus a session killed in the middle of its transaction, categories renamed and
products moved to another category. A product row holds its category's id, not its name:
the categories whose name matches are looked up in the search's own statement, under its
snapshot, and joined on category_id (zombodb.CATEGORY_COLUMN says how), so a rename is seen by
the renaming transaction and a move is indexed by the product's own update, and both are
searchable at once like any other write. (The other backends copy the name into their documents and must re-index them on
a rename.)

The comparison goes through the search API a user has:
- missing or stale: an experiment product that a search for its own current title and id
  does not find;
- extra: a row found by a word that only a rolled-back or killed transaction wrote;
- stale: a product of a renamed category that a search for the category's current name
  misses, or a product it finds that is no longer in that category; a moved product that a
  search for its current category's name does not find.
"""

from __future__ import annotations

import random
import threading
import time

from workshop.django_setup import require_setup

require_setup()

from django.db import connections, transaction  # noqa: E402

SKU_PREFIX = "EXP-"
PRODUCTS = 50
WEIGHTS = {"commit": 6, "rollback": 2, "concurrent": 2, "killed session": 1, "category rename": 1, "product move": 1}


class _Rollback(Exception):
    pass


def _products(alias: str) -> list:
    from workshop.shop.models import Category, Product

    category = Category.objects.using(alias).order_by("pk").first()
    found = list(Product.objects.using(alias).filter(sku__startswith=SKU_PREFIX).order_by("pk"))
    for i in range(len(found), PRODUCTS):
        found.append(
            Product.objects.using(alias).create(
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


def _write(alias: str, product_id: int, title: str, rollback: bool = False, hold: float = 0.0) -> None:
    from workshop.shop.models import Product

    try:
        with transaction.atomic(using=alias):
            Product.objects.using(alias).filter(pk=product_id).update(title=title)
            if hold:
                time.sleep(hold)
            if rollback:
                raise _Rollback
    except _Rollback:
        pass


def _concurrently(alias: str, product_id: int, titles: tuple[str, str]) -> None:
    def worker(title: str, hold: float) -> None:
        try:
            _write(alias, product_id, title, hold=hold)
        finally:
            connections[alias].close()  # this thread's own connection

    threads = [
        threading.Thread(target=worker, args=(titles[0], 0.03)),
        threading.Thread(target=worker, args=(titles[1], 0.0)),
    ]
    threads[0].start()
    time.sleep(0.005)
    threads[1].start()
    for t in threads:
        t.join()


def _killed_session(alias: str, product_id: int, title: str) -> None:
    """A session updates the row, then dies before it commits (pg_terminate_backend, as an
    OOM kill or a lost client would end it)."""
    import psycopg

    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    victim = psycopg.connect(**params)
    try:
        victim.execute("UPDATE shop_product SET title = %s WHERE id = %s", [title, product_id])
        pid = victim.info.backend_pid
        with connections[alias].cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    finally:
        try:
            victim.close()
        except psycopg.Error:
            pass


def _rename_category(alias: str, category_id: int, name: str) -> None:
    from workshop.shop.models import Category

    with transaction.atomic(using=alias):
        Category.objects.using(alias).filter(pk=category_id).update(name=name)


def _move(alias: str, product_id: int, category_id: int) -> None:
    from workshop.shop.models import Product

    with transaction.atomic(using=alias):
        Product.objects.using(alias).filter(pk=product_id).update(category_id=category_id)


def _by_category_name(alias: str, name: str, **filters) -> set[int]:
    """What the zombodb backend's search for `name` finds, as a user would type it."""
    from workshop.search import zombodb
    from workshop.search.documents import PRODUCT
    from workshop.search.query import parse
    from workshop.shop.models import Product

    found = zombodb.matching(Product.objects.using(alias).filter(**filters), parse(name), PRODUCT)
    return set(found.values_list("pk", flat=True))


def _found(alias: str, body: dict) -> set[int]:
    from workshop.search.zombodb import SearchQuerySet
    from workshop.shop.models import Product

    return set(SearchQuerySet(model=Product).using(alias).dict_search(body).values_list("pk", flat=True))


def compare(
    alias: str, products: list, never_committed: list[str], renamed: dict[int, str], moved: set[int] | None = None
) -> dict[str, int]:
    from workshop.shop.models import Product

    missing = extra = stale = 0
    for product in Product.objects.using(alias).filter(pk__in=[p.pk for p in products]):
        body = {"bool": {"must": [{"match_phrase": {"title": product.title}}, {"term": {"id": product.pk}}]}}
        if product.pk not in _found(alias, body):
            missing += 1
    for word in never_committed:
        extra += len(_found(alias, {"match": {"title": word}}))
    for category_id, name in renamed.items():
        in_db = set(Product.objects.using(alias).filter(category_id=category_id).values_list("pk", flat=True))
        stale += len(in_db ^ _by_category_name(alias, name))  # missed, or found but moved away
    for product in Product.objects.using(alias).filter(pk__in=moved or ()).select_related("category"):
        if product.pk not in _by_category_name(alias, product.category.name, pk=product.pk):
            stale += 1
    return {"missing": missing, "extra": extra, "stale": stale}


def measure_lag(alias: str, samples: int, product_id: int, rng: random.Random) -> list[float]:
    """Milliseconds from COMMIT until a search finds the new word (the next statement)."""
    lags = []
    for _ in range(samples):
        word = f"lag{rng.randrange(10**9):09d}x"
        _write(alias, product_id, f"Experiment lag probe {word}")
        committed = time.perf_counter()
        while time.perf_counter() - committed < 10:
            if _found(alias, {"match": {"title": word}}):
                lags.append((time.perf_counter() - committed) * 1000)
                break
            time.sleep(0.01)
    return lags


def run(operations: int = 120, seed: int = 42, lag_samples: int = 10) -> tuple[dict, list[float], dict[str, int]]:
    """(the experiment's table row, the lags in ms, the operations run) for zombodb."""
    from workshop.search import zombodb
    from workshop.search.experiment import percentile

    alias = zombodb.require()
    zombodb.install()
    rng = random.Random(seed)
    products = _products(alias)
    counts = dict.fromkeys(WEIGHTS, 0)
    never_committed: list[str] = []
    renamed: dict[int, str] = {}
    originals = _category_names(alias)
    try:
        found = _workload(alias, rng, seed, operations, products, counts, never_committed, renamed, list(originals))
    finally:  # the notebooks' categories keep their names
        for category_id in renamed:
            _rename_category(alias, category_id, originals[category_id])
    lags = measure_lag(alias, lag_samples, products[0].pk, rng)
    row = {
        "backend": "zombodb",
        "disagreements": sum(found.values()),
        "missing": found["missing"],
        "extra (rolled back / deleted)": found["extra"],
        "stale": found["stale"],
        "lag p50 ms": None if not lags else round(percentile(lags, 50), 1),
        "lag p95 ms": None if not lags else round(percentile(lags, 95), 1),
        "lost by handlers": 0,
    }
    return row, lags, counts


def _category_names(alias: str) -> dict[int, str]:
    from workshop.shop.models import Category

    return dict(Category.objects.using(alias).values_list("pk", "name"))


def _workload(alias, rng, seed, operations, products, counts, never_committed, renamed, categories) -> dict[str, int]:
    moved: set[int] = set()
    for step in range(operations):
        product = rng.choice(products)
        word = f"zexp{seed}s{step}w{rng.randrange(1000)}"
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        counts[kind] += 1
        if kind == "commit":
            _write(alias, product.pk, f"Experiment {word}")
        elif kind == "rollback":
            _write(alias, product.pk, f"Experiment {word}", rollback=True)
            never_committed.append(word)
        elif kind == "concurrent":
            _concurrently(alias, product.pk, (f"Experiment {word}a", f"Experiment {word}b"))
        elif kind == "killed session":
            _killed_session(alias, product.pk, f"Experiment {word}")
            never_committed.append(word)
        elif kind == "product move":  # often out of a renamed one: the products start in one category
            _move(alias, product.pk, rng.choice(categories))
            moved.add(product.pk)
        else:
            category_id = type(product).objects.using(alias).values_list("category_id", flat=True).get(pk=product.pk)
            renamed[category_id] = f"Renamed {word}"
            _rename_category(alias, category_id, renamed[category_id])
    return compare(alias, products, never_committed, renamed, moved)
