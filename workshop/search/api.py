"""One queryset API over four backends.

    qs = products().search("wireless speaker", backend="outbox", fuzzy=True)
    qs.filter(price__lt=80)[:10]        # an ordinary queryset: chain ORM filters
    qs.facets()                         # {category: count} of what the queryset holds
    qs.results(10)                      # rows with score and highlighted fragments

Backends: "postgres" (tsvector in the same transaction), "outbox" and "signals"
(Elasticsearch, fed two ways), "zombodb" (an Elasticsearch index inside PostgreSQL, when
a database has the extension). The outbox and signals backends return their best `window`
hits (ids and scores) and the queryset keeps those rows: ORM filters chained afterwards
narrow that window, they do not reach beyond it. Postgres and zombodb filter in the
database itself: chained filters reach every matching row of the table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from workshop.django_setup import require_setup
from workshop.errors import WorkshopError
from workshop.search import es as es_side
from workshop.search.documents import KINDS, PRODUCT, REVIEW, Kind
from workshop.search.query import Query, parse

require_setup()

from django.db import connection, models  # noqa: E402

BACKENDS = ("postgres", "outbox", "signals", "zombodb")
ES_BACKENDS = ("outbox", "signals")
RANKINGS = ("weighted", "flat")
MARK_START, MARK_STOP = "\x02", "\x03"  # PostgreSQL headline markers, turned into <mark> after escaping
_clients: dict[str, object] = {}


@dataclass
class SearchState:
    backend: str
    query: Query
    kind: Kind
    corrections: dict[str, str] = field(default_factory=dict)
    highlights: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    total: int | None = None
    fuzzy: bool = False


def database_name() -> str:
    return connection.settings_dict["NAME"]


def prefix(backend: str) -> str:
    return es_side.prefix_for(database_name(), backend)


def es_client(refresh: bool = False):
    """The client for the node found (cached; dropped after a connection error)."""
    from workshop.services import elasticsearch

    found = elasticsearch.find() if refresh or not _clients else None
    if found is not None:
        if not found.available:
            _clients.clear()
            raise WorkshopError(
                "Elasticsearch is not available",
                (found.problem or "run `workshop es up`") + "; the postgres backend works without it",
            )
        _clients.clear()
        _clients[found.url] = es_side.client(found.url)
    return next(iter(_clients.values()))


def es_url() -> str:
    es_client()
    return next(iter(_clients))


def backends() -> dict[str, str]:
    """{backend: "" if usable here, else why not}."""
    from workshop.search import zombodb
    from workshop.services import elasticsearch

    found = elasticsearch.find()
    es_problem = "" if found.available else f"needs Elasticsearch: {found.problem}"
    return {"postgres": "", "outbox": es_problem, "signals": es_problem, "zombodb": zombodb.unavailable_reason()}


def install(backend: str = "postgres", relay: bool = True) -> str:
    """Make a backend ready (idempotent: a notebook re-run does nothing new). Returns a line
    saying what it did."""
    _check_backend(backend)
    if backend == "postgres":
        from workshop.search import pg

        computed = pg.install()
        return f"postgres: triggers in place{f', {computed:,} vectors computed' if computed else ''}"
    if backend == "zombodb":
        from workshop.search import zombodb

        return zombodb.install()
    es = es_client(refresh=True)
    if backend == "signals":
        from workshop.search import signals

        first = not signals.connected()
        if first:  # a new process: index everything again, into a fresh index
            es_side.drop_indexes(es, prefix(backend))
        lost = es_side.lost_indexes(es, prefix(backend))
        analyzer = es_side.ensure_indexes(es, prefix(backend))
        signals.connect(es, prefix(backend))
        indexed = signals.index_all(es, prefix(backend)) if first or lost else 0
        return f"signals: handlers connected ({analyzer.name} analyzer){f', {indexed:,} documents indexed' if indexed else ''}"
    from workshop.search import outbox

    if not outbox.installed():
        # a database without the triggers is new (or was reset): its outbox ids start again
        # at 1, so the index of a previous database with this name would refuse them as old
        es_side.drop_indexes(es, prefix(backend))
        lost = []
    else:  # an index deleted since (by hand, a node wiped): queue its documents again
        lost = es_side.lost_indexes(es, prefix(backend))
    analyzer = es_side.ensure_indexes(es, prefix(backend))
    queued = outbox.install()
    if lost:
        queued += outbox.queue_all(kinds=lost)
    if relay:
        outbox.start(es_url(), prefix(backend))
    return (
        f"outbox: triggers in place, relay running ({analyzer.name} analyzer: {analyzer.reason})"
        f"{f', {queued:,} rows queued' if queued else ''}"
    )


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise WorkshopError(f"Unknown search backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")


class ScoreAt(models.Func):
    """The score Elasticsearch gave this row: scores[array_position(ids, pk)], both
    arrays passed as parameters."""

    output_field = models.FloatField()

    def __init__(self, ids: list[int], scores: list[float], pk) -> None:
        super().__init__(pk)
        self.ids, self.scores = list(ids), list(scores)

    def as_sql(self, compiler, connection, **extra):
        pk_sql, pk_params = compiler.compile(self.source_expressions[0])
        return f"(%s::float8[])[array_position(%s::bigint[], {pk_sql})]", (self.scores, self.ids, *pk_params)


class SearchQuerySet(models.QuerySet):
    """A queryset with .search(); everything else is Django's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._search_state: SearchState | None = None
        # zombodb's typo tolerance, decided by the first statement that runs (zombodb.FuzzyFallback)
        self._fuzzy_fallback = None

    def _clone(self):
        clone = super()._clone()
        clone._search_state = self._search_state
        clone._fuzzy_fallback = self._fuzzy_fallback
        return clone

    @property
    def search_state(self) -> SearchState | None:
        self._settle()
        return self._search_state

    # --- a search whose typo tolerance is not decided yet (zombodb): the statement runs with the
    # words as typed; one that finds nothing may have to run again with typos tolerated ----------

    def _undecided(self):
        fallback = self._fuzzy_fallback
        return fallback if fallback is not None and fallback.fuzzy is None else None

    def _settle(self) -> None:
        if fallback := self._undecided():
            fallback.settle()

    def _fetch_all(self):
        fallback = self._undecided() if self._result_cache is None else None
        super()._fetch_all()
        if fallback and fallback.after(self.query, found=bool(self._result_cache)):
            self._result_cache, self._prefetch_done = None, False
            super()._fetch_all()

    def count(self) -> int:
        fallback = self._undecided() if self._result_cache is None else None
        n = super().count()
        return super().count() if fallback and fallback.after(self.query, found=n > 0) else n

    def exists(self) -> bool:
        fallback = self._undecided() if self._result_cache is None else None
        found = super().exists()
        return super().exists() if fallback and fallback.after(self.query, found=found) else found

    def _settled(name: str):  # the other ways to run a statement decide first (one exists() query)
        def method(self, *args, **kwargs):
            self._settle()
            return getattr(models.QuerySet, name)(self, *args, **kwargs)

        method.__name__ = name
        return method

    aggregate = _settled("aggregate")
    iterator = _settled("iterator")
    update = _settled("update")
    delete = _settled("delete")
    explain = _settled("explain")
    del _settled

    def search(
        self,
        text: str | Query,
        backend: str = "postgres",
        *,
        fuzzy: bool = False,
        window: int = 1000,
        ranking: str = "weighted",
    ):
        """Rows matching `text`, annotated with `score` and ordered by it (best first).
        ranking="weighted": a match in the title counts most, then brand and category, then
        the description (documents.RANK_WEIGHTS); "flat": every field the same (to compare)."""
        _check_backend(backend)
        if ranking not in RANKINGS:
            raise WorkshopError(f"Unknown ranking {ranking!r}", f"choose one of {', '.join(RANKINGS)}")
        flat = ranking == "flat"
        query = text.searchable() if isinstance(text, Query) else parse(text)  # composed with S(...), or typed
        kind = PRODUCT if self.model._meta.label == PRODUCT.model_label else REVIEW
        if backend == "postgres":
            return self._search_postgres(query, kind, fuzzy, flat)
        if backend == "zombodb":
            from workshop.search import zombodb

            return zombodb.search(self, query, kind, fuzzy, flat)  # flat: the same fields, no boosts
        return self._search_elasticsearch(query, kind, backend, fuzzy, window, flat)

    def _search_postgres(self, query: Query, kind: Kind, fuzzy: bool, flat: bool = False):
        from django.contrib.postgres.search import SearchRank
        from django.db.models import F

        from workshop.search import pg

        if not pg.installed():
            raise WorkshopError(
                "The postgres search backend is not installed in this database", 'run search.install("postgres") first'
            )
        fixed = pg.corrections(query.words()) if fuzzy else {}
        sq = pg.search_query(query, fixed)
        qs = (
            self.filter(search_vector__document=sq)
            .annotate(score=SearchRank(F("search_vector__document"), sq, weights=pg.rank_weights(flat)))
            .order_by("-score", "pk")
        )
        qs._search_state = SearchState("postgres", query, kind, corrections=fixed)
        qs._pg_query = sq
        return qs

    def _search_elasticsearch(
        self, query: Query, kind: Kind, backend: str, fuzzy: bool, window: int, flat: bool = False
    ):
        from django.db.models import F

        es = es_client()
        try:
            found = es_side.search(es, prefix(backend), kind, query, size=window, flat=flat)
            if fuzzy and not found["ids"]:
                # typo tolerance only when the words as typed find nothing: fuzzy matching
                # costs several times an exact query, and most queries are spelt right
                found = es_side.search(es, prefix(backend), kind, query, size=window, fuzzy=True, flat=flat)
            else:
                fuzzy = False
        except WorkshopError:
            _clients.clear()  # find the node again next time (it may come back elsewhere)
            raise
        except Exception as exc:  # the index is missing, etc.: one line, not the HTTP error
            from elasticsearch import NotFoundError

            if isinstance(exc, NotFoundError):
                raise WorkshopError(
                    f"The {backend} backend has no index in Elasticsearch yet", f'run search.install("{backend}") first'
                ) from None
            raise
        ids, scores = found["ids"], found["scores"]
        qs = self.filter(pk__in=ids).annotate(score=ScoreAt(ids, scores, F("pk"))).order_by("-score", "pk")
        qs._search_state = SearchState(backend, query, kind, total=found["total"], fuzzy=fuzzy)
        return qs

    # --- what the notebook shows ---------------------------------------------------------

    def facets(self) -> dict[str, int]:
        """{category: number of rows} of this queryset (after any chained filters)."""
        kind = KINDS["product"] if self.model._meta.label == PRODUCT.model_label else KINDS["review"]
        rows = self.order_by().values(kind.facet).annotate(n=models.Count("pk")).order_by("-n", kind.facet)
        return {r[kind.facet]: r["n"] for r in rows}

    def results(self, limit: int = 10) -> list[dict]:
        """The first rows as dicts: id, title, score, category, and HTML highlights per field
        (matched words in <mark>, everything else escaped)."""
        state = self._search_state
        kind = state.kind if state else (PRODUCT if self.model._meta.label == PRODUCT.model_label else REVIEW)
        qs = self
        if state and state.backend == "postgres":
            from django.contrib.postgres.search import SearchHeadline

            qs = qs.annotate(
                **{
                    f"headline_{f}": SearchHeadline(
                        f,
                        self._pg_query,
                        config="english",
                        start_sel=MARK_START,
                        stop_sel=MARK_STOP,
                        max_fragments=1,
                        max_words=30,
                        min_words=8,
                    )
                    for f in kind.headline_fields
                }
            )
        qs = qs.select_related(*(["category"] if kind is PRODUCT else ["product__category"]))
        zdb_highlights = {}
        if state and state.backend == "zombodb":  # the shown rows' only (not cached: rows change in a transaction)
            from workshop.search import zombodb

            objects, zdb_highlights = zombodb.page_with_highlights(qs, kind, limit)
        else:
            objects = list(qs[:limit])
        if state and state.backend in ES_BACKENDS:
            state.highlights.update(
                es_side.highlight(
                    es_client(),
                    prefix(state.backend),
                    kind,
                    state.query,
                    [o.pk for o in objects if o.pk not in state.highlights],
                    state.fuzzy,
                )
            )
        rows = []
        for obj in objects:
            highlights = {}
            for f in kind.headline_fields:
                if state and state.backend == "postgres":
                    text = getattr(obj, f"headline_{f}")
                    marked = html.escape(text).replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")
                    if "<mark>" in marked:
                        highlights[f] = marked
                elif state and state.backend == "zombodb":
                    fragments = zdb_highlights.get(obj.pk, {}).get(f) or []
                    if fragments:  # plain text with <em> around the matches: escape, then mark
                        marked = html.escape(fragments[0]).replace("&lt;em&gt;", "<mark>")
                        highlights[f] = marked.replace("&lt;/em&gt;", "</mark>")
                elif state and state.highlights.get(obj.pk, {}).get(f):
                    highlights[f] = state.highlights[obj.pk][f][0].replace("<em>", "<mark>").replace("</em>", "</mark>")
            category = obj.category.name if kind is PRODUCT else obj.product.category.name
            rows.append(
                {
                    "id": obj.pk,
                    "title": obj.title,
                    "score": round(float(getattr(obj, "score", 0) or 0), 4),
                    "category": category,
                    "highlights": highlights,
                }
            )
        return rows

    def ids(self) -> set[int]:
        return set(self.values_list("pk", flat=True))


def _clone_keeps_pg_query():
    """`_pg_query` rides along with clones too (results() needs it after chaining)."""
    original = SearchQuerySet._clone

    def _clone(self):
        clone = original(self)
        clone._pg_query = getattr(self, "_pg_query", None)
        return clone

    SearchQuerySet._clone = _clone


_clone_keeps_pg_query()


def products() -> SearchQuerySet:
    from workshop.shop.models import Product

    return SearchQuerySet(model=Product)


def reviews() -> SearchQuerySet:
    from workshop.shop.models import Review

    return SearchQuerySet(model=Review)
