"""Solutions to the notebook's exercises (not shown in the notebook; the tests run them)."""

from __future__ import annotations


def solution_1(schema: str = "public"):
    """Every generalization measured; keep those with at most 1% unique, then one that no
    finer step also satisfies."""
    import itertools

    from workshop.anonymize.exercises import finer_neighbours
    from workshop.anonymize.measure import BIRTH_LEVELS, Generalization, k_anonymity

    every = [Generalization(b, z, g) for b, z, g in itertools.product(BIRTH_LEVELS, range(6), (True, False))]
    share = {g: k_anonymity(g, schema=schema).unique_share for g in every}
    ok = {g for g, s in share.items() if s <= 0.01}
    minimal = [g for g in ok if not any(f in ok for f in finer_neighbours(g))]
    return min(minimal, key=lambda g: (BIRTH_LEVELS.index(g.birth), -g.zip_digits, not g.gender))


def solution_2() -> dict:
    from workshop.anonymize.shop_rules import shop_rules
    from workshop.anonymize.strategies import Suppress
    from workshop.anonymize.target import merge_rules

    return merge_rules(shop_rules(), {"shop.Review": {"body": Suppress()}})


solution_3 = "b"


def solution_4(copy: str = "anon") -> int:
    from workshop.anonymize import attacks
    from workshop.anonymize.exercises import _alias, netflix_target

    _, clues = netflix_target(copy=copy)
    found = attacks.find_by_reviews([(c.product_id, c.around) for c in clues], using=_alias(copy))
    return found.get().pk
