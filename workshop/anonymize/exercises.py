"""Chapter 02's exercises, declared once (workshop.lessons): the finest generalization,
who the copy is personal data for, the Netflix attack, and (later) planted leaks. Each checker
recomputes what it needs from the database; the solutions are in solutions.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from workshop.anonymize import solutions
from workshop.lessons import Exercise, Exercises, Wrong

PLANTED_SCHEMA = "planted"


# --- 1. the finest generalization with at most 1% unique ------------------------------------


def finer_neighbours(g):
    """The generalizations one step finer than g (birth one level finer, one more ZIP digit, gender back)."""
    from workshop.anonymize.measure import BIRTH_LEVELS, Generalization

    out = []
    level = BIRTH_LEVELS.index(g.birth)
    if level > 0:
        out.append(Generalization(BIRTH_LEVELS[level - 1], g.zip_digits, g.gender))
    if g.zip_digits < 5:
        out.append(Generalization(g.birth, g.zip_digits + 1, g.gender))
    if not g.gender:
        out.append(Generalization(g.birth, g.zip_digits, True))
    return out


def _check_1(answer, schema: str = "public") -> None:
    from workshop.anonymize.measure import Generalization, k_anonymity

    if not isinstance(answer, Generalization):
        raise Wrong("the answer is a Generalization(birth, zip_digits, gender), like the ones in section 1")
    share = k_anonymity(answer, schema=schema).unique_share
    if share > 0.01:
        raise Wrong(f"{answer.describe()} leaves {share:.1%} unique: coarsen the birth date or the ZIP")
    for finer in finer_neighbours(answer):
        finer_share = k_anonymity(finer, schema=schema).unique_share
        if finer_share <= 0.01:
            raise Wrong(
                f"{answer.describe()} is coarser than needed: one step finer also leaves at most 1% unique; "
                "keep more detail"
            )


# --- 4. names and emails planted in review bodies -------------------------------------------


def plant_leaks(source: str = "public", into: str = PLANTED_SCHEMA, every: int = 40) -> int:
    """A copy of schema `source` in schema `into` where one review in `every` ends with its
    author's email and another with their full name, as people write. Returns the reviews
    changed. The dataset itself is not touched."""
    from psycopg import sql

    from workshop.anonymize import db, ownership
    from workshop.anonymize.measure import _conn
    from workshop.errors import WorkshopError

    db.check_schema_name(source, "Source")
    if db.check_schema_name(into, "Target") in (source, "public"):
        raise WorkshopError(f"Cannot plant into schema {into!r}", f"use a schema of its own, e.g. {PLANTED_SCHEMA!r}")
    with _conn(None) as c:
        with c.transaction():
            # Replaced only when this chapter made it (the marker) and nothing of someone
            # else's depends on it: never someone's own schema.
            ownership.require_marked(c, into, "plant_leaks", absent_ok=True)
            ownership.drop_marked(c, into)
            c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(into)))
            c.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(into),
                    sql.Literal(
                        f"copy of {source} with leaks planted for exercise 2, not anonymized, {ownership.MARKER}"
                    ),
                )
            )
            tables = [
                t for (t,) in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [source])
            ]
            for t in tables:
                c.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(into, t), sql.Identifier(source, t)
                    )
                )
                names = [
                    n
                    for (n,) in c.execute(  # generated columns compute themselves
                        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                        "AND attgenerated = '' ORDER BY attnum",
                        [f"{_quote(source)}.{_quote(t)}"],
                    )
                ]
                columns = sql.SQL(", ").join(map(sql.Identifier, names))
                c.execute(
                    sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                        sql.Identifier(into, t), columns, columns, sql.Identifier(source, t)
                    )
                )
            return c.execute(
                sql.SQL(
                    "UPDATE {r} AS r SET body = r.body || CASE WHEN r.id % {n} = 0 THEN ' Questions? Write to me at ' || c.email "
                    "ELSE ' - ' || c.first_name || ' ' || c.last_name END FROM {c} AS c "
                    "WHERE c.id = r.customer_id AND (r.id % {n} = 0 OR r.id % {n} = {half})"
                ).format(
                    r=sql.Identifier(into, "shop_review"),
                    c=sql.Identifier(into, "shop_customer"),
                    n=sql.Literal(every),
                    half=sql.Literal(every // 2),
                )
            ).rowcount


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _require_planted(source: str) -> None:
    from workshop.anonymize.measure import _conn
    from workshop.errors import WorkshopError

    with _conn(None) as c:
        planted = c.execute("SELECT to_regclass(%s)", [f"{_quote(source)}.shop_review"]).fetchone()[0]
    if planted is None:
        raise WorkshopError(
            f"The planted reviews (schema {source!r}) are not there yet",
            "run the cell of exercise 4 that calls exercises.plant_leaks(), then check again",
        )


def _check_4(answer, target: str = "anon_ex2", source: str = PLANTED_SCHEMA) -> None:
    """Build `answer` from the planted source, then scan: no email or full name may be left."""
    from workshop.anonymize import build, measure
    from workshop.errors import WorkshopError

    if not isinstance(answer, dict) or not answer:
        raise Wrong("the answer is a dict of rules, {'app.Model': {'field': Strategy}}, like shop_rules()")
    _require_planted(source)
    _require_the_shops_rules(answer)
    try:
        build(answer, target=target, source=source, progress=False)
    except WorkshopError as exc:
        raise Wrong(f"build() refused the rules ({exc.problem}); {exc.fix}") from None
    found = measure.free_text_leaks(target, source=source, rules=answer)
    if len(found):
        raise Wrong(
            f"{int(found['rows'].sum())} emails or full names of customers are still in the copy's "
            f"free text ({', '.join(sorted(set(found['found in'])))}): add a rule that blanks that field"
        )
    scan = measure.leak_scan(answer, target=target, source=source)
    if measure.leaks(scan):
        raise Wrong(f"{measure.leaks(scan)} original values survive in rewritten columns: keep the shop's rules")


def _require_the_shops_rules(answer: dict) -> None:
    """The exercise adds a rule to the shop's: every field they rewrite must still be rewritten,
    a personal one by a strategy that leaves no original value. Checked before the build, so
    the verdict names the field the copy would keep (the free-text scan alone would point at
    the customers' email and address columns, and a rule blanking just those passed while
    names, phones and national ids were copied as they are)."""
    from workshop.anonymize.shop_rules import shop_rules
    from workshop.anonymize.strategies import Strategy

    for label, fields in shop_rules().items():
        given = answer.get(label)
        for field, strategy in fields.items():
            chosen = given.get(field) if isinstance(given, dict) else None
            if chosen is None:
                raise Wrong(
                    f"the copy would keep {label}.{field} as it is, which the shop's rules rewrite: "
                    "start from shop_rules() and add your rule"
                )
            # Anything but a strategy is build()'s to refuse, with the validator's own words.
            if strategy.identifying and isinstance(chosen, Strategy) and not chosen.identifying:
                raise Wrong(
                    f"{label}.{field} is personal, and your rule for it leaves the original values in the copy: "
                    "keep the shop's rule for it"
                )


# --- 2. who is the copy personal data for? --------------------------------------------------

# The `anon` copy (section 3): names faked, emails, phones and national ids pseudonymized with
# our key; birth year, 3-digit ZIP, gender, order and review dates kept.
RECIPIENTS = {
    "a": "our own analysts, on the server where the pseudonymization key is kept",
    "b": "a contractor without the key who also holds the town's public voter roll "
    "(name, birth date, ZIP, gender: the voter-roll attacker of section 7)",
    "c": "a contractor without the key who receives only `anon_k` (k = 5, every review detached from its "
    "author) and nothing else, under a contract and access controls that forbid and prevent combining it "
    "with any other data",
    "d": "anyone: the copy published on the web",
}
# What decides, per recipient: their own means of re-identification (C-413/23 P, Recital 26).
# a: the key reverses the pseudonyms; b: the voter roll cross-checks; d: a published copy
# reaches those who have either. c has neither and is prevented from getting them.
_PERSONAL_FOR = {"a", "b", "d"}
# The verdicts say which way an answer errs, never which recipient: a reason per recipient let
# a learner walk from set() to the answer by reading four verdicts (issue 21).
_LEFT_OUT = (
    "for at least one recipient you left out, the copy stays personal data: with what they hold, "
    "they have means reasonably likely to be used to re-identify someone (Recital 26)"
)
_COUNTED = (
    "for at least one recipient you chose, the copy is not personal data: pseudonymised data is not "
    "personal data for every recipient automatically (C-413/23 P); look at what each one can actually do"
)


def _letters(answer) -> set[str]:
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__iter__"):
        raise Wrong("the answer is a set of letters, one per recipient for whom the copy is personal data")
    letters = set()
    for item in answer:
        if not isinstance(item, str) or item.strip().lower() not in RECIPIENTS:
            raise Wrong(f"{item!r} is not one of the recipients {', '.join(map(repr, RECIPIENTS))}")
        letters.add(item.strip().lower())
    return letters


def _check_2(answer) -> None:
    letters = _letters(answer)
    if _PERSONAL_FOR - letters:
        raise Wrong(_LEFT_OUT)
    if letters - _PERSONAL_FOR:
        raise Wrong(_COUNTED)


# --- 3. the Netflix attack -----------------------------------------------------------------


@dataclass(frozen=True)
class Clue:
    product_id: int
    product: str
    around: datetime.date  # within a week of the real date


def _targets(source: str = "public") -> dict[int, list[Clue]]:
    """Customers with three reviews or more, each with the clues a colleague might know: the
    products of their first three reviews and each date give or take a few days."""
    from django.db.models import Count

    from workshop.django_setup import require_setup

    require_setup()  # the ORM needs the set-up cell
    from workshop.shop.models import Review

    database = "default" if source == "public" else _alias(source)
    reviewers = (
        Review.objects.using(database)
        .values("customer_id")
        .annotate(n=Count("id"))
        .filter(n__gte=3)
        .values("customer_id")
    )
    rows = (
        Review.objects.using(database)
        .filter(customer_id__in=reviewers)
        .order_by("customer_id", "id")
        .values_list("customer_id", "product_id", "product__title", "created_at")
    )
    by_customer: dict[int, list[Clue]] = {}
    for customer, product_id, title, created in rows:
        clues = by_customer.setdefault(customer, [])
        if len(clues) < 3:
            shift = datetime.timedelta(days=(customer + product_id) % 7 - 3)  # "around": off by up to 3 days
            clues.append(Clue(product_id, title, created.date() + shift))
    return by_customer


def _netflix_target(copy: str = "anon") -> tuple[int, list[Clue]]:
    """The first customer, in a fixed pseudo-random order, whom their three clues single out in `copy`."""
    import hashlib

    from workshop.anonymize import attacks
    from workshop.errors import WorkshopError

    targets = _targets()
    shown = min(targets, default=None)  # section 4 attacks the first reviewer: the exercise takes another
    for customer in sorted(targets, key=lambda c: hashlib.md5(str(c).encode()).hexdigest()):
        if customer == shown:
            continue
        clues = targets[customer]
        found = attacks.find_by_reviews([(c.product_id, c.around) for c in clues], using=_alias(copy))
        if list(found.values_list("id", flat=True)[:2]) == [customer]:
            return customer, clues
    raise WorkshopError("No customer with three reviews stands out in the copy", "build the copy with build() first")


def netflix_clues(copy: str = "anon") -> list[Clue]:
    """What your colleague let slip: three products they reviewed, and roughly when."""
    return _netflix_target(copy)[1]


def _alias(schema: str) -> str:
    from workshop.anonymize.alias import use_copy

    return use_copy(schema)


def _check_3(answer, copy: str = "anon") -> None:
    from django.db.models import QuerySet

    from workshop.django_setup import require_setup

    require_setup()  # the ORM needs the set-up cell
    from workshop.shop.models import Order

    alias = _alias(copy)
    if not isinstance(answer, QuerySet):
        raise Wrong("the answer is a QuerySet of orders: Order.objects.using(...).filter(...)")
    if answer.model is not Order:
        raise Wrong(f"that is a QuerySet of {answer.model.__name__} rows: the answer is the colleague's orders")
    if answer.db != alias:
        raise Wrong(f"that QuerySet reads the {answer.db!r} database: the attack works on the copy, .using({copy!r})")
    target, _clues = _netflix_target(copy)
    given = set(answer.values_list("pk", flat=True))
    theirs = set(Order.objects.using(alias).filter(customer_id=target).values_list("pk", flat=True))
    if not given and theirs:
        raise Wrong(
            "that QuerySet is empty: which customer of the copy has a review of each product, around each date?"
        )
    if given != theirs:
        customers = set(Order.objects.using(alias).filter(pk__in=given).values_list("customer_id", flat=True))
        if len(customers) > 1:
            raise Wrong(f"those orders belong to {len(customers)} customers: the clues single out one")
        raise Wrong(
            "those are not the colleague's orders: chain one .filter() per clue (inside one filter(), the "
            "three conditions would have to hold for the same review), then take that customer's orders"
        )


EXERCISES = Exercises(
    "02",
    [
        Exercise(
            1,
            "The finest generalization with at most 1% unique",
            minutes=6,
            checker=_check_1,
            hints=(
                "measure.k_anonymity(g).unique_share gives the share for one generalization; try a few "
                "and see which way each step moves it.",
                "Start from one that is under 1%, then try each one-step finer neighbour (birth one level "
                "finer, one more ZIP digit, gender back): stop when every finer one is over 1%.",
            ),
            solution=solutions.solution_1,
            explain="generalize only as far as the target needs: every step coarser costs the analysts detail",
        ),
        Exercise(
            2,
            "Who is the copy personal data for?",
            minutes=5,
            checker=_check_2,
            hints=(
                "For each recipient ask: with what they hold, can they single out or re-identify someone "
                "by means reasonably likely to be used (a voter roll counts)?",
                "C-413/23 P: pseudonymised data is not personal data for every recipient automatically; "
                "it is for whoever has the key or other means to attribute it.",
            ),
            solution=solutions.solution_2,
            explain="personal or not depends on who holds the data and what they can combine it with, "
            "not on the data alone",
        ),
        Exercise(
            3,
            "The Netflix attack",
            minutes=6,
            checker=_check_3,
            hints=(
                "Section 4's ORM code finds a customer from products and dates: one .filter() per clue on "
                "Customer.objects.using('anon').",
                "reviews__created_at__date__range=(day - week, day + week) with week = "
                "datetime.timedelta(days=7); then Order.objects.using('anon').filter(customer=...).",
            ),
            solution=solutions.solution_3,
            explain="three reviews and rough dates were enough to find someone's every order in an 'anonymized' copy",
        ),
        Exercise(
            4,
            "Planted names and emails in free text",
            minutes=6,
            checker=_check_4,
            hints=(
                "measure.free_text_leaks shows which table and column of the copy still hold names or "
                "emails: which rule could blank that column?",
                "merge_rules(shop_rules.shop_rules(), {...}) keeps the shop's rules and adds yours; the "
                "strategy table of section 2 lists one that blanks a field.",
            ),
            solution=solutions.solution_4,
            explain="free text carries whatever people typed into it: scan it, and blank what you cannot vet",
        ),
    ],
)
check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal
