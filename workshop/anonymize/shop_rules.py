"""The rules for the workshop's shop: what is personal in each model and what replaces it.

Quasi-identifiers (birth date, ZIP) are generalized rather than faked: the copy stays
useful for statistics (age structure, regions) while no record stands out.
"""

from __future__ import annotations

from workshop.anonymize.strategies import Fake, GeneralizeDate, KeepPrefix, Noise, Pseudonymize, Static

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
