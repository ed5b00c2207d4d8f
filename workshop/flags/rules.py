"""How one flag answers for one user: pure functions on immutable data, no Django, no I/O.

Bucketing: blake2b(flag key, user) -> a bucket in 0..9999; the user is in a rollout of p%
when bucket < p * 100. The hash depends only on the two strings, so every process on every
machine agrees, raising p only adds users (their bucket was already below the old
threshold), and lowering p only removes users.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

BUCKETS = 10_000  # basis points: a rollout can be as fine as 0.01%


def bucket(flag_key: str, targeting_key: str) -> int:
    """The user's bucket for this flag, 0..9999. Salted by the flag key so that the users in
    one 10% rollout are not the same users as in every other 10% rollout."""
    return _bucket(flag_key.encode() + b"\x00", targeting_key.encode())


def _bucket(prefix: bytes, targeting: bytes) -> int:
    """bucket() with both halves already encoded (the hot path: definitions and contexts
    encode theirs once)."""
    return int.from_bytes(hashlib.blake2b(prefix + targeting, digest_size=8).digest(), "big") % BUCKETS


def threshold(percentage: float) -> int:
    """Buckets below this number are on."""
    return round(float(percentage) * (BUCKETS // 100))


@dataclass(frozen=True, slots=True)
class Definition:
    """One flag as every process holds it in memory (loaded from flags_flagdefinition)."""

    key: str
    enabled: bool = True
    everyone: bool = False
    percentage: float = 0.0
    user_ids: frozenset[int] = frozenset()
    group_ids: frozenset[int] = frozenset()
    fully_on_since: datetime.datetime | None = None
    threshold: int = field(init=False, compare=False)  # computed once here, not on every check
    hash_prefix: bytes = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", threshold(self.percentage))
        object.__setattr__(self, "hash_prefix", self.key.encode() + b"\x00")


class FlagContext:
    """Who is asking: a targeting key (the user id as text) for bucketing, the user id for
    user targeting and the user's group ids, loaded at most once and only if a flag with
    groups is evaluated (one query per request, never one per check)."""

    __slots__ = ("targeting_key", "targeting_bytes", "user_id", "_group_ids", "_load_groups")

    def __init__(
        self,
        targeting_key: str | None,
        user_id: int | None = None,
        group_ids: Iterable[int] | None = None,
        load_groups: Callable[[], Iterable[int]] | None = None,
    ):
        self.targeting_key = targeting_key
        self.targeting_bytes = targeting_key.encode() if targeting_key is not None else None
        self.user_id = user_id
        self._group_ids = frozenset(group_ids) if group_ids is not None else None
        self._load_groups = load_groups

    @classmethod
    def for_user_id(cls, user_id: int, group_ids: Iterable[int] = ()) -> FlagContext:
        """A user known by id only (a job's payload, or one of 100k simulated users)."""
        return cls(str(user_id), user_id, group_ids)

    @property
    def group_ids(self) -> frozenset[int]:
        if self._group_ids is None:
            self._group_ids = frozenset(self._load_groups()) if self._load_groups else frozenset()
        return self._group_ids

    def __repr__(self) -> str:
        return f"FlagContext(targeting_key={self.targeting_key!r})"


ANONYMOUS = FlagContext(None)


def evaluate(definition: Definition, context: FlagContext) -> bool:
    """Kill switch, everyone, listed users, listed groups, then the sticky percentage."""
    if not definition.enabled:
        return False
    limit = definition.threshold
    if definition.everyone or limit >= BUCKETS:
        return True
    if definition.user_ids and context.user_id in definition.user_ids:
        return True
    if definition.group_ids and not definition.group_ids.isdisjoint(context.group_ids):
        return True
    if limit <= 0 or context.targeting_bytes is None:
        return False  # anonymous visitors have nothing stable to hash: only full rollouts reach them
    return _bucket(definition.hash_prefix, context.targeting_bytes) < limit


# Which rule decided an answer (decide()); the OpenFeature provider maps them to its reasons.
DISABLED, EVERYONE, USER, GROUP, NO_ROLLOUT, NO_BUCKET, SPLIT = (
    "disabled",
    "everyone",
    "user",
    "group",
    "no rollout",
    "no bucket",  # an anonymous visitor, below a full rollout
    "split",
)


def decide(definition: Definition, context: FlagContext) -> tuple[bool, str]:
    """evaluate()'s answer and the rule that gave it (the same order; evaluate() stays the
    hot path without the second value)."""
    if not definition.enabled:
        return False, DISABLED
    limit = definition.threshold
    if definition.everyone or limit >= BUCKETS:
        return True, EVERYONE
    if definition.user_ids and context.user_id in definition.user_ids:
        return True, USER
    if definition.group_ids and not definition.group_ids.isdisjoint(context.group_ids):
        return True, GROUP
    if limit <= 0:
        return False, NO_ROLLOUT
    if context.targeting_bytes is None:
        return False, NO_BUCKET
    return _bucket(definition.hash_prefix, context.targeting_bytes) < limit, SPLIT


def reason(definition: Definition | None, context: FlagContext) -> str:
    """Why evaluate() answered what it did (shown in the widgets and the OpenFeature provider)."""
    if definition is None:
        return "unknown flag"
    if not definition.enabled:
        return "kill switch off"
    if definition.everyone or definition.threshold >= BUCKETS:
        return "on for everyone"
    if definition.user_ids and context.user_id in definition.user_ids:
        return "user listed"
    if definition.group_ids and not definition.group_ids.isdisjoint(context.group_ids):
        return "group listed"
    if context.targeting_key is None:
        return "anonymous: no bucket"
    return f"bucket {bucket(definition.key, context.targeting_key)} vs threshold {definition.threshold}"
