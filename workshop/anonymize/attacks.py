"""Attacks on a released copy, red team then blue team.

* A voter roll of the whole town: every customer **and** non-customers who look like them
  (their birth date, ZIP and gender drawn from other customers). Sample uniqueness (alone in
  the release) is not population uniqueness (alone in the town): a prosecutor, who knows the
  target is a customer, wins on every record unique in the release; a journalist, who picks
  a unique released record and looks for it in the roll, also meets the non-customers.
* The Netflix attack (Narayanan and Shmatikov, 2008): three products someone reviewed and
  roughly when single out a customer in the copy, and with them their orders.

All in PostgreSQL: one temporary table for the roll, GROUP BYs and joins.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

ROLL_SEED = 1990


@dataclass(frozen=True)
class Linkage:
    """The voter roll against a release, both coarsened the release's way."""

    records: int  # customers in the release
    population: int  # people in the roll (customers + non-customers)
    sample_unique: int  # released records alone in the release
    population_unique: int  # released records whose person is alone in the roll
    prosecutor_risk: float  # mean 1 / class size in the release: a known customer picked at random
    journalist_risk: float  # mean 1 / class size in the roll
    journalist_claims: int  # voters with exactly one released candidate (non-customers included)
    journalist_correct: int  # ... who really are that customer

    @property
    def prosecutor_share(self) -> float:
        """Customers a prosecutor re-identifies for sure (alone in the release)."""
        return self.sample_unique / self.records if self.records else 0.0

    @property
    def journalist_precision(self) -> float:
        return self.journalist_correct / self.journalist_claims if self.journalist_claims else 0.0

    def table(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "prosecutor (knows the target is a customer)": [self.prosecutor_risk, self.prosecutor_share],
                "journalist (does not)": [
                    self.journalist_risk,
                    self.journalist_correct / self.records if self.records else 0.0,
                ],
            },
            index=["mean risk per record", "records re-identified for sure"],
        )


def _key(generalization, alias: str) -> sql.Composable:
    parts = [sql.SQL("({})::text").format(e) for e in generalization.expressions(alias) if e.as_string(None) != "()"]
    return sql.SQL("concat_ws('|', {})").format(sql.SQL(", ").join(parts)) if parts else sql.Literal("")


def _roll(conn, source: str, non_customers_per_customer: int) -> None:
    """TEMP table voter_roll: every customer (customer_id set) plus look-alike non-customers."""
    conn.execute("DROP TABLE IF EXISTS pg_temp.voter_roll")
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE voter_roll AS "
            "WITH c AS (SELECT row_number() OVER (ORDER BY id) AS n, * FROM {t}), total AS (SELECT count(*) AS n FROM c) "
            "SELECT id AS customer_id, first_name, last_name, birth_date, zip_code, gender FROM c "
            "UNION ALL "
            "SELECT NULL, f.first_name, l.last_name, b.birth_date, z.zip_code, g.gender "
            "FROM (SELECT i, total.n AS tn FROM total, generate_series(1, total.n * {m}) AS i) AS x "
            "JOIN c AS b ON b.n = 1 + mod(abs(hashint8extended(x.i, {s})), x.tn) "
            "JOIN c AS z ON z.n = 1 + mod(abs(hashint8extended(x.i, {s} + 1)), x.tn) "
            "JOIN c AS g ON g.n = 1 + mod(abs(hashint8extended(x.i, {s} + 2)), x.tn) "
            "JOIN c AS f ON f.n = 1 + mod(abs(hashint8extended(x.i, {s} + 3)), x.tn) "
            "JOIN c AS l ON l.n = 1 + mod(abs(hashint8extended(x.i, {s} + 4)), x.tn)"
        ).format(
            t=sql.Identifier(source, "shop_customer"),
            m=sql.Literal(int(non_customers_per_customer)),
            s=sql.Literal(ROLL_SEED),
        )
    )


def voter_roll_attack(
    released: str, generalization=None, *, source: str = "public", non_customers_per_customer: int = 3, conn=None
) -> Linkage:
    """Prosecutor and journalist against the customers of schema `released`. The copy keeps
    primary keys: the ground truth that says whether a claim is right."""
    from workshop.anonymize.measure import Generalization, _conn

    g = generalization or Generalization()
    with _conn(conn) as c:
        with c.transaction():
            _roll(c, source, non_customers_per_customer)
            row = c.execute(
                sql.SQL(
                    "WITH r AS (SELECT id, {rk} AS key FROM {rel} AS r), v AS (SELECT customer_id, {vk} AS key FROM voter_roll AS v), "
                    "rc AS (SELECT key, count(*) AS rn FROM r GROUP BY key), "
                    "vc AS (SELECT key, count(*) AS pn FROM v GROUP BY key), "
                    "per AS (SELECT r.id, rc.rn, coalesce(vc.pn, 0) AS pn FROM r JOIN rc USING (key) LEFT JOIN vc USING (key)) "
                    "SELECT (SELECT count(*) FROM per), (SELECT count(*) FROM v), "
                    "(SELECT count(*) FILTER (WHERE rn = 1) FROM per), (SELECT count(*) FILTER (WHERE pn = 1) FROM per), "
                    "(SELECT avg(1.0 / rn) FROM per), (SELECT avg(CASE WHEN pn > 0 THEN 1.0 / pn ELSE 0 END) FROM per), "
                    "(SELECT count(*) FROM v JOIN rc USING (key) WHERE rc.rn = 1), "
                    "(SELECT count(*) FROM v JOIN rc USING (key) JOIN r USING (key) WHERE rc.rn = 1 AND v.customer_id = r.id)"
                ).format(rk=_key(g, "r"), vk=_key(g, "v"), rel=sql.Identifier(released, "shop_customer"))
            ).fetchone()
            c.execute("DROP TABLE pg_temp.voter_roll")
    records, population, su, pu, pr, jr, claims, correct = row
    return Linkage(
        int(records), int(population), int(su), int(pu), float(pr or 0), float(jr or 0), int(claims), int(correct)
    )


# --- the Netflix attack ---------------------------------------------------------------------


@dataclass(frozen=True)
class Netflix:
    targets: int  # customers with at least `known` reviews: the attacker knows `known` of them
    unique: int  # exactly one customer of the copy fits the clues
    correct: int  # ... and it is the target
    known: int
    window_days: int

    @property
    def reidentified_share(self) -> float:
        return self.correct / self.targets if self.targets else 0.0


def netflix_attack(
    released: str = "anon", *, known: int = 3, window_days: int = 14, source: str = "public", conn=None
) -> Netflix:
    """For every customer with `known` reviews or more: the attacker knows the products of
    their first `known` reviews and each date within ±window_days. Candidates in the copy:
    customers with a review of each of those products inside each window."""
    from workshop.anonymize.measure import _conn

    with _conn(conn) as c:
        row = c.execute(
            sql.SQL(
                "WITH k AS (SELECT customer_id AS target, product_id, created_at, "
                "    row_number() OVER (PARTITION BY customer_id ORDER BY id) AS n, count(*) OVER (PARTITION BY customer_id) AS total "
                "    FROM {src}), clue AS (SELECT * FROM k WHERE total >= {known} AND n <= {known}), "
                "hit AS (SELECT DISTINCT clue.target, clue.n, r.customer_id AS candidate FROM clue JOIN {rel} AS r "
                "    ON r.product_id = clue.product_id AND r.created_at BETWEEN clue.created_at - {w} AND clue.created_at + {w}), "
                "fits AS (SELECT target, candidate FROM hit GROUP BY target, candidate HAVING count(*) = {known}), "
                "per AS (SELECT t.target, count(f.candidate) AS n, min(f.candidate) AS who FROM (SELECT DISTINCT target FROM clue) t "
                "    LEFT JOIN fits f USING (target) GROUP BY t.target) "
                "SELECT count(*), count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n = 1 AND who = target) FROM per"
            ).format(
                src=sql.Identifier(source, "shop_review"),
                rel=sql.Identifier(released, "shop_review"),
                known=sql.Literal(known),
                w=sql.SQL("make_interval(days => {})").format(sql.Literal(window_days)),
            )
        ).fetchone()
    return Netflix(int(row[0]), int(row[1]), int(row[2]), known, window_days)


def find_by_reviews(clues, *, using: str = "anon", window_days: int = 7):
    """The attack as an attendee writes it with the ORM: one filter() per clue (each filter
    on a multi-valued relation is its own join, so each clue may match a different review).
    clues: [(product_id, date)]. Returns the matching customers of the copy."""
    import datetime

    from workshop.django_setup import require_setup

    require_setup()  # the ORM needs the set-up cell
    from workshop.shop.models import Customer

    customers = Customer.objects.using(using)
    for product_id, day in clues:
        around = datetime.timedelta(days=window_days)
        customers = customers.filter(
            reviews__product_id=product_id, reviews__created_at__date__range=(day - around, day + around)
        )
    return customers.distinct()


def tightened_rules(noise_days: int, base: dict | None = None) -> dict:
    """The shop's rules plus noise on review and order dates (the blue team's first move)."""
    from workshop.anonymize.shop_rules import shop_rules
    from workshop.anonymize.strategies import Noise
    from workshop.anonymize.target import merge_rules

    extra = {"shop.Review": {"created_at": Noise(noise_days)}, "shop.Order": {"created_at": Noise(noise_days)}}
    return merge_rules(base if base is not None else shop_rules(), extra) if noise_days else (base or shop_rules())


def detach_reviews(schema: str, key: bytes | None = None, conn=None) -> int:
    """The blue team's second move: move each review of the copy to another customer by a
    keyed permutation of the authors. Ratings per product stay exact; who wrote what does not
    survive (so neither does the link from three reviews to someone's orders).

    Only into a copy the engine made (its marker). The derived key reaches the server the
    way the engine's keys do (session_keys: COPY into a session table), never as statement
    text or a bind parameter, which the server logs."""
    from workshop.anonymize import db, keys, ownership, session_keys
    from workshop.anonymize.measure import _conn

    db.check_schema_name(schema)
    secret = keys.derive(keys.check(key if key is not None else keys.load_key()), "review-authors")
    name = session_keys.secret_name(secret, "review-authors")
    with _conn(conn) as c:
        ownership.require_marked(c, schema, "detach_reviews")
        session_keys.install(c, {name: secret})
        try:
            return c.execute(
                sql.SQL(
                    "WITH a AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM {t}), "
                    "b AS (SELECT customer_id, row_number() OVER (ORDER BY md5({k} || id::text)) AS n FROM {t}) "
                    "UPDATE {t} AS r SET customer_id = b.customer_id FROM a JOIN b USING (n) WHERE r.id = a.id"
                ).format(
                    t=sql.Identifier(schema, "shop_review"),
                    # the key's hex, as before: the same permutation of the authors
                    k=sql.SQL("encode((SELECT b FROM {} WHERE name = {}), 'hex')").format(
                        session_keys.TABLE, sql.Literal(name)
                    ),
                )
            ).rowcount
        finally:  # the key leaves the caller's session with the statement (unless its transaction failed)
            if c.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                c.execute(sql.SQL("DELETE FROM {} WHERE name = {}").format(session_keys.TABLE, sql.Literal(name)))


def reviews_per_month_error(released: str, source: str = "public", conn=None) -> float:
    """Utility of the review dates: mean relative error of the reviews-per-month counts."""
    from workshop.anonymize.measure import _conn

    query = "SELECT date_trunc('month', created_at), count(*)::float8 FROM {} GROUP BY 1"
    with _conn(conn) as c:
        truth = dict(c.execute(sql.SQL(query).format(sql.Identifier(source, "shop_review"))).fetchall())
        copy = dict(c.execute(sql.SQL(query).format(sql.Identifier(released, "shop_review"))).fetchall())
    errors = [abs(copy.get(month, 0.0) - n) / n for month, n in truth.items()]
    return sum(errors) / len(errors) if errors else 0.0


def hash_dictionary_attack(schema: str = "public", key: bytes | None = None, conn=None) -> tuple[int, int]:
    """Emails "released" as unsalted SHA-256 and as HMAC-SHA256 with a secret key, attacked
    with a dictionary of every known email. Returns (recovered unsalted, recovered keyed).
    The derived key lives only inside this function."""
    import hashlib
    import hmac

    from workshop.anonymize import keys
    from workshop.anonymize.measure import _conn

    secret = keys.derive(keys.check(key if key is not None else keys.load_key()), "hmac")
    with _conn(conn) as c:
        emails = [
            e for (e,) in c.execute(sql.SQL("SELECT email FROM {}").format(sql.Identifier(schema, "shop_customer")))
        ]
    plain = {hashlib.sha256(e.encode()).hexdigest() for e in emails}
    keyed = {hmac.new(secret, e.encode(), hashlib.sha256).hexdigest() for e in emails}
    dictionary = {hashlib.sha256(e.encode()).hexdigest() for e in emails}  # the attacker has no key
    return len(plain & dictionary), len(keyed & dictionary)
