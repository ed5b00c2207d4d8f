"""Solutions of the notebook's exercises (kept apart; the notebook does not show them)."""

from __future__ import annotations

import hashlib


def in_rollout(flag_key: str, user_id: int, percentage: float) -> bool:
    """Exercise 1: a bucket from a hash of (flag key, user), compared with the percentage."""
    digest = hashlib.blake2b(f"{flag_key}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < round(percentage * 100)


STALE = {"ex_free_shipping_banner", "ex_holiday_theme"}  # exercise 2

PHASES = ["expand", "dual write", "backfill", "read new", "contract"]  # exercise 3
