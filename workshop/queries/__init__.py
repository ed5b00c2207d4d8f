"""Query expressions ("04_queries" notebook): answer the shop's questions in the database.

    from workshop.queries import ask, verify, record_queries
    ask("revenue_by_month", start="2024-01-01", category="books")   # a QuerySet
    verify("revenue_by_month")                                        # same answer as pandas?
    with record_queries() as log: ...                                 # count, time, N+1

Modules: expressions (custom Func, Aggregate, Transform), params (checked parameters),
questions (the business questions as querysets), frames + reference (the same answers in
pandas over raw rows), compare, inspector (query recorder + cell magic), explain (EXPLAIN
drawn readably), stale (redundant columns going wrong), pages (an N+1 page and its fix),
exercises, solutions, widgets, models (the app's own tables), aggregations + benchrun + bench
(`workshop bench queries`), cli (`workshop queries ...`).
"""

from workshop.django_setup import lazy_exports

# Loaded on first use (PEP 562): `workshop bench` imports workshop.queries.bench without a
# configured Django; a notebook cell run before workshop.setup() gets "run the set-up cell".
_EXPORTS = {
    "ask": "questions",
    "QUESTIONS": "questions",
    "Params": "params",
    "verify": "compare",
    "verify_all": "compare",
    "record_queries": "inspector",
    "assert_max_queries": "inspector",
    "register_magic": "inspector",
    "explain": "explain",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
