"""Solutions to chapter 05's exercises: `reveal(n)` shows one; the tests check them with their exercise's check."""

from __future__ import annotations


def solution_1():
    from workshop.search import api

    return (
        api.products()
        .search("lamp OR light -desk")  # the search's own ranking stays: best first
        .filter(category__name="Lighting", price__lt=100, is_active=True)
    )


def solution_2():
    def action_for(event_id, kind, object_id, op, payload, prefix):
        action = {
            "_op_type": "index" if op == "index" else "delete",
            "_index": f"{prefix}-{kind}",
            "_id": str(object_id),  # the row's id: a replay overwrites, never duplicates
            "version": event_id,  # outbox ids only grow: Elasticsearch refuses anything older
            "version_type": "external",
        }
        if op == "index":
            action["_source"] = payload
        return action

    return action_for


def solution_3():
    def trigrams(word: str) -> set[str]:
        padded = f"  {word.lower()} "
        return {padded[i : i + 3] for i in range(len(padded) - 2)}

    def similarity(a: str, b: str) -> float:
        ta, tb = trigrams(a), trigrams(b)
        return len(ta & tb) / max(len(ta | tb), 1)

    return similarity
