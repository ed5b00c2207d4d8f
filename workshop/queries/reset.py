"""Chapter 04's reset: the redundant-column demo's tables emptied (the stale-column demo rolls
its own writes back; what learners saved by hand goes here)."""

from __future__ import annotations

CHAPTER = "04"


def reset() -> list[str]:
    from workshop.lessons.app_tables import truncate_app

    return [f"emptied {', '.join(truncate_app('queries'))}"]
