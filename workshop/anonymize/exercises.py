"""The notebook's exercises: each check prints "Well done" or "Not yet: <hint>" and returns
True or False; it never raises on a wrong or missing answer, so the cell runs either way.
The solutions are in solutions.py, apart from the notebook.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

PLANTED_SCHEMA = "planted"


def _verdict(ok: bool, message: str) -> bool:
    print(("Well done: " if ok else "Not yet: ") + message)
    return ok


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


def check_1(answer, schema: str = "public") -> bool:
    from workshop.anonymize.measure import Generalization, k_anonymity

    if not isinstance(answer, Generalization):
        return _verdict(
            False, "set answer_1 to a Generalization(birth, zip_digits, gender), e.g. Generalization('year', 3)"
        )
    share = k_anonymity(answer, schema=schema).unique_share
    if share > 0.01:
        return _verdict(False, f"{answer.describe()} leaves {share:.1%} unique: coarsen the birth date or the ZIP")
    for finer in finer_neighbours(answer):
        finer_share = k_anonymity(finer, schema=schema).unique_share
        if finer_share <= 0.01:
            return _verdict(
                False,
                f"{answer.describe()} is coarser than needed: {finer.describe()} also leaves only "
                f"{finer_share:.1%} unique; keep more detail",
            )
    return _verdict(True, f"{answer.describe()} leaves {share:.2%} unique, and every finer step leaves more than 1%")


# --- 2. names and emails planted in review bodies -------------------------------------------


def plant_leaks(source: str = "public", into: str = PLANTED_SCHEMA, every: int = 40) -> int:
    """A copy of schema `source` in schema `into` where one review in `every` ends with its
    author's email and another with their full name, as people write. Returns the reviews
    changed. The dataset itself is not touched."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn
    from workshop.errors import WorkshopError

    if into in (source, "public") or into.startswith("pg_") or not into.isidentifier():
        raise WorkshopError(f"Cannot plant into schema {into!r}", f"use a schema of its own, e.g. {PLANTED_SCHEMA!r}")
    with _conn(None) as c:
        with c.transaction():
            c.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(into)))
            c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(into)))
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


def check_2(answer, target: str = "anon_ex2", source: str = PLANTED_SCHEMA) -> bool:
    """Build `answer` from the planted source, then scan: no email or full name may be left."""
    from workshop.anonymize import build, measure
    from workshop.errors import WorkshopError

    if not isinstance(answer, dict) or not answer:
        return _verdict(
            False,
            "set answer_2 to rules: the shop's rules plus one for shop.Review "
            "(from workshop.anonymize import Suppress)",
        )
    try:
        build(answer, target=target, source=source, progress=False)
    except WorkshopError as exc:
        return _verdict(False, f"build() refused the rules ({exc.problem}); {exc.fix}")
    found = measure.free_text_leaks(target, source=source)
    scan = measure.leak_scan(answer, target=target, source=source)
    if len(found):
        return _verdict(
            False,
            f"{int(found['rows'].sum())} emails or full names of customers are still in the copy's "
            f"free text ({', '.join(sorted(set(found['found in'])))}): add a rule that blanks that field",
        )
    if measure.leaks(scan):
        return _verdict(
            False, f"{measure.leaks(scan)} original values survive in rewritten columns: keep the shop's rules"
        )
    rewritten = {label: set(fields) for label, fields in answer.items()}
    if "email" not in rewritten.get("shop.Customer", set()):
        return _verdict(
            False,
            "the reviews are clean, but the customers' own emails are copied as is: "
            "start from shop_rules() and add your rule",
        )
    return _verdict(True, "no customer's email or name is left in any free text, and the leak scan finds nothing")


# --- 3. the contractor without the key -----------------------------------------------------

SCENARIO_CHOICES = {
    "a": "No: without the key the contractor cannot reverse the pseudonyms, so it is anonymous for them",
    "b": "Yes: records can still be singled out and linked (voter roll, reviews) by means reasonably likely "
    "to be used, so it is personal data for the contractor too",
    "c": "Only the pseudonymized columns (emails, phones, ids) are personal data; the rest is anonymous",
}


def check_3(answer) -> bool:
    if answer not in SCENARIO_CHOICES:
        return _verdict(False, f"set answer_3 to one of {', '.join(map(repr, SCENARIO_CHOICES))}")
    if answer == "a":
        return _verdict(
            False,
            "the key is not the only way in. C-413/23 P lets a recipient without the key hold "
            "non-personal data only if re-identification is not reasonably likely for them; our copy "
            "still singles people out, and the voter-roll join needs no key",
        )
    if answer == "c":
        return _verdict(
            False,
            "birth year, 3-digit ZIP, gender and review facts are what the attacks above used: "
            "a copy that singles someone out is personal data as a whole (Recital 26)",
        )
    return _verdict(
        True,
        "what decides is whether someone can be singled out by means reasonably likely to be used, "
        "not who holds the key",
    )


# --- 4. the Netflix attack -----------------------------------------------------------------


@dataclass(frozen=True)
class Clue:
    product_id: int
    product: str
    around: datetime.date  # within a week of the real date


def netflix_target(source: str = "public", copy: str = "anon") -> tuple[int, list[Clue]]:
    """A customer with three reviews whose clues single them out in `copy`, and the clues:
    the products and each date give or take a few days (what a colleague might know)."""
    from psycopg import sql

    from workshop.anonymize.measure import _conn

    with _conn(None) as c:
        rows = c.execute(
            sql.SQL(
                "WITH k AS (SELECT r.customer_id, r.product_id, p.title, r.created_at::date AS day, "
                "  row_number() OVER (PARTITION BY r.customer_id ORDER BY r.id) AS n, count(*) OVER (PARTITION BY r.customer_id) AS total "
                "  FROM {r} r JOIN {p} p ON p.id = r.product_id) "
                "SELECT customer_id, product_id, title, day FROM k WHERE total >= 3 AND n <= 3 "
                "ORDER BY md5(customer_id::text), n"
            ).format(r=sql.Identifier(source, "shop_review"), p=sql.Identifier(source, "shop_product"))
        ).fetchall()
    from workshop.anonymize import attacks

    by_customer: dict[int, list[Clue]] = {}
    for customer, product_id, title, day in rows:
        shift = datetime.timedelta(days=(customer + product_id) % 7 - 3)  # "around": off by up to 3 days
        by_customer.setdefault(customer, []).append(Clue(product_id, title, day + shift))
    for customer, clues in by_customer.items():
        found = list(
            attacks.find_by_reviews([(c.product_id, c.around) for c in clues], using=_alias(copy)).values_list(
                "id", flat=True
            )[:2]
        )
        if found == [customer]:
            return customer, clues
    from workshop.errors import WorkshopError

    raise WorkshopError("No customer with three reviews stands out in the copy", "build the copy with build() first")


def _alias(schema: str) -> str:
    from workshop.anonymize.alias import use_copy

    return use_copy(schema)


def check_4(answer, copy: str = "anon") -> bool:
    from workshop.django_setup import require_setup

    require_setup()  # the ORM needs the set-up cell
    from workshop.shop.models import Customer

    target, _ = netflix_target(copy=copy)
    found = answer.pk if isinstance(answer, Customer) else answer
    if found is None or isinstance(found, bool) or not isinstance(found, int):
        return _verdict(
            False,
            "set answer_4 to the id of the one customer of the copy who fits the three clues: "
            "Customer.objects.using('anon').filter(reviews__product_id=..., "
            "reviews__created_at__date__range=(day - week, day + week)), one filter() per clue",
        )
    if found != target:
        return _verdict(
            False,
            f"customer {found} is not the one: chain one .filter() per clue (inside one filter(), "
            "the three conditions would have to hold for the same review)",
        )
    return _verdict(
        True, f"customer {found} of the 'anonymized' copy, with every order they placed: three reviews were enough"
    )
