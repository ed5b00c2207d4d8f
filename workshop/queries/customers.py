"""A QuerySet of the shop's own words: how a team keeps query logic in one place.

Views, jobs and reports ask `Shopper.objects.active_since(...).with_spend().big_spenders()`
instead of repeating the same filters and annotations (and getting them subtly different). The
methods chain because each returns a queryset; `queries.models.Shopper` is a proxy of
`shop.Customer` (same table, no new column) whose manager is this QuerySet, so it is added
without touching the shop's model.

The string methods show Django's text functions computed in PostgreSQL: `Concat`, `Substr`,
`Upper`, `Lower`, `Replace`, `Length`, `StrIndex`.
"""

from __future__ import annotations

from workshop.django_setup import require_setup

require_setup()  # a notebook cell run before the set-up cell: say what to run

from django.db import models  # noqa: E402
from django.db.models import CharField, Count, F, Q, Sum, Value  # noqa: E402
from django.db.models.functions import Coalesce, Concat, Lower, Replace, Substr, Upper  # noqa: E402

from workshop.queries.questions import COUNTED, MONEY, ZERO  # noqa: E402


class ShopperQuerySet(models.QuerySet):
    # --- business rules, named once -----------------------------------------------------------

    def with_spend(self):
        """`spend`: what the customer paid for (paid, shipped, delivered orders), 0 if nothing."""
        return self.annotate(
            spend=Coalesce(
                Sum(
                    F("orders__items__quantity") * F("orders__items__unit_price"),
                    filter=Q(orders__status__in=COUNTED),
                    output_field=MONEY,
                ),
                ZERO,
            )
        )

    def big_spenders(self, at_least: int = 1000):
        return self.with_spend().filter(spend__gte=at_least).order_by("-spend", "id")

    def active_since(self, when):
        """Customers with at least one order placed on or after `when`."""
        return self.filter(orders__created_at__gte=when).distinct()

    # --- text, computed by the database ------------------------------------------------------

    def with_short_name(self):
        """`short_name`: "J. Smith", from the first letter of the first name and the last name."""
        return self.annotate(
            short_name=Concat(Upper(Substr("first_name", 1, 1)), Value(". "), "last_name", output_field=CharField())
        )

    def with_phone_digits(self):
        """`phone_digits`: the phone number without its separators, as a dialler wants it."""
        digits = F("phone")
        for separator in ("-", " ", ".", "(", ")", "+"):
            digits = Replace(digits, Value(separator), Value(""))
        return self.annotate(phone_digits=digits)

    def email_duplicates(self):
        """E-mail addresses that differ only by case (`Jo@x.com` and `jo@x.com`): one row each."""
        return (
            self.annotate(email_key=Lower("email"))
            .values("email_key")
            .annotate(accounts=Count("id"))
            .filter(accounts__gt=1)
            .order_by("email_key")
        )
