"""Anonymize and pseudonymize the shop database inside PostgreSQL ("Jane Doe" notebook).

    from workshop.anonymize import build, shop_rules
    report = build()                 # the shop's rules, into schema "anon"
    build(rules, target="anon2")     # your own {"app.Model": {"field": Strategy}}
    build(subset={"shop.Customer": Q(state="CA")}, target="partner")  # those customers and their rows

Modules: strategies (what replaces a value), rules (validation against the schema),
shop_rules (the shop's rules), engine (the set-based copy), pools (Faker pools),
sqlhash (HMAC-SHA256 and keyed permutations in plain SQL), keys (the secret key),
measure (k-anonymity, linkage attack, leak scan), dump (share the copy), subset (a part of
the copy that follows foreign keys), widgets,
scheduler (the build's jobs on a few connections), timeline (plot them), target (declared
quasi-identifiers and a privacy target reached by a lattice search with suppression),
alias (the copy as a Django database alias), attacks (voter roll, Netflix), dp (OpenDP),
coverage + cli (`workshop anonymize check`), exercises and solutions.
"""

from workshop.django_setup import lazy_exports

# Names load on first use (PEP 562), so `workshop bench` can import workshop.anonymize.bench
# without a configured Django, while a notebook cell that uses them before workshop.setup()
# gets the "run the set-up cell first" message instead of Django's ImproperlyConfigured.
_EXPORTS = {
    "build": "engine",
    "preview": "engine",
    "Report": "engine",
    "plot_timeline": "timeline",
    "Target": "target",
    "build_to_target": "target",
    "use_copy": "alias",
    **{
        name: "strategies"
        for name in (
            "Suppress",
            "Static",
            "Mask",
            "Fake",
            "Pseudonymize",
            "GeneralizeDate",
            "KeepPrefix",
            "Noise",
            "Shuffle",
        )
    },
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
