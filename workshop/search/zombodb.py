"""ZomboDB for Django 5.2: django-zombodb's API (0.3.0, 2019, Django <= 2.2 and
elasticsearch-py 7), revived for ZomboDB 3000's SQL.

ZomboDB is a PostgreSQL index access method whose index lives in Elasticsearch: the index
is written inside the transaction (like a B-tree) and searched with `table ==> query`, so
there is no invalidation code at all. It needs the zombodb extension (PostgreSQL 13-15,
Elasticsearch 7.x; binaries for sponsors only, built from source in docker/zombodb/). On a
server without it (the embedded one) the backend is reported unavailable.

    class Product(models.Model):
        objects = SearchQuerySet.as_manager()
        class Meta:
            indexes = [ZomboDBIndex(fields=["title"], url="http://elasticsearch:9200/")]

    migrations: operations = [ZomboDBExtension(), ...]
    Product.objects.query_string_search("title:lamp", validate=True, sort=True, limit=10)
    Product.objects.dict_search({"match": {"title": "lamp"}}).annotate_score().order_by_score()
    Product.objects.dsl_search(Q("match", title="lamp")).annotate_highlight("title")

Every query value is a SQL parameter (`dsl.query_string(%s)`, `%s::json::zdbquery`,
`dsl.limit(%s, ...)`), never spliced. In ZomboDB 3000 a bare string after `==>` is ZQL,
ZomboDB's own language, so query strings go through `dsl.query_string()` explicitly, which
is Elasticsearch's query_string (what django-zombodb meant).
"""

from __future__ import annotations

import json
import re

from workshop.django_setup import require_setup

require_setup()  # used before workshop.setup(): say which cell to run

from django.contrib.postgres.indexes import PostgresIndex  # noqa: E402
from django.contrib.postgres.operations import CreateExtension  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.db.backends.ddl_references import Statement  # noqa: E402

from workshop.errors import WorkshopError  # noqa: E402

EXTENSION = "zombodb"
ENV_URL = "WORKSHOP_ZOMBODB_ES_URL"
DEFAULT_URL = "http://elasticsearch7:9200/"  # the Elasticsearch 7.17 of docker-compose's zombodb profile

# the columns each table's ZomboDB index searches (it indexes the whole row: (table.*))
FIELDS = {"product": {"title": 3.0, "brand": 2.0, "description": 1.0}, "review": {"title": 2.0, "body": 1.0}}


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
        **kwargs,
    ) -> None:
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
        table = schema_editor.quote_name(model._meta.db_table)
        return Statement(
            "CREATE INDEX %(name)s ON %(table)s USING zombodb ((%(table)s.*)) WITH (%(with)s)",
            name=schema_editor.quote_name(self.name),
            table=table,
            **{"with": self.with_params(schema_editor)},
        )

    def remove_sql(self, model, schema_editor, **kwargs):
        return Statement("DROP INDEX IF EXISTS %(name)s", name=schema_editor.quote_name(self.name))


def _default_url() -> str:
    import os

    return os.environ.get(ENV_URL, DEFAULT_URL)


# --- queries -------------------------------------------------------------------------------


class ZdbQuery(models.Expression):
    """A zdbquery value: dsl.query_string(%s) or %s::json::zdbquery, optionally inside
    dsl.limit(%s, ...). Its values are parameters."""

    output_field = models.TextField()

    def __init__(self, kind: str, value: str, limit: int | None = None) -> None:
        super().__init__()
        self.kind, self.value, self.limit = kind, value, limit

    def as_sql(self, compiler, connection):
        sql = "dsl.query_string(%s)" if self.kind == "query_string" else "%s::json::zdbquery"
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
        from django.contrib.postgres.fields import ArrayField

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
            validate_query(self.model, validated_body)
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
        """Elasticsearch query_string syntax, e.g. 'title:lamp AND price:<50'."""
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


def index_name(model) -> str:
    for index in model._meta.indexes:
        if isinstance(index, ZomboDBIndex):
            return index.name
    return f"{model._meta.db_table}_zombodb"


def validate_query(model, body: dict) -> None:
    """Elasticsearch's _validate/query through zdb.request(); one line when invalid."""
    require()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT zdb.request(%s::regclass, '_validate/query?explain', 'POST', %s)",
            [index_name(model), json.dumps({"query": body})],
        )
        answer = json.loads(cur.fetchone()[0])
    if not answer.get("valid"):
        why = next((e.get("error") for e in answer.get("explanations", []) if e.get("error")), "invalid")
        raise ZomboDBError(f"invalid Elasticsearch query: {str(why).splitlines()[0][:200]}", "fix the query")


# --- the workshop backend ------------------------------------------------------------------


def unavailable_reason() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [EXTENSION])
        if cur.fetchone():
            return ""
    return (
        "the connected PostgreSQL has no zombodb extension "
        "(`docker compose --profile zombodb up -d`, then WORKSHOP_DATABASE_URL to it)"
    )


def require() -> None:
    why = unavailable_reason()
    if why:
        raise ZomboDBError("ZomboDB is not available here", why)


def install() -> str:
    """The extension and one ZomboDB index per searchable table (idempotent)."""
    from workshop.search.documents import KINDS

    require()
    with connection.schema_editor() as editor:
        with connection.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS zombodb")
        for kind in KINDS.values():
            model = kind.model()
            index = ZomboDBIndex(fields=["id"], name=f"search_{kind.name}_zdb")
            with connection.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_class WHERE relname = %s", [index.name])
                if not cur.fetchone():
                    editor.add_index(model, index)
    return "zombodb: extension and indexes in place"


def search(qs, query, kind):
    """The parsed query as an Elasticsearch bool query (the same builder as the ES backends,
    over the table's own columns), through `==>`, scored and sorted."""
    from workshop.search import es as es_side

    columns = type(kind)(**{**kind.__dict__, "text_fields": FIELDS[kind.name]})
    body = es_side.build_query(columns, query)
    zqs = SearchQuerySet(model=qs.model, query=qs.query.clone(), using=qs._db)
    return zqs.dict_search(body, limit=1000).order_by_score("score")
