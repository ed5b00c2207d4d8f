"""Solutions to chapter 02's exercises (kept out of the notebook; `reveal(n)` shows one,
the tests run them all)."""

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


def solution_2() -> set[str]:
    """Personal data for whoever has the key (a) or other means to single people out: a voter
    roll (b), or anything at all once the copy is published (d). Not for a recipient who has
    neither and is prevented from getting them (c), under C-413/23 P."""
    return {"a", "b", "d"}


def solution_3(copy: str = "anon"):
    """One filter() per clue (each its own join on the reviews), then that customer's orders."""
    import datetime

    from workshop.anonymize.exercises import netflix_clues
    from workshop.shop.models import Customer, Order

    week = datetime.timedelta(days=7)
    suspects = Customer.objects.using(copy)
    for clue in netflix_clues(copy):
        suspects = suspects.filter(
            reviews__product_id=clue.product_id,
            reviews__created_at__date__range=(clue.around - week, clue.around + week),
        )
    colleague = suspects.distinct().get()
    return Order.objects.using(copy).filter(customer=colleague)


def solution_4() -> dict:
    """The shop's rules, plus the review bodies blanked: nobody vets free text row by row."""
    from workshop.anonymize.shop_rules import shop_rules
    from workshop.anonymize.strategies import Suppress
    from workshop.anonymize.target import merge_rules

    return merge_rules(shop_rules(), {"shop.Review": {"body": Suppress()}})
