"""Search over the shop's products and reviews with four backends behind one queryset API
("Search without invalidation logic" notebook, 05).

    from workshop import search
    search.install("postgres")                     # or "outbox", "signals" (need Elasticsearch)
    qs = search.products().search("wireless speaker", backend="postgres").filter(price__lt=80)
    qs[:5], qs.facets(), qs.highlights()

Modules: query (the query language, validated), documents (what is indexed), pg (full-text
search in PostgreSQL, typo vocabulary), es (index names, mapping, analyzer choice), outbox
(triggers + relay), signals (dual writes, kept to show the problem), zombodb (django-zombodb's
API for Django 5.2), api (the queryset), experiment (consistency), widgets, exercises.
"""

from workshop.django_setup import lazy_exports

_EXPORTS = {
    "products": "api",
    "reviews": "api",
    "install": "api",
    "backends": "api",
    "SearchQuerySet": "api",
    "QueryError": "query",
    "parse": "query",
    "S": "query",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
