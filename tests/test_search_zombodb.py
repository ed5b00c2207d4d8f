"""The ZomboDB revival: DDL and query SQL checked against ZomboDB 3000's documented SQL API.

The extension is not installed here (binaries are for sponsors; docker-compose's zombodb
profile builds it from source). So the documented signatures are declared as stubs in the
test's transaction (dsl.query_string(query text, ...), dsl.limit(bigint, zdbquery),
zdb.score(tid) real, zdb.highlight(tid, text, json) text[], zdbquery castable from json,
and the ==> operator), and PostgreSQL parses, binds and runs the generated SQL against them:
a wrong name, arity or type fails here. Integration tests run when the extension is present."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from elasticsearch.dsl import Q

from workshop.errors import WorkshopError
from workshop.search import zombodb
from workshop.search.zombodb import SearchQuerySet, ZomboDBExtension, ZomboDBIndex
from workshop.shop.models import Product

pytestmark = pytest.mark.django_db


def products() -> SearchQuerySet:
    return SearchQuerySet(model=Product)


@pytest.fixture
def documented_api():
    """ZomboDB 3000's documented signatures as stubs (rolled back with the test)."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'zombodb'")
        if cur.fetchone():
            return  # the real thing
        for statement in [
            "CREATE SCHEMA zdb",
            "CREATE SCHEMA dsl",
            "CREATE DOMAIN zdbquery AS json",
            """CREATE FUNCTION dsl.query_string(query text, default_field text DEFAULT NULL,
                 allow_leading_wildcard boolean DEFAULT NULL) RETURNS zdbquery LANGUAGE sql IMMUTABLE
                 AS $$ SELECT json_build_object('query_string', json_build_object('query', query))::zdbquery $$""",
            """CREATE FUNCTION dsl.limit("limit" bigint, query zdbquery) RETURNS zdbquery LANGUAGE sql IMMUTABLE
                 AS $$ SELECT query $$""",
            "CREATE FUNCTION zdb.score(tid) RETURNS real LANGUAGE sql AS $$ SELECT 1.0::real $$",
            """CREATE FUNCTION zdb.highlight(tid, fieldname text, json_highlight_descriptor json DEFAULT NULL)
                 RETURNS text[] LANGUAGE sql AS $$ SELECT ARRAY['<em>' || fieldname || '</em>'] $$""",
            "CREATE FUNCTION zdb_stub_match(anyelement, zdbquery) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
            "CREATE OPERATOR ==> (LEFTARG = anyelement, RIGHTARG = zdbquery, FUNCTION = zdb_stub_match)",
        ]:
            cur.execute(statement)


def test_the_index_ddl_is_zombodb_3000s(settings):
    index = ZomboDBIndex(
        fields=["title"], name="product_zdb", url="http://localhost:9200/", shards=2, replicas=0, refresh_interval="-1"
    )
    with connection.schema_editor(collect_sql=True) as editor:
        sql = str(index.create_sql(Product, editor))
        drop = str(index.remove_sql(Product, editor))
    assert sql == (
        'CREATE INDEX "product_zdb" ON "shop_product" USING zombodb (("shop_product".*)) '
        "WITH (url='http://localhost:9200/', shards=2, replicas=0, refresh_interval='-1')"
    )
    assert drop == 'DROP INDEX IF EXISTS "product_zdb"'
    path, args, kwargs = index.deconstruct()
    assert kwargs["url"] == "http://localhost:9200/" and kwargs["shards"] == 2
    assert ZomboDBIndex(**{k: v for k, v in kwargs.items()}).zdb_options == index.zdb_options


@pytest.mark.parametrize(
    "bad", [{"url": "http://x:9200/', shards=1) --"}, {"url": "localhost:9200"}, {"shards": "2; DROP TABLE x"}]
)
def test_index_options_are_validated(bad):
    with pytest.raises(WorkshopError):
        ZomboDBIndex(fields=["title"], name="product_zdb", **bad)


def test_the_migration_operation_creates_the_extension():
    with connection.schema_editor(collect_sql=True) as editor:
        op = ZomboDBExtension()
        op.extension_exists = lambda *_: False  # what it runs on a server without it
        op.database_forwards("search", editor, None, None)
    assert editor.collected_sql == ['CREATE EXTENSION IF NOT EXISTS "zombodb";']


def test_query_string_search_sql_uses_dsl_query_string_with_a_parameter(documented_api):
    hostile = "lamp') OR true; DROP TABLE shop_product; --"
    qs = products().query_string_search(hostile, sort=True, limit=5)
    sql, params = qs.query.sql_with_params()
    assert '"shop_product" ==> dsl.limit(%s, dsl.query_string(%s))' in sql
    assert 'zdb.score("shop_product".ctid) AS "zombodb_score"' in sql
    # zdb.score() is only allowed in the target list and ORDER BY (docs/src/usage/scoring.md): Django
    # orders by the score's position in the target list
    assert re.search(r'ORDER BY \d+ DESC, "shop_product"."id" ASC$', sql) and "WHERE zdb.score" not in sql
    assert hostile in params and 5 in params and "DROP" not in sql
    assert len(list(qs)) == Product.objects.count()  # runs against the documented signatures


def test_dict_and_dsl_searches_send_json_as_a_parameter(documented_api):
    qs = products().dict_search({"match": {"title": "lamp"}})
    sql, params = qs.query.sql_with_params()
    assert '"shop_product" ==> %s::json::zdbquery' in sql and params == ('{"match": {"title": "lamp"}}',)
    dsl = products().dsl_search(Q("match", title="lamp"))
    assert dsl.query.sql_with_params() == qs.query.sql_with_params()
    list(dsl.filter(price__lt=50).annotate_score().order_by_score())  # chains with the ORM


def test_score_highlight_and_limit_run_against_the_documented_api(documented_api):
    rows = list(
        products()
        .query_string_search("title:lamp", limit=3)
        .annotate_score("s")
        .annotate_highlight("title")
        .order_by_score("s")[:2]
    )
    assert rows and rows[0].s == 1.0 and rows[0].title_highlight == ["<em>title</em>"]


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: products().query_string_search(""), "empty"),
        (lambda: products().dict_search({"match": {}, "term": {}}), "exactly one"),
        (lambda: products().dict_search("title:lamp"), "exactly one"),
        (lambda: products().dsl_search("title:lamp"), "not a Search"),
        (lambda: products().query_string_search("lamp", limit=0), "positive integer"),
        (lambda: products().annotate_highlight("password"), "no field"),
    ],
)
def test_bad_input_is_one_line(call, named):
    with pytest.raises(WorkshopError) as caught:
        call()
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_unavailable_without_the_extension_and_says_so():
    from workshop.search import api

    reason = zombodb.unavailable_reason()
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'zombodb'")
        present = cur.fetchone() is not None
    assert (reason == "") == present
    if present:
        pytest.skip("the extension is present: the integration tests below run instead")
    assert "zombodb" in api.backends()["zombodb"]
    with pytest.raises(WorkshopError, match="ZomboDB is not available here") as caught:
        api.products().search("lamp", backend="zombodb")
    assert "\n" not in str(caught.value)
    with pytest.raises(WorkshopError):
        products().query_string_search("lamp", validate=True)


def test_the_backend_translates_the_parsed_query_over_the_tables_columns(documented_api):
    from workshop.search.documents import PRODUCT
    from workshop.search.query import parse

    qs = zombodb.search(products(), parse('lamp "frosted glass" -cheap'), PRODUCT)
    sql, params = qs.query.sql_with_params()
    import json

    body = json.loads(next(p for p in params if isinstance(p, str)))
    fields = body["bool"]["must"][0]["multi_match"]["fields"]
    assert fields == ["title^3", "brand^2", "description^1"]  # columns of shop_product, not the ES documents'
    assert body["bool"]["must_not"][0]["multi_match"]["query"] == "cheap"
    assert 1000 in params
    list(qs)


def test_integration_search_follows_the_transaction():
    """On the zombodb profile: the ZomboDB index sees an update inside the transaction."""
    if zombodb.unavailable_reason():
        pytest.skip(f"integration: {zombodb.unavailable_reason()}")
    zombodb.install()
    product = Product.objects.order_by("pk").first()
    Product.objects.filter(pk=product.pk).update(title="Zombolamp special")
    assert products().query_string_search("title:zombolamp").filter(pk=product.pk).exists()
