"""Pseudonyms that happen to equal somebody's real value are re-drawn (collisions.py).

On the tiny dataset such a coincidence is too rare to show up by itself, so the test
plants it: it gives one person, as their real value, exactly the pseudonym another
person's value will get, in an email (shared by two tables), a phone and a national id
(a unique column, pseudonymized by a permutation). The source is restored afterwards.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from psycopg import sql

from workshop.anonymize import build, db, keys, sqlhash
from workshop.anonymize.shop_rules import NATIONAL_ID

KEY = b"collision-test-key-0123456789"
pytestmark = pytest.mark.django_db


def digest(value: str) -> str:
    return hmac.new(keys.derive(KEY, "hmac"), value.encode(), hashlib.sha256).hexdigest()


def salted(value: str, salt: int) -> str:
    """The value the engine hashes for its salt-th re-draw (salt 0: the first draw)."""
    return f"{value}\x1f{salt}" if salt else value


def email_pseudonym(value: str, salt: int = 0) -> str:
    return digest(salted(value, salt))[:16] + "@example.com"


def phone_pseudonym(value: str, salt: int = 0) -> str:
    n = int(digest(salted(value, salt))[:15], 16) % 10**9
    return f"(0{n // 10**7:02d}) {n // 10**4 % 1000:03d}-{n % 10**4:04d}"


def first_free(pseudonym, value: str, taken: set[str]) -> str:
    """The first salted pseudonym that is nobody's original: what a correct re-draw gives."""
    return next(p for p in (pseudonym(value, salt) for salt in range(1, 13)) if p not in taken)


def national_id_pseudonym(value: str, salt: int = 0) -> str:
    domain = f"fpe|{NATIONAL_ID.template}" + (f"|{salt}" if salt else "")
    tables = sqlhash.feistel_tables(keys.derive(KEY, "hmac"), domain, 10**4, 10**4)
    y = sqlhash.feistel_python(int(value[1:].replace("-", "")), tables, 10**4, 10**4)
    return f"9{y // 10**6:02d}-{y // 10**4 % 100:02d}-{y % 10**4:04d}"


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker):
    """Plant the collisions in the source, build twice, restore the source."""
    with django_db_blocker.unblock(), db.connect() as conn:
        customers = conn.execute(
            "SELECT id, email, phone, national_id FROM public.shop_customer ORDER BY id LIMIT 6"
        ).fetchall()
        staff = conn.execute("SELECT id, email FROM public.auth_user ORDER BY id LIMIT 2").fetchall()
        (a, a_email, _, _), (b, _, b_phone, _), (c, _, c_phone, _) = customers[:3]
        (d, _, _, d_nid), (e, _, _, e_nid) = customers[3:5]
        (u1, u1_email), (u2, u2_email) = staff
        saved = {"customer": {i: (em, ph, ni) for i, em, ph, ni in customers}, "staff": dict(staff)}
        plan = {
            "a": a,
            "u1": u1,
            "u2": u2,
            "b": b,
            "c": c,
            "d": d,
            "e": e,
            "a_email": a_email,
            "c_phone": c_phone,
            "e_nid": e_nid,
            "email_first_draw": email_pseudonym(a_email),
            "phone_first_draw": phone_pseudonym(c_phone),
            "nid_first_draw": national_id_pseudonym(e_nid),
        }
        try:
            # The same person (same email) as customer a and staff member u1; staff member
            # u2's real email is what a's email would first be pseudonymized to.
            conn.execute("UPDATE public.auth_user SET email = %s WHERE id = %s", [a_email, u1])
            conn.execute("UPDATE public.auth_user SET email = %s WHERE id = %s", [plan["email_first_draw"], u2])
            # b's real phone is c's first pseudonym; d's real national id is e's.
            conn.execute("UPDATE public.shop_customer SET phone = %s WHERE id = %s", [plan["phone_first_draw"], b])
            conn.execute("UPDATE public.shop_customer SET national_id = %s WHERE id = %s", [plan["nid_first_draw"], d])
            first = build(target="anon_collide", key=KEY, progress=False)
            snapshot = (  # noqa: E731
                lambda: {
                    "customer": {
                        r[0]: r[1:]
                        for r in conn.execute(
                            "SELECT id, email, phone, national_id FROM anon_collide.shop_customer ORDER BY id"
                        )
                    },
                    "staff": dict(conn.execute("SELECT id, email FROM anon_collide.auth_user ORDER BY id").fetchall()),
                }
            )
            once = snapshot()
            build(target="anon_collide", key=KEY, progress=False)
            yield plan, once, snapshot(), first, conn
        finally:
            for i, (em, ph, ni) in saved["customer"].items():
                conn.execute(
                    "UPDATE public.shop_customer SET email = %s, phone = %s, national_id = %s WHERE id = %s",
                    [em, ph, ni, i],
                )
            for i, em in saved["staff"].items():
                conn.execute("UPDATE public.auth_user SET email = %s WHERE id = %s", [em, i])
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS anon_collide CASCADE"))


def originals(conn, column: str) -> set[str]:
    query = (
        sql.SQL("SELECT {c} FROM public.shop_customer UNION SELECT {c} FROM public.auth_user").format(
            c=sql.Identifier(column)
        )
        if column == "email"
        else sql.SQL("SELECT {} FROM public.shop_customer").format(sql.Identifier(column))
    )
    return {r[0] for r in conn.execute(query)}


def test_an_email_pseudonym_equal_to_a_real_email_is_redrawn_the_same_in_both_tables(planted):
    plan, copy, _, _, conn = planted
    email = copy["customer"][plan["a"]][0]
    assert email != plan["email_first_draw"]  # that one is staff member u2's real address
    assert email.endswith("@example.com") and len(email) == 28
    assert copy["staff"][plan["u1"]] == email  # the same person keeps one pseudonym everywhere
    everyone = originals(conn, "email")
    assert email not in everyone
    # Exactly the first salted pseudonym that is nobody's real address, and no one else's pseudonym.
    assert email == first_free(email_pseudonym, plan["a_email"], everyone)
    customer_emails = [row[0] for row in copy["customer"].values()]
    assert len(customer_emails) == len(set(customer_emails))
    assert not set(customer_emails) & everyone


def test_a_phone_pseudonym_equal_to_a_real_phone_is_redrawn(planted):
    plan, copy, _, _, conn = planted
    phone = copy["customer"][plan["c"]][1]
    assert phone != plan["phone_first_draw"]  # that one is customer b's real number
    assert phone.startswith("(0") and len(phone) == 14
    everyone = originals(conn, "phone")
    assert phone not in everyone
    assert phone == first_free(phone_pseudonym, plan["c_phone"], everyone)
    assert not {row[1] for row in copy["customer"].values()} & everyone


def test_a_permuted_national_id_equal_to_a_real_one_is_redrawn_and_stays_unique(planted):
    plan, copy, _, _, conn = planted
    nid = copy["customer"][plan["e"]][2]
    assert nid != plan["nid_first_draw"]  # that one is customer d's real id
    assert nid not in originals(conn, "national_id")
    values = [row[2] for row in copy["customer"].values()]
    assert len(values) == len(set(values))
    assert not set(values) & originals(conn, "national_id")
    others = {v for i, (_, _, v) in copy["customer"].items() if i != plan["e"]}
    assert nid == first_free(national_id_pseudonym, plan["e_nid"], originals(conn, "national_id") | others)


def test_redrawing_is_deterministic(planted):
    _, once, twice, report, _ = planted
    assert once == twice
    assert report.rows > 0
