"""10,000 users at a rollout percentage: the workshop's hash bucketing next to waffle's
random roll without cookies (its real `_is_active_for_percent`, called on bare requests),
and what changed since the previous percentage."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from workshop.flags.rules import bucket, threshold

SIDE = 100  # a 100 x 100 grid: user ids 1..10,000

# cell states for the picture
OFF, ON, TURNED_ON, TURNED_OFF = 0, 1, 2, 3


def workshop_answers(key: str, percentage: float, users: int = SIDE * SIDE) -> np.ndarray:
    limit = threshold(percentage)
    return np.array([bucket(key, str(u)) < limit for u in range(1, users + 1)])


def waffle_answers(key: str, percentage: float, users: int = SIDE * SIDE) -> np.ndarray:
    """What waffle answers each user on a request without its cookie (a new device, a
    background job, a private window, an API client): a fresh random roll."""
    from decimal import Decimal

    from waffle.models import Flag

    flag = Flag(name=key, percent=Decimal(str(percentage)))  # unsaved: only its percentage rule runs
    return np.array(
        [bool(flag._is_active_for_percent(SimpleNamespace(COOKIES={}), read_only=False)) for _ in range(users)]
    )


def states(now: np.ndarray, before: np.ndarray | None) -> np.ndarray:
    if before is None:
        return now.astype(int)
    return np.select([now & ~before, ~now & before, now], [TURNED_ON, TURNED_OFF, ON], OFF)


def summary(now: np.ndarray, before: np.ndarray | None) -> str:
    if before is None:
        return f"{now.mean():.1%} on"
    return (
        f"{now.mean():.1%} on; since the last position {int((now & ~before).sum()):,} turned on, "
        f"{int((~now & before).sum()):,} turned off"
    )
