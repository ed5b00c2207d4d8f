"""Does the search side agree with the database? Document by document, per backend."""

from __future__ import annotations

import json
from dataclasses import dataclass

from workshop.django_setup import require_setup
from workshop.search import documents
from workshop.search.documents import KINDS

require_setup()

from django.db import connection  # noqa: E402


@dataclass(frozen=True)
class Disagreements:
    missing: int  # in the database, not searchable
    extra: int  # searchable, not in the database (a rolled-back or deleted row)
    stale: int  # searchable with other content than the database holds

    @property
    def total(self) -> int:
        return self.missing + self.extra + self.stale


def database_documents(kind) -> dict[int, dict]:
    with connection.cursor() as cur:
        cur.execute(documents.documents_sql(kind))
        # Django's connection hands jsonb over as text (JSONField decodes it itself)
        return {pk: json.loads(doc) if isinstance(doc, str) else doc for pk, doc in cur.fetchall()}


def compare_elasticsearch(es, prefix: str) -> Disagreements:
    from workshop.search import es as es_side

    missing = extra = stale = 0
    for kind in KINDS.values():
        truth = database_documents(kind)
        held = es_side.all_documents(es, prefix, kind)
        missing += len(truth.keys() - held.keys())
        extra += len(held.keys() - truth.keys())
        for pk in truth.keys() & held.keys():
            doc = {k: v for k, v in held[pk].items() if k != "version"}
            if doc != truth[pk]:
                stale += 1
    return Disagreements(missing, extra, stale)


def compare_postgres() -> Disagreements:
    """Vectors against the ones the rows would give now."""
    from workshop.search.pg import VECTOR_SQL

    missing = extra = stale = 0
    with connection.cursor() as cur:
        for kind in KINDS.values():
            table, key, vector = VECTOR_SQL[kind.name]
            cur.execute(
                f"SELECT count(*) FILTER (WHERE v.{key} IS NULL), "
                f"count(*) FILTER (WHERE v.document IS DISTINCT FROM {vector}) "
                f"FROM {kind.table} n {kind.payload_joins} LEFT JOIN {table} v ON v.{key} = n.id"
            )
            m, s = cur.fetchone()
            cur.execute(
                f"SELECT count(*) FROM {table} v WHERE NOT EXISTS (SELECT 1 FROM {kind.table} n WHERE n.id = v.{key})"
            )
            missing, stale, extra = missing + m, stale + s - m, extra + cur.fetchone()[0]
    return Disagreements(missing, extra, stale)
