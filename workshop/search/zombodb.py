"""ZomboDB for Django 5.2: django-zombodb's API (0.3.0, 2019, Django <= 2.2 and
elasticsearch-py 7), revived for ZomboDB 3000's SQL.

ZomboDB is a PostgreSQL index access method whose index lives in Elasticsearch: the index
is written inside the transaction (like a B-tree) and searched with `table ==> query`, so
there is no invalidation code at all. It needs the zombodb extension (PostgreSQL 13-15,
Elasticsearch 7.x API; binaries for sponsors only): `workshop zombodb up` builds it and runs
it beside the embedded server (workshop/search/zombodb_db.py says which database the backend
searches), docker-compose's zombodb profile is the other way. Without either the backend is
reported unavailable, with the command that makes it available.

    class Product(models.Model):
        objects = SearchQuerySet.as_manager()
        class Meta:
            indexes = [ZomboDBIndex(fields=["title"], url="http://elasticsearch:9200/")]

    migrations: operations = [ZomboDBExtension(), ...]
    Product.objects.query_string_search("title:lamp", validate=True, sort=True, limit=10)
    Product.objects.dict_search({"match": {"title": "lamp"}}).annotate_score().order_by_score()
    Product.objects.dsl_search(Q("match", title="lamp")).annotate_highlight("title")

Every query value is a SQL parameter (`dsl.query_string(%s)`, `%s::zdbquery`,
`dsl.limit(%s, ...)`), never spliced. In ZomboDB 3000 a bare string after `==>` is ZQL,
ZomboDB's own language, so query strings go through `dsl.query_string()` explicitly: it builds
Elasticsearch's query_string query, {"query_string": {"query": ..., "default_field": "zdb_all"}}
(ZomboDB 3000.2.8, src/query_dsl/query_string.rs), Lucene's syntax as django-zombodb meant
(`stock:<5`, `title:/la.p/`, `_exists_:brand`), not ZQL's (`stock:0 /to/ 5`, `w/3`).
"""

from __future__ import annotations

import json
import re

from workshop.django_setup import require_setup

require_setup()  # used before workshop.setup(): say which cell to run

from django.contrib.postgres.fields import ArrayField  # noqa: E402
from django.contrib.postgres.indexes import PostgresIndex  # noqa: E402
from django.contrib.postgres.operations import CreateExtension  # noqa: E402
from django.db import connections, models  # noqa: E402
from django.db.backends.ddl_references import Statement  # noqa: E402

from workshop.errors import WorkshopError  # noqa: E402

EXTENSION = "zombodb"
# docker-compose's zombodb profile: its PostgreSQL reaches the Elasticsearch 7.17 by service
# name (set WORKSHOP_ZOMBODB_ES_URL to it when WORKSHOP_DATABASE_URL points at that stack)
DOCKER_ES_URL = "http://elasticsearch7:9200/"

# the columns each table's ZomboDB index searches (it indexes the whole row, (table.*))
ROW_FIELDS = {"product": ("title", "brand", "description"), "review": ("title", "body")}
# ZomboDB maps varchar to an unanalyzed keyword: "lamp" would not find "Brass desk lamp".
# These varchar columns are mapped as analyzed text, as the text columns are by default.
ANALYZED = {"type": "text", "analyzer": "zdb_standard", "copy_to": "zdb_all"}
FIELD_MAPPINGS = {"product": {"title": ANALYZED, "brand": ANALYZED}, "review": {"title": ANALYZED}}

# A product row holds its category's id, not its name (chapter 04: no redundant copy). Each searched
# term is `own columns OR category_id IN (the ids of the categories whose name matches)`, those ids
# found in the same statement, under its snapshot: a rename is searchable in the renaming transaction,
# a move by the product's own update, both gone after a rollback, no product re-indexed, no trigger
# (the other backends copy the name into each document and rebuild them on a rename: triggers.py).
# The ids come from PostgreSQL itself, over shop_category's handful of rows: the name's words (split
# as the search box splits what is typed, query.WORD, lower-cased: what the zdb_standard analyzer
# makes of such names) hold the term's words in order; for a fuzzy term (tried only when the words as
# typed find nothing) one of the name's words is within Elasticsearch's edit distance of the typed word
# (FUZZY_WORD; tests compare both ways with a ZomboDB index on shop_category). A `==>` scan of a
# category index instead is one more request to the search node per term and per statement: half of
# a search's time on 2 cores at load 4.5 (58 -> 29 ms median per bench query, side by side), and
# 27 ms of a 40 ms fuzzy search of three words on an idle machine ("skilet cast iron").
# ZomboDB documents index links for the join (CROSS-INDEX-JOINS.md: the product index's
# options='category:(category_id=<public.shop_category.search_category_zdb>id)', then ZQL's
# `category.name:...`). They work here, but without ZomboDB's commercial accelerator a link is
# resolved as a terms aggregation plus several requests for the index's mapping, per term and per
# statement: "yoga mat" on the workshop dataset went from 8 ms to 33 ms (medians of 30, 2 cores
# under load), and a link needs the user's words inside a ZQL string. Not an index on a function
# that looks the name up plus a trigger re-touching a renamed category's products: that lies to
# PostgreSQL that the function is IMMUTABLE and rewrites every product row of the category per rename.
# An earlier version searched typos in category names through this index; install() drops it.
LEGACY_CATEGORY_INDEX = "search_category_zdb"
# kind -> its column holding the category's id. Reviews search their own columns only: their
# category is two joins away (review, product, category), and the join would put every product id
# of the matching categories into one terms query.
CATEGORY_COLUMN = {"product": "category_id"}

# Elasticsearch's fuzzy match of one word (term_clause's fuzziness=AUTO, prefix_length=1, Lucene's
# default transpositions=true), in PostgreSQL: the typed word's first letter as typed, then at most
# AUTO's edits (0 for 1-2 letters, 1 for 3-5, 2 beyond) between the rest of both words, an insertion,
# a deletion, a substitution or a swap of two neighbours counting one (optimal string alignment, the
# distance Lucene's automata accept). Called on a few words of a handful of category names.
FUZZY_WORD = "workshop_fuzzy_word"
FUZZY_WORD_SQL = f"""
CREATE OR REPLACE FUNCTION {FUZZY_WORD}(typed text, word text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  k int := CASE WHEN char_length(typed) <= 2 THEN 0 WHEN char_length(typed) <= 5 THEN 1 ELSE 2 END;
  a text[] := string_to_array(substr(typed, 2), NULL);
  b text[] := string_to_array(substr(word, 2), NULL);
  n int := coalesce(array_length(a, 1), 0);
  m int := coalesce(array_length(b, 1), 0);
  before int[]; prev int[]; cur int[]; best int;
BEGIN
  IF typed = word THEN RETURN true; END IF;
  IF k = 0 OR left(typed, 1) <> left(word, 1) OR abs(n - m) > k THEN RETURN false; END IF;
  prev := array_fill(0, ARRAY[m + 1], ARRAY[0]);
  FOR j IN 1..m LOOP prev[j] := j; END LOOP;
  FOR i IN 1..n LOOP  -- one row of the distance table at a time, the two rows before it kept
    cur := array_fill(0, ARRAY[m + 1], ARRAY[0]);
    cur[0] := i; best := i;
    FOR j IN 1..m LOOP
      cur[j] := least(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + CASE WHEN a[i] = b[j] THEN 0 ELSE 1 END);
      IF i > 1 AND j > 1 AND a[i] = b[j - 1] AND a[i - 1] = b[j] THEN
        cur[j] := least(cur[j], before[j - 2] + 1);
      END IF;
      best := least(best, cur[j]);
    END LOOP;
    IF best > k THEN RETURN false; END IF;  -- no alignment can come back under k
    before := prev; prev := cur;
  END LOOP;
  RETURN prev[m] <= k;
END $fn$
"""


class ZomboDBError(WorkshopError):
    pass


class ZomboDBExtension(CreateExtension):
    """Migration operation: CREATE EXTENSION IF NOT EXISTS zombodb."""

    def __init__(self) -> None:
        super().__init__(EXTENSION)


class ZomboDBIndex(PostgresIndex):
    """CREATE INDEX <name> ON <table> USING zombodb ((<table>.*)) WITH (url='...', ...).

    ZomboDB 3000 indexes the whole row; `fields` only names the index (Django needs
    fields or expressions) and is kept for django-zombodb compatibility."""

    suffix = "zombodb"
    OPTIONS = {
        "url": str,
        "shards": int,
        "replicas": int,
        "alias": str,
        "refresh_interval": str,
        "bulk_concurrency": int,
        "batch_size": int,
        "compression_level": int,
        "options": str,
    }

    def __init__(
        self,
        *,
        url: str | None = None,
        shards: int | None = None,
        replicas: int | None = None,
        alias: str | None = None,
        refresh_interval: str | None = None,
        bulk_concurrency: int | None = None,
        batch_size: int | None = None,
        compression_level: int | None = None,
        options: str | None = None,
        field_mapping: dict[str, dict] | None = None,
        **kwargs,
    ) -> None:
        if field_mapping is not None and not (
            isinstance(field_mapping, dict)
            and all(isinstance(k, str) and isinstance(v, dict) for k, v in field_mapping.items())
        ):
            raise ZomboDBError(
                "ZomboDBIndex field_mapping must map field names to Elasticsearch mappings",
                'write e.g. field_mapping={"title": {"type": "text", "analyzer": "zdb_standard"}}',
            )
        self.field_mapping = dict(field_mapping or {})
        self.zdb_options = {
            "url": url,
            "shards": shards,
            "replicas": replicas,
            "alias": alias,
            "refresh_interval": refresh_interval,
            "bulk_concurrency": bulk_concurrency,
            "batch_size": batch_size,
            "compression_level": compression_level,
            "options": options,
        }
        for name, value in self.zdb_options.items():
            if value is not None and not isinstance(value, self.OPTIONS[name]):
                raise ZomboDBError(
                    f"ZomboDBIndex option {name}={value!r} must be {self.OPTIONS[name].__name__}",
                    "fix the index definition in Meta.indexes",
                )
        if url is not None and not re.match(r"^https?://[^\s']+/$", url):
            raise ZomboDBError(
                f"ZomboDBIndex url {url!r} is not an http(s) URL ending in '/'", "write it like http://localhost:9200/"
            )
        super().__init__(**kwargs)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.update({k: v for k, v in self.zdb_options.items() if v is not None})
        if self.field_mapping:
            kwargs["field_mapping"] = self.field_mapping
        return path, args, kwargs

    def with_params(self, schema_editor) -> str:
        url = self.zdb_options["url"] or _default_url()
        values = {**self.zdb_options, "url": url}
        parts = [
            f"{name}={schema_editor.quote_value(value) if isinstance(value, str) else int(value)}"
            for name, value in values.items()
            if value is not None
        ]
        return ", ".join(parts)

    def create_sql(self, model, schema_editor, using="", **kwargs):
        """The field mappings first (zdb.define_field_mapping, read when the index is built),
        then the index."""
        table = schema_editor.quote_name(model._meta.db_table)
        mappings = "".join(
            f"SELECT zdb.define_field_mapping({schema_editor.quote_value(model._meta.db_table)}::regclass, "
            f"{schema_editor.quote_value(field)}, {schema_editor.quote_value(json.dumps(definition))}::json); "
            for field, definition in sorted(self.field_mapping.items())
        )
        return Statement(
            "%(mappings)sCREATE INDEX %(name)s ON %(table)s USING zombodb ((%(table)s.*)) WITH (%(with)s)",
            mappings=mappings,
            name=schema_editor.quote_name(self.name),
            table=table,
            **{"with": self.with_params(schema_editor)},
        )

    def remove_sql(self, model, schema_editor, **kwargs):
        return Statement("DROP INDEX IF EXISTS %(name)s", name=schema_editor.quote_name(self.name))


def _default_url() -> str:
    from workshop.search import zombodb_db

    return zombodb_db.node_url()


# --- queries -------------------------------------------------------------------------------


class ZdbQuery(models.Expression):
    """A zdbquery value: dsl.query_string(%s) or %s::zdbquery (the text form: ZomboDB reads JSON that
    is not its own structure as query DSL; a ::json cast would not), optionally inside
    dsl.limit(%s, ...). Its values are parameters."""

    output_field = models.TextField()

    def __init__(self, kind: str, value: str, limit: int | None = None) -> None:
        super().__init__()
        self.kind, self.value, self.limit = kind, value, limit

    def as_sql(self, compiler, connection):
        sql = "dsl.query_string(%s)" if self.kind == "query_string" else "%s::zdbquery"
        params: list = [self.value]
        if self.limit is not None:
            sql, params = f"dsl.limit(%s, {sql})", [self.limit, *params]
        return sql, params


class ZdbMatch(models.Expression):
    """<table> ==> <zdbquery>: true for the rows the ZomboDB index finds."""

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, table: str, query: ZdbQuery) -> None:
        super().__init__()
        self.table, self.query = table, query

    def get_source_expressions(self):
        return [self.query]

    def set_source_expressions(self, exprs):
        (self.query,) = exprs

    def as_sql(self, compiler, connection):
        query_sql, params = compiler.compile(self.query)
        return f"{connection.ops.quote_name(self.table)} ==> {query_sql}", params


class ZdbPage(ZdbMatch):
    """The backend's `==>`. A statement that wants only the first rows of the search and has no other
    condition (a page: LIMIT n ordered by the score then the pk; exists(): LIMIT 1 in any order) gets
    only those rows from the search node: dsl.limit(n), in the same order (ZomboDB then applies MVCC
    visibility there too), instead of every match, each fetched, scored and sorted by PostgreSQL.
    Any other statement (chained filters, count, facets) gets every match: no window."""

    BY_SCORE = '[{"_score": "desc"}, {"id": "asc"}]'  # matching()'s order_by("-score", "pk")

    def as_sql(self, compiler, connection):
        query_sql, params = compiler.compile(self.query)
        rows, order = self.first_rows(compiler.query)
        if rows is not None:
            if order:
                query_sql, params = f"dsl.sort_direct(%s::json, {query_sql})", [order, *params]
            query_sql, params = f"dsl.limit(%s, {query_sql})", [rows, *params]
        return f"{connection.ops.quote_name(self.table)} ==> {query_sql}", params

    @staticmethod
    def search_alone(query) -> bool:
        """True when the statement's one condition is filter(<this>) (Exact(<this>, True), compiled
        from a copy): no other filter, grouping, distinct or combination."""
        only = query.where.children[0] if len(query.where.children) == 1 else None
        return (
            isinstance(getattr(only, "lhs", None), ZdbPage)
            and only.lookup_name == "exact"
            and only.rhs is True
            and not query.where.negated
            and not (query.group_by or query.distinct or query.combinator or query.extra_tables)
        )

    @classmethod
    def first_rows(cls, query) -> tuple[int | None, str | None]:
        """(rows, the search node's order) when the statement wants only its first rows, else (None, None)."""
        if query.high_mark is None or not cls.search_alone(query):
            return None, None
        score = query.annotations.get("score")
        if (
            tuple(query.order_by) == ("-score", "pk")
            and query.standard_ordering
            and isinstance(score, ZdbRowFunction)
            and score.function == "score"
        ):
            return query.high_mark, cls.BY_SCORE
        if not (query.order_by or query.extra_order_by or (query.default_ordering and query.get_meta().ordering)):
            return query.high_mark, None  # any rows will do
        return None, None


class ZdbRowFunction(models.Expression):
    """zdb.score(<table>.ctid) or zdb.highlight(<table>.ctid, %s)."""

    def __init__(self, function: str, table: str, field: str | None = None, output_field=None) -> None:
        super().__init__(output_field=output_field)
        self.function, self.table, self.field_name = function, table, field

    def as_sql(self, compiler, connection):
        ctid = f"{connection.ops.quote_name(self.table)}.ctid"
        if self.field_name is None:
            return f"zdb.{self.function}({ctid})", []
        return f"zdb.{self.function}({ctid}, %s)", [self.field_name]


class SearchQuerySetMixin:
    """django-zombodb's queryset methods."""

    def _table(self) -> str:
        return self.model._meta.db_table

    def annotate_score(self, attr: str = "zombodb_score"):
        return self.annotate(**{attr: ZdbRowFunction("score", self._table(), output_field=models.FloatField())})

    def order_by_score(self, score_attr: str = "zombodb_score"):
        qs = self if score_attr in self.query.annotations else self.annotate_score(score_attr)
        return qs.order_by(f"-{score_attr}", "pk")

    def annotate_highlight(self, field: str, attr: str | None = None):
        names = {f.name for f in self.model._meta.concrete_fields}
        if field not in names:
            raise ZomboDBError(
                f"{self.model.__name__} has no field {field!r} to highlight",
                f"choose one of {', '.join(sorted(names))}",
            )
        output = ArrayField(models.TextField())  # text[]: one entry per fragment
        return self.annotate(
            **{attr or f"{field}_highlight": ZdbRowFunction("highlight", self._table(), field, output_field=output)}
        )

    def _search(
        self,
        kind: str,
        value: str,
        validate: bool,
        sort: bool,
        score_attr: str,
        limit: int | None,
        validated_body: dict,
    ):
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ZomboDBError(f"limit must be a positive integer, not {limit!r}", "pass limit=10 for example")
        if validate:
            validate_query(self.model, validated_body, self.db)
        qs = self.filter(ZdbMatch(self._table(), ZdbQuery(kind, value, limit)))
        return qs.order_by_score(score_attr) if sort else qs

    def query_string_search(
        self,
        query: str,
        validate: bool = False,
        sort: bool = False,
        score_attr: str = "zombodb_score",
        limit: int | None = None,
    ):
        """Elasticsearch's query_string syntax (Lucene's), e.g. 'title:lamp AND stock:<5', 'title:/la.p/'.
        ZomboDB maps numeric columns (price) to keywords: a range on them compares text."""
        if not isinstance(query, str) or not query.strip():
            raise ZomboDBError("the query string is empty or not text", "pass a non-empty string")
        return self._search(
            "query_string", query, validate, sort, score_attr, limit, {"query_string": {"query": query}}
        )

    def dict_search(
        self,
        query: dict,
        validate: bool = False,
        sort: bool = False,
        score_attr: str = "zombodb_score",
        limit: int | None = None,
    ):
        """Elasticsearch Query DSL as a dict, e.g. {"match": {"title": "lamp"}}."""
        if not isinstance(query, dict) or len(query) != 1:
            raise ZomboDBError(
                "a query dict has exactly one top-level query type", 'write e.g. {"match": {"title": "lamp"}}'
            )
        return self._search("json", json.dumps(query), validate, sort, score_attr, limit, query)

    def dsl_search(
        self,
        query,
        validate: bool = False,
        sort: bool = False,
        score_attr: str = "zombodb_score",
        limit: int | None = None,
    ):
        """An elasticsearch.dsl query (Q(...)), not a Search."""
        from elasticsearch.dsl import Search

        if isinstance(query, Search) or not hasattr(query, "to_dict"):
            raise ZomboDBError(
                "dsl_search takes a query (Q(...)), not a Search or anything else",
                "pass elasticsearch.dsl.Q('match', title='lamp')",
            )
        return self.dict_search(query.to_dict(), validate=validate, sort=sort, score_attr=score_attr, limit=limit)


class SearchQuerySet(SearchQuerySetMixin, models.QuerySet):
    pass


def index_name(model, using: str = "default") -> str:
    """The table's ZomboDB index: the one declared in Meta.indexes, else the one built on it."""
    for index in model._meta.indexes:
        if isinstance(index, ZomboDBIndex):
            return index.name
    with connections[using].cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = %s::regclass AND a.amname = 'zombodb'",
            [model._meta.db_table],
        )
        found = cur.fetchone()
    if not found:
        raise ZomboDBError(f"{model._meta.db_table} has no ZomboDB index", 'run search.install("zombodb") first')
    return found[0]


def validate_query(model, body: dict, using: str = "default") -> None:
    """Elasticsearch's _validate/query through zdb.request(); one line when invalid."""
    with connections[using].cursor() as cur:
        cur.execute(
            "SELECT zdb.request(%s::regclass, '_validate/query?explain', 'POST', %s)",
            [index_name(model, using), json.dumps({"query": body})],
        )
        answer = json.loads(cur.fetchone()[0])
    if not answer.get("valid"):
        why = next((e.get("error") for e in answer.get("explanations", []) if e.get("error")), "invalid")
        raise ZomboDBError(f"invalid Elasticsearch query: {str(why).splitlines()[0][:200]}", "fix the query")


# --- the workshop backend ------------------------------------------------------------------


def unavailable_reason() -> str:
    """ "" when the backend can run here (a database with the extension, or the ZomboDB server
    running, where install() loads this database), else why not and what to run."""
    from workshop.search import zombodb_db

    if zombodb_db.alias() or zombodb_db.database_url():
        return ""
    return f"no database with the zombodb extension here: {zombodb_db.FIX_UP}"


def require() -> str:
    """The database alias to search; raises when there is none."""
    from workshop.search import zombodb_db

    alias = zombodb_db.alias()
    if alias is None:
        if zombodb_db.database_url():
            raise ZomboDBError("ZomboDB runs, but this database is not on it yet", 'run search.install("zombodb")')
        raise ZomboDBError("ZomboDB is not available here", unavailable_reason())
    return alias


def install() -> str:
    """The extension and one ZomboDB index per searchable table, text fields analyzed
    (idempotent). On the ZomboDB server, this database is created and loaded first (the
    same dataset as the default database's, by the same loader)."""
    from workshop.search import zombodb_db
    from workshop.search.documents import KINDS

    if zombodb_db.alias() is None and zombodb_db.database_url():
        from workshop.shop.data import load

        current = load.current()
        zombodb_db.prepare(current.size if current else None)
    alias = require()
    url = _default_url()
    created, done = [], []
    with connections[alias].cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS zombodb")
        cur.execute(FUZZY_WORD_SQL)
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [LEGACY_CATEGORY_INDEX])
        if cur.fetchone()[0]:
            cur.execute(f"DROP INDEX {LEGACY_CATEGORY_INDEX}")  # (its remote index goes at commit)
            done.append(f"{LEGACY_CATEGORY_INDEX} dropped (category names are matched in PostgreSQL)")

    # one shard each, as the ES backends' indexes: on one node a search runs once per shard, and
    # ZomboDB's default of 5 made every search (and each fuzzy word's expansion) five searches
    indexes = [
        (
            kind.model(),
            ZomboDBIndex(
                fields=["id"], name=index_of(kind), url=url, shards=1, field_mapping=FIELD_MAPPINGS[kind.name]
            ),
        )
        for kind in KINDS.values()
    ]
    rebuilt = []
    with connections[alias].schema_editor() as editor:
        for model, index in indexes:
            with connections[alias].cursor() as cur:
                cur.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = %s", [index.name])
                found = cur.fetchone()
            if found and "shards=1" not in found[0]:  # built by an earlier version, with ZomboDB's 5 shards
                editor.remove_index(model, index)
                editor.add_index(model, index)
                rebuilt.append(index.name)
            elif not found:
                editor.add_index(model, index)
                created.append(index.name)
    done.insert(0, f"indexes created: {', '.join(created)}" if created else "indexes in place")
    if rebuilt:
        done.append(f"{', '.join(rebuilt)} rebuilt with one shard")
    return f"zombodb: extension in place, {'; '.join(done)}"


def index_of(kind) -> str:
    """The name install() gives a searchable kind's ZomboDB index."""
    return f"search_{kind.name}_zdb"


def check_indexes(alias: str, kind) -> None:
    """One line when what the search needs is missing: the kind's ZomboDB index, and for a kind with
    a category the function that matches a typo in its name (a database installed by an earlier
    version). Any ZomboDB index on the table will do: `==>` uses it."""
    with connections[alias].cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a "
            "ON a.oid = c.relam WHERE a.amname = 'zombodb' AND i.indrelid = %s::regclass), "
            "to_regprocedure(%s) IS NOT NULL",
            [kind.table, f"{FUZZY_WORD}(text,text)"],
        )
        indexed, fuzzy_word = cur.fetchone()
    if not indexed:
        raise ZomboDBError(f"{kind.table} has no ZomboDB index in this database", 'run api.install("zombodb") first')
    if kind.name in CATEGORY_COLUMN and not fuzzy_word:
        raise ZomboDBError(
            "this database's ZomboDB search was installed by an earlier version (a typo in a category's name "
            f"is matched by {FUZZY_WORD}(), missing here)",
            'run `workshop zombodb up` (or api.install("zombodb")) to update it',
        )


def search(qs, query, kind, fuzzy: bool = False, flat: bool = False):
    """The parsed query through `==>` on the database that has ZomboDB, scored and sorted.

    No window: ORM filters chained afterwards reach every matching row of the table. With
    `fuzzy`, typos are tolerated only when the words as typed find nothing (as for the ES
    backends): Elasticsearch's fuzziness=AUTO, run by the node ZomboDB talks to, decided by
    the first statement that runs (FuzzyFallback), not by a request of its own."""
    from workshop.search.api import SearchState

    alias = require()
    check_indexes(alias, kind)
    qs = qs.using(alias)
    found = matching(qs, query, kind, flat=flat)
    state = SearchState("zombodb", query, kind, fuzzy=False)
    if fuzzy:
        fallback = FuzzyFallback(found, state)
        found = matching(qs, query, kind, fuzzy=fallback, flat=flat)
        found._fuzzy_fallback = fallback
    found._search_state = state
    return found


class FuzzyFallback:
    """Whether a fuzzy search tolerates typos, decided by its first statement instead of an exists()
    request before it (a third of a typical search's time: one request to the search node of two).
    The statement runs with the words as typed: rows found settle it (no typos tolerated); finding
    nothing settles it too when the statement was the search alone from its first row, otherwise an
    exists() of the search does; when nothing matches as typed, the statement runs again, typos
    tolerated (api.SearchQuerySet runs it). One decision per search, shared by its clones (their
    ZdbTerms read it), kept once made, as the eager exists() kept it."""

    def __init__(self, exact, state) -> None:
        self.exact, self.state = exact, state
        self.fuzzy: bool | None = None  # not decided yet

    def __deepcopy__(self, memo):
        return self  # a copied queryset still shares its search's decision

    def _decide(self, fuzzy: bool) -> bool:
        self.fuzzy = self.state.fuzzy = fuzzy
        self.exact = None
        return fuzzy

    def settle(self) -> bool:
        if self.fuzzy is None:
            self._decide(not self.exact.exists())
        return self.fuzzy

    def after(self, query, found: bool) -> bool:
        """Told what a statement found while undecided; True when it must run again, typos tolerated."""
        if self.fuzzy is not None:
            return False
        if found:
            return self._decide(False)
        if ZdbPage.search_alone(query) and not query.low_mark:
            return self._decide(True)  # the search itself found nothing as typed
        return self.settle()  # other conditions found nothing: ask the search alone


def matching(qs, query, kind, fuzzy: bool = False, flat: bool = False):
    """The ES backends' query (their term clauses, the same boosts; AND of OR-groups, minus the
    excluded terms) over the table's own columns and its category's name, as
    `table ==> <zdbquery>` on qs's database, with zdb.score() as score."""
    table = qs.model._meta.db_table
    return (
        qs.filter(ZdbPage(table, ZdbTerms(kind, query, fuzzy, flat)))
        .annotate(score=ZdbRowFunction("score", table, output_field=models.FloatField()))
        .order_by("-score", "pk")
    )


class ZdbTerms(models.Expression):
    """A parsed query as a zdbquery built with ZomboDB's query builders: dsl.and() of the groups,
    dsl.or() within a group, dsl.not() of the excluded terms. Each term is the ES backends' clause
    over the row's columns or, for a kind with a category, the products of the categories whose
    name matches it (the comment above CATEGORY_COLUMN says how), scored as the category field's
    boost. Every value is a parameter."""

    output_field = models.TextField()
    # the ids of the categories whose name holds the words in order (the name split by the first
    # parameter, the search box's word pattern; the words joined by spaces in the second)
    CATEGORY_IDS = (
        "(SELECT coalesce(array_agg(c.id), '{}') FROM shop_category c WHERE strpos(' ' || array_to_string("
        "ARRAY(SELECT w[1] FROM regexp_matches(lower(c.name), %s, 'g') WITH ORDINALITY AS t(w, n) ORDER BY n), ' ')"
        " || ' ', ' ' || %s || ' ') > 0)"
    )
    # a fuzzy term (one word): the ids of the categories with a word of their name within Elasticsearch's
    # edit distance of it (the name split by the first parameter, the typed word the second)
    CATEGORY_IDS_FUZZY = (
        "(SELECT coalesce(array_agg(c.id), '{}') FROM shop_category c WHERE EXISTS (SELECT FROM "
        f"regexp_matches(lower(c.name), %s, 'g') AS t(w) WHERE {FUZZY_WORD}(%s, w[1])))"
    )

    def __init__(self, kind, query, fuzzy: bool | FuzzyFallback, flat: bool) -> None:
        super().__init__()
        self.kind, self.parsed, self.fuzzy, self.flat = kind, query, fuzzy, flat

    def _term(self, words: tuple[str, ...], fuzzy: bool, params: list) -> str:
        from dataclasses import replace

        from workshop.search.es import term_clause
        from workshop.search.query import WORD

        def clause(text_fields: dict[str, float]) -> str:
            return json.dumps(term_clause(replace(self.kind, text_fields=text_fields), words, fuzzy, self.flat))

        own = {f: b for f, b in self.kind.text_fields.items() if f in ROW_FIELDS[self.kind.name]}
        params.append(clause(own))
        column = CATEGORY_COLUMN.get(self.kind.name)
        if column is None:
            return "%s::zdbquery"
        boost = self.kind.text_fields["category"]
        params += [1.0 if self.flat else boost, column]
        if fuzzy and len(words) == 1:  # (a phrase is never fuzzy: term_clause)
            params += [WORD.pattern, words[0]]
            ids = self.CATEGORY_IDS_FUZZY
        else:
            params += [WORD.pattern, " ".join(words)]
            ids = self.CATEGORY_IDS
        return f"dsl.or(%s::zdbquery, dsl.constant_score(%s::real, dsl.terms_array(%s, {ids})))"

    def as_sql(self, compiler, connection):
        params: list = []  # in the order of their placeholders
        parts = []
        fuzzy = self.fuzzy if isinstance(self.fuzzy, bool) else bool(self.fuzzy.fuzzy)  # undecided: as typed
        for group in self.parsed.groups:
            terms = [self._term(t.words, fuzzy, params) for t in group]
            parts.append(terms[0] if len(terms) == 1 else f"dsl.or({', '.join(terms)})")
        if self.parsed.excluded:
            parts.append(f"dsl.not({', '.join(self._term(t.words, False, params) for t in self.parsed.excluded)})")
        if not parts:
            raise ZomboDBError("an empty query finds nothing to rank", "search for at least one word")
        return f"dsl.and({', '.join(parts)})", params


class ZdbAmong(models.Expression):
    """dsl.and(<zdbquery>, dsl.terms_array('id', %s::bigint[])): the query, on these rows only."""

    output_field = models.TextField()

    def __init__(self, query: models.Expression, ids: list[int]) -> None:
        super().__init__()
        self.query, self.ids = query, list(ids)

    def as_sql(self, compiler, connection):
        sql, params = self.query.as_sql(compiler, connection)
        return f"dsl.and({sql}, dsl.terms_array(%s, %s::bigint[]))", [*params, "id", self.ids]


def page_with_highlights(qs, kind, limit: int) -> tuple[list, dict[int, dict[str, list[str]]]]:
    """The first `limit` rows of a zombodb search and {id: {field: fragments}} of them: zdb.highlight()
    of each headline field (plain text, matches in <em>). The search node highlights every row its
    search returns, so in the page's own statement only when the node returns that page alone
    (ZdbPage); otherwise (chained filters) in a second statement restricted to the page's rows:
    highlighting every match took 139 ms against 29 ms (medians of the bench's queries, 2 cores
    under load)."""
    table = qs.model._meta.db_table
    columns = {
        f"zdb_highlight_{f}": ZdbRowFunction("highlight", table, f, output_field=ArrayField(models.TextField()))
        for f in kind.headline_fields
    }
    page = qs.annotate(**columns)[:limit]
    if ZdbPage.first_rows(page.query)[0] is not None:
        objects = list(page)
        return objects, {o.pk: {f: getattr(o, f"zdb_highlight_{f}") for f in kind.headline_fields} for o in objects}
    objects = list(qs[:limit])
    if not objects:
        return objects, {}
    state = qs.search_state
    only_these = ZdbAmong(ZdbTerms(kind, state.query, state.fuzzy, flat=False), [o.pk for o in objects])
    rows = (
        models.QuerySet(model=qs.model, using=qs.db)
        .filter(ZdbMatch(table, only_these))  # (boosts change no highlight: the weighted query will do)
        .annotate(**columns)
        .values_list("pk", *columns)
    )
    return objects, {pk: dict(zip(kind.headline_fields, fragments, strict=True)) for pk, *fragments in rows}
