"""The parameters a question takes, checked before any SQL runs.

Bad input never reaches the database and never ends in a traceback: a reversed date range,
an unknown category or a non-numeric number is a one-line WorkshopError saying what to do;
a range with no orders in it is valid and gives an empty result (see `empty_reason`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from workshop.errors import WorkshopError


@dataclass(frozen=True)
class Params:
    """start/end: dates, both included (None: open). category: a category slug (None: all)."""

    start: dt.date | None = None
    end: dt.date | None = None
    category: str | None = None
    min_orders: int = 2
    top: int = 10

    @classmethod
    def parse(cls, start=None, end=None, category=None, min_orders=2, top=10) -> Params:
        params = cls(
            _date(start, "start"),
            _date(end, "end"),
            _category(category),
            _positive_int(min_orders, "min_orders"),
            _positive_int(top, "top"),
        )
        if params.start and params.end and params.start > params.end:
            raise WorkshopError(
                f"The date range is reversed: start {params.start} is after end {params.end}", "swap the two dates"
            )
        return params

    @property
    def start_at(self) -> dt.datetime | None:
        """The first instant of the range (UTC): `created_at >= start_at` can use the index."""
        return _midnight(self.start) if self.start else None

    @property
    def end_before(self) -> dt.datetime | None:
        """The first instant after the range: `created_at < end_before` includes the whole end day."""
        return _midnight(self.end + dt.timedelta(days=1)) if self.end else None

    def describe(self) -> str:
        span = f"{self.start or 'the beginning'} to {self.end or 'the end'}"
        return f"{span}, {'category ' + self.category if self.category else 'all categories'}"


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _date(value, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise WorkshopError(f"{name}={value!r} is not a date", "write it as YYYY-MM-DD, e.g. 2024-01-31") from None


def _positive_int(value, name: str) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        raise WorkshopError(f"{name}={value!r} is not a whole number", f"give {name} as a number such as 3") from None
    if isinstance(value, bool) or number < 1:
        raise WorkshopError(f"{name}={value!r} must be a whole number of at least 1", f"give {name} as 1, 2, 3...")
    return number


def _category(value) -> str | None:
    """None for all categories; otherwise a slug that exists (a name is accepted too)."""
    if value is None or str(value).strip() in ("", "all", "*"):
        return None
    from workshop.shop.models import Category

    wanted = str(value).strip()
    found = (
        Category.objects.filter(slug=wanted).values_list("slug", flat=True).first()
        or Category.objects.filter(name__iexact=wanted).values_list("slug", flat=True).first()
    )
    if found is None:
        known = ", ".join(Category.objects.order_by("slug").values_list("slug", flat=True))
        raise WorkshopError(f"Unknown category {wanted!r}", f"choose one of: {known}")
    return found


def empty_reason(params: Params) -> str:
    """Why a result is empty, in words an attendee can act on."""
    from django.db.models import Max, Min

    from workshop.shop.models import Order

    span = Order.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return "The shop has no orders at all: run workshop.setup() to load the dataset."
    data = f"the orders run from {span['first']:%Y-%m-%d} to {span['last']:%Y-%m-%d}"
    return f"No rows for {params.describe()}: {data}. Widen the date range or pick another category."
