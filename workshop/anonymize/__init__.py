"""Anonymize and pseudonymize the shop database inside PostgreSQL ("Jane Doe" notebook).

    from workshop.anonymize import build, shop_rules
    report = build()                 # the shop's rules, into schema "anon"
    build(rules, target="anon2")     # your own {"app.Model": {"field": Strategy}}

Modules: strategies (what replaces a value), rules (validation against the schema),
shop_rules (the shop's rules), engine (the set-based copy), pools (Faker pools),
sqlhash (HMAC-SHA256 and keyed permutations in plain SQL), keys (the secret key),
measure (k-anonymity, linkage attack, leak scan), dump (share the copy), widgets.
"""

from workshop.django_setup import require_setup

require_setup()  # imported before workshop.setup(): say which cell to run

from workshop.anonymize.engine import Report, build, preview
from workshop.anonymize.strategies import (Fake, GeneralizeDate, KeepPrefix, Mask, Noise, Pseudonymize, Shuffle,
                                           Static, Suppress)

__all__ = ["build", "preview", "Report", "Suppress", "Static", "Mask", "Fake", "Pseudonymize", "GeneralizeDate",
           "KeepPrefix", "Noise", "Shuffle"]
