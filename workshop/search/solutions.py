"""Solutions to the notebook's exercises (kept apart; the notebook does not show them)."""

from __future__ import annotations


def affordable_lighting():
    from workshop.search import api

    return api.products().search("lamp OR light").filter(category__name="Lighting", price__lt=100)


def action_for(event_id, kind, object_id, op, payload, prefix):
    action = {
        "_op_type": "index" if op == "index" else "delete",
        "_index": f"{prefix}-{kind}",
        "_id": str(object_id),
        "version": event_id,
        "version_type": "external",
    }
    if op == "index":
        action["_source"] = payload
    return action


def trigrams(word: str) -> set[str]:
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / max(len(ta | tb), 1)
