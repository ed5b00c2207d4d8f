"""Chapter 05's reset: relays stopped, signal handlers disconnected, every search trigger
dropped, the outbox, vectors and vocabulary emptied, this database's Elasticsearch indexes
deleted and its ZomboDB indexes dropped. The next `install()` builds what it needs again."""

from __future__ import annotations

CHAPTER = "05"


def reset() -> list[str]:
    from django.db import connection

    from workshop.lessons.app_tables import truncate_app
    from workshop.search import outbox, pg, signals

    done = []
    stopped = outbox.stop()
    if stopped:
        done.append(f"{stopped} relay(s) stopped")
    if signals.connected():
        signals.disconnect()
        done.append("signal handlers disconnected")
    outbox.uninstall()
    pg.uninstall()
    done.append("search triggers dropped")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'zombodb'"
        )
        for (index,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {index}")  # a regclass's text is already quoted
            done.append(f"ZomboDB index {index} dropped")
    done.append(f"emptied {', '.join(truncate_app('search'))}")
    done.append(_drop_es_indexes())
    return done


def _drop_es_indexes() -> str:
    from workshop.search import api
    from workshop.search import es as es_side
    from workshop.services import elasticsearch

    found = elasticsearch.find()
    if not found.available:
        return "no Elasticsearch here: no index to delete"
    es = es_side.client(found.url)
    for backend in api.ES_BACKENDS:
        es_side.drop_indexes(es, api.prefix(backend))
    return f"Elasticsearch indexes of {', '.join(api.ES_BACKENDS)} deleted"
