"""Expressions Django does not ship, written the way Django's own are.

* `WidthBucket`: PostgreSQL's `width_bucket(value, low, high, buckets)`, a custom `Func`
  (histogram buckets computed by the database).
* `Median`: `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`, a custom `Aggregate`
  (Django has Avg but no median; PostgreSQL's is an ordered-set aggregate).
* `EmailDomain`: a custom `Transform`, so `email__domain="example.com"` works in filters,
  values() and order_by() like any built-in lookup.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Aggregate, FloatField, Func, IntegerField, Transform, Value


class WidthBucket(Func):
    """Bucket number 1..buckets of `expression` over [low, high); 0 below, buckets+1 above."""

    function = "WIDTH_BUCKET"
    output_field = IntegerField()

    def __init__(self, expression, low, high, buckets: int, **extra):
        super().__init__(expression, Value(low), Value(high), Value(int(buckets)), **extra)


class Median(Aggregate):
    """The median with linear interpolation (pandas' `median()` gives the same)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False


class EmailDomain(Transform):
    """The part after the @, lower-cased: `Customer.objects.filter(email__domain="gmail.com")`."""

    lookup_name = "domain"
    template = "LOWER(SPLIT_PART(%(expressions)s, '@', 2))"
    output_field = models.CharField()


def register() -> None:
    """Make `__domain` available on every EmailField (called from the app's ready())."""
    models.EmailField.register_lookup(EmailDomain)


class WindowSum(Func):
    """`SUM(x)` as a plain window-compatible function. Django refuses `Window(Sum("revenue"))`
    when `revenue` is itself an aggregate ("'revenue' is an aggregate"); PostgreSQL happily
    runs `SUM(SUM(...)) OVER (ORDER BY month)` (a running total) or `OVER (PARTITION BY ...)`
    (a total per group of already grouped rows), so this Func says exactly that."""

    function = "SUM"
    window_compatible = True
