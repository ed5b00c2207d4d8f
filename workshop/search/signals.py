"""Dual writes from Django signals: the common approach, kept to show its problems.

post_save / post_delete index the document right away, from inside the transaction:
- a rolled-back transaction leaves its document in Elasticsearch;
- two concurrent updates of one product may reach Elasticsearch in the other order (no
  version), leaving the older text;
- Elasticsearch down: the handler logs and moves on (raising would break the shop's
  writes), and the change is lost for good;
- queryset.update(), bulk_create(), raw SQL and COPY send no signal at all.
Saving a category (or moving a product to another category) re-sends the documents that
copy its name, as a careful signals implementation does: the drift left is the approach's.
(transaction.on_commit would fix the first problem, not the others: a crash between the
commit and the callback loses the change.)"""

from __future__ import annotations

import logging

from workshop.django_setup import require_setup
from workshop.search import documents
from workshop.search.documents import KINDS

require_setup()

from django.db.models.signals import post_delete, post_save, pre_save  # noqa: E402

log = logging.getLogger(__name__)
_state: dict = {"es": None, "prefix": None, "lost": 0}


def _on_save(sender, instance, **_kw) -> None:
    kind = KINDS["product" if sender._meta.label == "shop.Product" else "review"]
    es, prefix = _state["es"], _state["prefix"]
    if es is None:
        return
    try:
        es.index(index=f"{prefix}-{kind.name}", id=str(instance.pk), document=documents.document(kind, instance))
    except Exception as exc:  # noqa: BLE001 (the typical "never break a save" handler: the change is lost, quietly)
        _state["lost"] += 1
        log.info("search: could not index %s %s: %s", kind.name, instance.pk, exc)


def _on_delete(sender, instance, **_kw) -> None:
    kind = KINDS["product" if sender._meta.label == "shop.Product" else "review"]
    es, prefix = _state["es"], _state["prefix"]
    if es is None:
        return
    try:
        es.delete(index=f"{prefix}-{kind.name}", id=str(instance.pk))
    except Exception as exc:  # noqa: BLE001
        _state["lost"] += 1
        log.info("search: could not delete %s %s: %s", kind.name, instance.pk, exc)


def _joined_models() -> dict:
    """{model: [(kind, dependency)]}: the models whose columns other kinds' documents copy."""
    from django.apps import apps

    by_table = {m._meta.db_table: m for m in apps.get_models()}
    found: dict = {}
    for kind in KINDS.values():
        for dependency in kind.dependencies:
            found.setdefault(by_table[dependency.table], []).append((kind, dependency))
    return found


def _before_joined_save(sender, instance, **_kw) -> None:
    """Remember the copied columns as stored (one query), to compare after the save."""
    columns = {c for _kind, dep in _joined_models()[sender] for c in dep.columns}
    instance._search_stored = sender.objects.filter(pk=instance.pk).values(*columns).first() if instance.pk else None


def _on_joined_save(sender, instance, **_kw) -> None:
    from django.db import connection
    from elasticsearch.helpers import bulk

    es, prefix, stored = _state["es"], _state["prefix"], getattr(instance, "_search_stored", None)
    if es is None or stored is None:
        return
    for kind, dep in _joined_models()[sender]:
        if all(stored[c] == getattr(instance, c) for c in dep.columns):
            continue
        with connection.cursor() as cur:
            cur.execute(
                f"WITH changed AS (SELECT %s::bigint AS id) {documents.documents_sql(kind)} "
                f"WHERE n.id IN ({dep.affected_sql})",
                [instance.pk],
            )
            rows = cur.fetchall()
        actions = [{"_index": f"{prefix}-{kind.name}", "_id": str(pk), "_source": _json(doc)} for pk, doc in rows]
        try:
            bulk(es, actions)
        except Exception as exc:  # noqa: BLE001 (as the other handlers: the changes are lost, quietly)
            _state["lost"] += len(actions)
            log.info(
                "search: could not re-index %s %ss after %s %s: %s", len(actions), kind.name, sender, instance.pk, exc
            )


def _json(doc):
    import json

    return json.loads(doc) if isinstance(doc, str) else doc  # Django's cursor hands jsonb over as text


def connect(es, prefix: str) -> None:
    """Route saves and deletes of products and reviews, and saves of what their documents
    copy (the category), to the `prefix` indexes (idempotent)."""
    _state.update(es=es, prefix=prefix)
    for kind in KINDS.values():
        model = kind.model()
        post_save.connect(_on_save, sender=model, dispatch_uid=f"workshop.search.signals.save.{kind.name}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"workshop.search.signals.delete.{kind.name}")
    for model in _joined_models():
        uid = f"workshop.search.signals.joined.{model._meta.label}"
        pre_save.connect(_before_joined_save, sender=model, dispatch_uid=uid)
        post_save.connect(_on_joined_save, sender=model, dispatch_uid=uid)


def disconnect() -> None:
    for kind in KINDS.values():
        model = kind.model()
        post_save.disconnect(sender=model, dispatch_uid=f"workshop.search.signals.save.{kind.name}")
        post_delete.disconnect(sender=model, dispatch_uid=f"workshop.search.signals.delete.{kind.name}")
    for model in _joined_models():
        uid = f"workshop.search.signals.joined.{model._meta.label}"
        pre_save.disconnect(sender=model, dispatch_uid=uid)
        post_save.disconnect(sender=model, dispatch_uid=uid)
    _state.update(es=None, prefix=None)


def connected() -> bool:
    return _state["es"] is not None


def lost() -> int:
    """Changes the handlers could not send (Elasticsearch away): gone for good."""
    return _state["lost"]


def index_all(es, prefix: str, chunk: int = 2000) -> int:
    """The initial load a signals-based project runs once (a management command, usually)."""
    from elasticsearch.helpers import bulk

    total = 0
    for kind in KINDS.values():
        from workshop.search.consistency import database_documents

        rows = database_documents(kind).items()
        actions = ({"_index": f"{prefix}-{kind.name}", "_id": str(i), "_source": doc} for i, doc in rows)
        done, _errors = bulk(es, actions, chunk_size=chunk)
        total += done
    return total
