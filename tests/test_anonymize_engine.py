"""The anonymization engine on the real test database (the tiny dataset): determinism,
key change, foreign keys, unique constraints, leak scan, failures that leave the source
untouched, and each strategy's output."""

from __future__ import annotations

import datetime
import hashlib
import hmac

import pytest
from anonymize_support import checksum, drop, rows, schemas
from psycopg import sql

from workshop.anonymize import (
    Fake,
    GeneralizeDate,
    KeepPrefix,
    Mask,
    Noise,
    Pseudonymize,
    Shuffle,
    Static,
    Suppress,
    build,
    db,
    keys,
    measure,
    pools,
    preview,
)
from workshop.anonymize.shop_rules import shop_rules
from workshop.errors import WorkshopError

KEY = b"test-key-0123456789abcdef"
OTHER_KEY = b"another-key-0123456789abcdef"
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def anon(django_db_setup, django_db_blocker):
    """The shop's rules applied once into schema anon_t (each test reads it)."""
    with django_db_blocker.unblock():
        before = {t: checksum("public", t) for t in ("shop_customer", "shop_order", "auth_user")}
        report = build(target="anon_t", key=KEY, progress=False)
        yield report, before
        drop("anon_t")


def python_pseudonym_hex(value: str, width: int = 16) -> str:
    return hmac.new(keys.derive(KEY, "hmac"), value.encode(), hashlib.sha256).hexdigest()[:width]


def test_copy_has_every_row_and_the_source_is_untouched(anon):
    report, before = anon
    for table in ("shop_customer", "shop_order", "shop_orderitem", "shop_review", "auth_user"):
        assert (
            rows(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))[0][0]
            == report.tables[table]
        )
        assert (
            rows(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("anon_t", table)))[0][0]
            == report.tables[table]
        )
    assert {t: checksum("public", t) for t in before} == before
    assert "anon_t__building" not in schemas()


def test_same_value_and_key_give_the_same_pseudonym_in_every_table(anon):
    # The SQL HMAC equals Python's hmac module, for customers and staff alike.
    for table in ("shop_customer", "auth_user"):
        pairs = rows(
            sql.SQL("SELECT p.email, a.email FROM {} p JOIN {} a USING (id)").format(
                sql.Identifier("public", table), sql.Identifier("anon_t", table)
            )
        )
        assert pairs
        assert all(after == python_pseudonym_hex(before) + "@example.com" for before, after in pairs)


def test_rerun_is_deterministic_and_another_key_changes_every_pseudonym(anon):
    first = checksum("anon_t", "shop_customer")
    build(target="anon_t2", key=KEY, progress=False)
    assert checksum("anon_t2", "shop_customer") == first
    assert checksum("anon_t2", "auth_user") == checksum("anon_t", "auth_user")
    build(target="anon_t2", key=OTHER_KEY, progress=False)  # re-running into an existing copy is fine
    same = rows(
        "SELECT count(*) FILTER (WHERE a.email = b.email), count(*) FILTER (WHERE a.national_id = b.national_id), "
        "count(*) FROM anon_t.shop_customer a JOIN anon_t2.shop_customer b USING (id)"
    )[0]
    drop("anon_t2")
    assert same[2] == 400
    assert same[0] == 0
    assert same[1] < 5  # a permutation of 10^8 values: a few fixed points at most


def test_foreign_keys_point_to_the_same_rows(anon):
    orphans = rows(
        "SELECT count(*) FROM anon_t.shop_order o LEFT JOIN anon_t.shop_customer c ON c.id = o.customer_id "
        "WHERE c.id IS NULL"
    )[0][0]
    assert orphans == 0
    per_customer = rows(
        "SELECT count(*) FROM (SELECT customer_id, count(*) FROM public.shop_order GROUP BY 1 "
        "EXCEPT SELECT customer_id, count(*) FROM anon_t.shop_order GROUP BY 1) x"
    )[0][0]
    assert per_customer == 0
    fks = rows(
        "SELECT n.nspname, count(*) FILTER (WHERE k.convalidated) FROM pg_constraint k JOIN pg_namespace n "
        "ON n.oid = k.connamespace WHERE k.contype = 'f' AND n.nspname IN ('public', 'anon_t') GROUP BY 1"
    )
    assert dict(fks)["anon_t"] == dict(fks)["public"] > 0


def test_unique_constraints_survive(anon):
    unique = rows(
        "SELECT conname FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace "
        "WHERE n.nspname = 'anon_t' AND k.contype = 'u' AND conrelid = 'anon_t.shop_customer'::regclass"
    )
    assert {"shop_customer_email_key", "shop_customer_national_id_key"} <= {u[0] for u in unique}
    distinct = rows("SELECT count(DISTINCT email), count(DISTINCT national_id), count(*) FROM anon_t.shop_customer")[0]
    assert distinct[0] == distinct[1] == distinct[2] == 400
    shapes = rows(
        r"SELECT count(*) FROM anon_t.shop_customer WHERE national_id !~ '^9\d{2}-\d{2}-\d{4}$' "
        r"OR phone !~ '^\(0\d{2}\) \d{3}-\d{4}$' OR email !~ '^[0-9a-f]{16}@example\.com$'"
    )[0][0]
    assert shapes == 0


def test_identity_continues_after_the_copied_ids(anon):
    with db.connect() as conn, conn.transaction(force_rollback=True):
        new_id = conn.execute(
            "INSERT INTO anon_t.shop_category (name, slug) VALUES ('x', 'x') RETURNING id"
        ).fetchone()[0]
        assert new_id > conn.execute("SELECT max(id) FROM public.shop_category").fetchone()[0]


def test_leak_scan_finds_nothing_rewritten_and_catches_a_forgotten_column(anon):
    scan = measure.leak_scan(target="anon_t")
    assert measure.leaks(scan) == 0
    rules = shop_rules()
    del rules["shop.Customer"]["email"]  # forget one column
    build(rules, target="anon_t3", key=KEY, progress=False, only=["shop.Customer"])
    rules["shop.Customer"]["email"] = Pseudonymize("{hex:16}@example.com")  # the scan knows it is personal
    leaked = measure.leak_scan(rules, target="anon_t3")
    drop("anon_t3")
    assert measure.leaks(leaked) == 400
    assert set(leaked.loc[leaked.leak, "original column"]) == {"shop.Customer.email"}


def test_fake_pools_never_hold_an_original_value(anon):
    originals = {
        r[0] for r in rows("SELECT first_name FROM public.shop_customer UNION SELECT first_name FROM public.auth_user")
    }
    fakes = {
        r[0] for r in rows("SELECT first_name FROM anon_t.shop_customer UNION SELECT first_name FROM anon_t.auth_user")
    }
    assert fakes and not (fakes & originals)


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"shop.Customer": {"shoe_size": Suppress()}}, "has no field 'shoe_size'"),
        ({"shop.Nobody": {"name": Suppress()}}, "Unknown model 'shop.Nobody'"),
        ({"shop.Customer": {"phone": Static("x" * 40)}}, "longer than shop.Customer.phone's max_length 32"),
        ({"shop.Customer": {"email": Mask("email")}}, "shop.Customer.email is unique"),
        ({"shop.Customer": {"national_id": Fake("first_name")}}, "is unique"),
        ({"shop.Customer": {"national_id": Pseudonymize("{hex:8}")}}, "may collide"),
        ({"shop.Customer": {"birth_date": Suppress()}}, "NOT NULL DateField"),
        ({"shop.Customer": {"birth_date": Pseudonymize("{hex:16}")}}, "is a DateField"),
        ({"shop.Customer": {"first_name": Fake("no_such_provider")}}, "no provider 'no_such_provider'"),
        ({"shop.Customer": {"national_id": Pseudonymize("{digits:11}")}}, "needs 2 to 10 digits"),
        (
            {"shop.Customer": {"national_id": Pseudonymize("8{digits:2}-{digits:2}-{digits:4}")}},
            "do not have the shape",
        ),
    ],
)
def test_invalid_rules_are_rejected_before_any_write(rules, message):
    before = checksum("public", "shop_customer")
    with pytest.raises(WorkshopError) as error:
        build(rules, target="anon_bad", key=KEY, progress=False)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert not {"anon_bad", "anon_bad__building"} & schemas()
    assert checksum("public", "shop_customer") == before


def test_a_failure_mid_run_leaves_source_and_previous_copy_untouched(anon):
    before = {t: checksum("public", t) for t in ("shop_customer", "shop_review")}
    previous = checksum("anon_t", "shop_review")
    rules = shop_rules()
    # Valid for the column's type, but the copy's CHECK (rating 1..5) refuses it: the
    # failure comes after tables were already filled.
    rules["shop.Review"] = {"rating": Static(9)}
    with pytest.raises(WorkshopError) as error:
        build(rules, target="anon_t", key=KEY, progress=False)
    assert "review_rating_1_to_5" in str(error.value)
    assert {t: checksum("public", t) for t in before} == before
    assert checksum("anon_t", "shop_review") == previous
    assert "anon_t__building" not in schemas()


def test_missing_or_weak_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", "short")
    with pytest.raises(WorkshopError, match="too short"):
        keys.load_key()
    monkeypatch.delenv("WORKSHOP_ANONYMIZE_KEY")
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "state"))
    key = keys.load_key()
    path = tmp_path / "state" / "anonymize.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.load_key() == key and len(key) >= 32
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", "x" * 20)
    assert keys.load_key() == b"x" * 20
    path.chmod(0o644)
    monkeypatch.delenv("WORKSHOP_ANONYMIZE_KEY")
    with pytest.raises(WorkshopError, match="readable by other users"):
        keys.load_key()


# --- each strategy, through the same SQL the engine runs ----------------------------------


def sample(field, strategy, model="shop.Customer"):
    frame = preview(model, field, strategy, limit=50, key=KEY)
    assert len(frame) == (50 if model == "shop.Customer" else 8)  # tiny: 400 customers, 8 staff
    return list(zip(frame.before, frame.after))


def test_suppress_and_static():
    assert {after for _, after in sample("street_address", Suppress())} == {""}
    assert {after for _, after in sample("city", Static("Springfield"))} == {"Springfield"}


def test_mask_keeps_the_format():
    for before, after in sample("email", Mask("email"), model="auth.User"):
        assert after == before[0] + "***@" + before.split("@")[1]
    for before, after in sample("phone", Mask("digits", keep=4)):
        assert len(after) == len(before) and after[-4:] == before[-4:]
        assert after[:-4] == "".join("*" if ch.isdigit() else ch for ch in before[:-4])


def test_fake_is_seeded_and_locale_aware():
    french = set(pools.draw("first_name", "fr_FR", 0, 1000, 60))
    first = sample("first_name", Fake("first_name", locale="fr_FR"))
    assert all(after in french and after != before for before, after in first)
    assert sample("first_name", Fake("first_name", locale="fr_FR")) == first
    assert sample("first_name", Fake("first_name", locale="fr_FR", seed=1)) != first


def test_pseudonymize_by_template_and_permutation():
    for before, after in sample("phone", Pseudonymize("({digits:3}) 555-{digits:4}")):
        expected = int(hmac.new(keys.derive(KEY, "hmac"), before.encode(), hashlib.sha256).hexdigest()[:15], 16) % 10**7
        assert after == f"({expected // 10_000:03d}) 555-{expected % 10_000:04d}"


def test_generalization_and_noise_are_bounded():
    for before, after in sample("birth_date", GeneralizeDate(10)):
        assert after == f"{int(before[:4]) // 10 * 10}-01-01"
    for before, after in sample("zip_code", KeepPrefix(3)):
        assert after == before[:3] + "*" * (len(before) - 3)
    shifts = [
        (datetime.date.fromisoformat(a) - datetime.date.fromisoformat(b)).days
        for b, a in sample("birth_date", Noise(7))
    ]
    assert all(-7 <= s <= 7 for s in shifts) and len(set(shifts)) > 5


def test_shuffle_is_a_permutation_of_the_column():
    with db.connect() as conn:
        total = conn.execute("SELECT count(*) FROM public.shop_customer").fetchone()[0]
    frame = preview("shop.Customer", "city", Shuffle(seed=3), limit=total, key=KEY)
    assert sorted(frame.before) == sorted(frame.after)
    assert (frame.before != frame.after).mean() > 0.5
