"""Solutions to chapter 03's exercises: `reveal(n)` shows one; the tests check them with their exercise's check."""

from __future__ import annotations

import hashlib


def solution_1():
    def in_rollout(flag_key: str, user_id: int, percentage: float) -> bool:
        # The same bytes give the same digest in every process: the bucket is sticky everywhere.
        digest = hashlib.blake2b(f"{flag_key}:{user_id}".encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % 10_000  # 0..9999
        return bucket < round(percentage * 100)

    return in_rollout


def solution_2() -> set[str]:
    from workshop.flags import stale
    from workshop.flags.exercises import stale_exercise
    from workshop.flags.models import FlagDefinition

    report = stale.check(stale_exercise(), days=30)
    suspects = set(report.unused) | set(report.fully_rolled_out)
    described = dict(FlagDefinition.objects.filter(key__startswith="ex_").values_list("key", "description"))
    # The detector's suspects, less the flags whose description says they are meant to stay.
    return {key for key in suspects if key in described and not described[key].startswith("permanent")}


def solution_3() -> str:
    # B add the column, D dual writes on, E backfill, G NOT NULL (any time after E),
    # A read the new column, F stop writing the old one, C drop it.
    return "BDEGAFC"
