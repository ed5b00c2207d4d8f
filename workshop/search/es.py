"""Elasticsearch side: index names per database and backend, the mapping (English analyzer
when the node has it, standard otherwise), queries built from the parsed terms with the
client's structures, and one clear message when the node is not there or goes away."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from workshop.classroom import search_isolation
from workshop.errors import WorkshopError
from workshop.search.documents import KINDS, Kind
from workshop.search.query import Query

REFRESH_INTERVAL = "500ms"  # searchable half a second after indexing (the default is 1s)
FIX_DOWN = "start it with `workshop es up` (changes wait in the outbox and the relay catches up)"


@dataclass(frozen=True)
class Analyzer:
    name: str  # "english" | "standard"
    reason: str


def client(url: str | None = None):
    """A client for `url`, or for the node workshop.services.elasticsearch finds."""
    from elasticsearch import Elasticsearch

    from workshop.services import elasticsearch

    if url:
        return Elasticsearch(url, request_timeout=10, max_retries=0)
    found = elasticsearch.find()
    if not found.available:
        raise WorkshopError("Elasticsearch is not available for this backend", found.problem or FIX_DOWN)
    return Elasticsearch(found.url, request_timeout=10, max_retries=0)


@contextlib.contextmanager
def answering(es) -> Iterator[None]:
    """Turn "the node went away" into one line that says what to do."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout

    try:
        yield
    except (TransportConnectionError, ConnectionTimeout) as exc:
        hosts = ", ".join(str(n.base_url) for n in es.transport.node_pool.all())
        raise WorkshopError(f"Elasticsearch at {hosts} does not answer ({type(exc).__name__})", FIX_DOWN) from None


def index_name(prefix: str, kind: Kind | str) -> str:
    """The index of a kind; in classroom mode only the attendee's own (one line otherwise)."""
    name = kind if isinstance(kind, str) else kind.name
    return search_isolation.check_index(f"{prefix}-{name}")


def prefix_for(database: str, backend: str) -> str:
    """Index names start with the database name, so parallel test runs, notebooks on other
    databases and a room's attendees never share an index."""
    return f"{search_isolation.database_prefix(database)}{backend}"


def choose_analyzer(es) -> Analyzer:
    """English (stemming, stop words) when the node has it: the full distribution's
    analysis-common module provides it; the Maven test distribution has no such module."""
    from elasticsearch import BadRequestError

    with answering(es):
        try:
            tokens = es.indices.analyze(analyzer="english", text="running shoes")["tokens"]
        except BadRequestError as exc:
            return Analyzer("standard", f"this node has no English analyzer ({exc.message}); words are not stemmed")
    stems = [t["token"] for t in tokens]
    return Analyzer("english", f"this node has the English analyzer ('running shoes' -> {stems})")


def mapping(kind: Kind, analyzer: Analyzer) -> dict:
    properties: dict[str, dict] = {f: {"type": "text", "analyzer": analyzer.name} for f in kind.text_fields}
    properties.update({f: {"type": "keyword"} for f in kind.keyword_fields})
    properties.update({f: {"type": t} for f, t in kind.number_fields.items()})  # float: no scaled_float here
    properties["version"] = {"type": "long"}  # the outbox event id the document comes from
    properties["category"]["fields"] = {"raw": {"type": "keyword"}}  # facet counts
    return {"dynamic": "strict", "_meta": {"analyzer": analyzer.name, "why": analyzer.reason}, "properties": properties}


def ensure_indexes(es, prefix: str) -> Analyzer:
    """Create the kinds' indexes if missing; returns the analyzer they use."""
    analyzer = choose_analyzer(es)
    with answering(es):
        for kind in KINDS.values():
            name = index_name(prefix, kind)
            if not es.indices.exists(index=name):
                es.indices.create(
                    index=name,
                    mappings=mapping(kind, analyzer),
                    settings={"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": REFRESH_INTERVAL},
                )
            else:
                used = es.indices.get_mapping(index=name)[name]["mappings"].get("_meta", {}).get("analyzer")
                analyzer = Analyzer(used or analyzer.name, f"kept from the existing index {name}")
    return analyzer


def lost_indexes(es, prefix: str) -> list[Kind]:
    """The kinds whose index is gone, or was re-created by a write after it was deleted
    (Elasticsearch creates a missing index on the first write, with a guessed mapping and
    without our _meta): such an index is deleted here. The caller re-fills them."""
    lost = []
    with answering(es):
        for kind in KINDS.values():
            name = index_name(prefix, kind)
            if not es.indices.exists(index=name):
                lost.append(kind)
            elif "analyzer" not in es.indices.get_mapping(index=name)[name]["mappings"].get("_meta", {}):
                es.indices.delete(index=name)
                lost.append(kind)
    return lost


def drop_indexes(es, prefix: str) -> None:
    with answering(es):
        for kind in KINDS.values():
            es.indices.delete(index=index_name(prefix, kind), ignore_unavailable=True)


def term_clause(kind: Kind, words: tuple[str, ...], fuzzy: bool, flat: bool = False) -> dict:
    fields = list(kind.text_fields) if flat else [f"{f}^{b:g}" for f, b in kind.text_fields.items()]
    text = " ".join(words)
    if len(words) > 1:
        return {"multi_match": {"query": text, "type": "phrase", "fields": fields}}
    exact = {"multi_match": {"query": text, "fields": fields}}
    if not fuzzy:
        return exact
    # typo tolerance: an edit distance of 1-2 (AUTO, by word length), ranked below exact matches
    return {
        "bool": {
            "should": [
                exact,
                {
                    "multi_match": {
                        "query": text,
                        "fields": fields,
                        "fuzziness": "AUTO",
                        "prefix_length": 1,
                        "boost": 0.5,
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def build_query(kind: Kind, query: Query, fuzzy: bool = False, flat: bool = False) -> dict:
    """The bool query for a parsed query: every group must match, an OR group matches any.
    Fields carry the kind's boosts (the PostgreSQL weights' ratios), none when flat."""
    must = []
    for group in query.groups:
        clauses = [term_clause(kind, t.words, fuzzy, flat) for t in group]
        must.append(clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}})
    must_not = [term_clause(kind, t.words, False) for t in query.excluded]
    return {"bool": {"must": must, "must_not": must_not}}


def search(es, prefix: str, kind: Kind, query: Query, *, size: int, fuzzy: bool = False, flat: bool = False) -> dict:
    """{"ids": [...], "scores": [...], "total": n}: the best `size` hits, no highlighting
    (highlight() does that for the rows shown: highlighting fuzzy matches costs ~10x)."""
    with answering(es):
        found = es.search(
            index=index_name(prefix, kind), query=build_query(kind, query, fuzzy, flat), size=size, source=False
        )  # totals exact up to 10,000 (counting beyond costs)
    hits = found["hits"]["hits"]
    return {
        "ids": [int(h["_id"]) for h in hits],
        "scores": [h["_score"] for h in hits],
        "total": found["hits"]["total"]["value"],
    }


def highlight(es, prefix: str, kind: Kind, query: Query, ids: list[int], fuzzy: bool = False) -> dict[int, dict]:
    """{id: {field: [fragment]}} for these documents (HTML-escaped text, matches in <em>)."""
    if not ids:
        return {}
    with answering(es):
        found = es.search(
            index=index_name(prefix, kind),
            size=len(ids),
            source=False,
            query={
                "bool": {
                    "must": [build_query(kind, query, fuzzy)],
                    "filter": [{"ids": {"values": [str(i) for i in ids]}}],
                }
            },
            highlight={
                "fields": {f: {"number_of_fragments": 1, "fragment_size": 160} for f in kind.headline_fields},
                "encoder": "html",
            },
        )
    return {int(h["_id"]): h.get("highlight", {}) for h in found["hits"]["hits"]}


def all_documents(es, prefix: str, kind: Kind) -> dict[int, dict]:
    """Every document of an index (for consistency checks), by id."""
    from elasticsearch.helpers import scan

    with answering(es):
        es.indices.refresh(index=index_name(prefix, kind))
        return {
            int(h["_id"]): h["_source"]
            for h in scan(es, index=index_name(prefix, kind), query={"query": {"match_all": {}}}, size=2000)
        }
