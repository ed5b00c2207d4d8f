"""The two checks every flag definition passes before it is stored: a name that is a Python
identifier (so the stale-flag detector can find it in code) and a percentage in 0-100."""

from __future__ import annotations

import keyword
import math

from workshop.errors import WorkshopError

MAX_KEY_LENGTH = 100


def check_key(key: object) -> str:
    """The key itself, or a one-line WorkshopError saying what a valid key looks like."""
    if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key) or len(key) > MAX_KEY_LENGTH:
        raise WorkshopError(
            f"Flag name {key!r} is not a Python identifier",
            f"use letters, digits and underscores, not starting with a digit, at most "
            f"{MAX_KEY_LENGTH} characters (e.g. 'recommended_for_you')",
        )
    return key


def check_percentage(percentage: object) -> float:
    """The percentage as a float in [0, 100], or a one-line WorkshopError."""
    try:
        value = float(percentage)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(percentage, bool) or not 0 <= value <= 100:
        raise WorkshopError(
            f"Percentage {percentage!r} is outside 0-100",
            "give the share of users who get the flag, from 0 to 100 (e.g. 25 or 0.5)",
        )
    return value
