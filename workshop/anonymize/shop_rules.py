"""The rules for the workshop's shop: what is personal in each model and what replaces it.

Quasi-identifiers (birth date, ZIP) are generalized rather than faked: the copy stays
useful for statistics (age structure, regions) while no record stands out.
"""

from __future__ import annotations

from workshop.anonymize.strategies import Fake, GeneralizeDate, KeepPrefix, Noise, Pseudonymize, Static, Suppress

# The same templates on every table: one email or phone gets one pseudonym everywhere.
# Emails and phones are pseudonymized into ranges no real value uses (example.com is
# reserved; no North American area code starts with 0), so a pseudonym can never be
# somebody's real address or number and the engine's collision check finds nothing to
# re-draw. National ids keep their 9xx shape through a permutation: the ~1% of them
# that land on an existing id are re-drawn (collisions.py).
EMAIL = Pseudonymize("{hex:16}@example.com")
PHONE = Pseudonymize("(0{digits:2}) {digits:3}-{digits:4}")
NATIONAL_ID = Pseudonymize("9{digits:2}-{digits:2}-{digits:4}")


def shop_rules() -> dict:
    return {
        "shop.Customer": {
            "first_name": Fake("first_name"),
            "last_name": Fake("last_name"),
            "email": EMAIL,
            "phone": PHONE,
            "national_id": NATIONAL_ID,
            "birth_date": GeneralizeDate(years=1),
            "street_address": Fake("street_address"),
            # Finer than the 3-digit ZIP kept below (a small town is a handful of people); the
            # state and the ZIP prefix keep the region for statistics.
            "city": Suppress(),
            "zip_code": KeepPrefix(3),
            "created_at": Noise(3),
        },
        "auth.User": {
            "first_name": Fake("first_name"),
            "last_name": Fake("last_name"),
            "email": EMAIL,
            "username": Pseudonymize("staff-{hex:16}"),
            "password": Static("!"),  # an unusable password: nobody logs in to a shared copy
        },
    }


def naive_rules() -> dict:
    """Names replaced and nothing else: what the linkage attack defeats."""
    return {"shop.Customer": {"first_name": Fake("first_name"), "last_name": Fake("last_name")}}


# Every other field of every model, with the reason it may be copied as it is. `workshop
# anonymize check` fails on any field that is neither here nor in a rule (coverage.py).
QI = "quasi-identifier: kept coarse enough by the privacy target (target.py) and measured"
CATALOG = "the shop's catalogue: no personal data"
SAFE: dict = {
    "shop.Customer": {"gender": QI, "state": QI},
    "shop.Category": {"name": CATALOG, "slug": CATALOG},
    "shop.Product": {
        f: CATALOG for f in ("sku", "title", "description", "brand", "price", "stock", "is_active", "created_at")
    },
    "shop.Order": {
        "status": "order status: no personal data",
        "created_at": "transactional quasi-identifier: measured by the Netflix-style attack (attacks.py)",
    },
    "shop.OrderItem": {"quantity": "basket facts, measured with the orders", "unit_price": CATALOG},
    "shop.Review": {
        "rating": "transactional quasi-identifier with the product: measured by attacks.netflix_attack",
        "created_at": "transactional quasi-identifier: measured by attacks.netflix_attack (tighten with Noise)",
        "title": "free text: checked by the leak scan for names and emails",
        "body": "free text: checked by the leak scan for names and emails",
    },
    "shop.Dataset": "bookkeeping of the generated dataset",
    "auth.User": {
        "last_login": "staff activity times, not customers",
        "date_joined": "staff activity times, not customers",
        "is_superuser": "a permission flag",
        "is_staff": "a permission flag",
        "is_active": "a permission flag",
    },
    "auth.Group": "staff group names",
    "auth.Permission": "Django's permission catalogue",
    "contenttypes.ContentType": "Django's model catalogue",
    # Other chapters' models (a model of an app that is not installed is skipped).
    "waffle.Flag": "feature-flag configuration",
    "waffle.Switch": "feature-flag configuration",
    "waffle.Sample": "feature-flag configuration",
    "flags.FlagDefinition": "feature-flag configuration",
    "search.OutboxEvent": "search-index queue derived from products and reviews (same exposure as shop.Review.body)",
    "search.ProductVector": "search index of the catalogue",
    "search.Lexeme": "search vocabulary of the catalogue and reviews",
    "search.ReviewVector": "search index derived from reviews (same exposure as shop.Review.body)",
    "search.DeadLetter": "search-index events the relay gave up on: the same payloads as search.OutboxEvent",
    "queries.InvoiceLine": "derived order figures",
    "queries.OrderTotal": "derived order figures",
}


def shop_target():
    """The shop's privacy target: k = 5 over the declared quasi-identifiers, at most 2% suppressed."""
    from workshop.anonymize.target import Target

    return Target(k=5, max_suppressed=0.02)
