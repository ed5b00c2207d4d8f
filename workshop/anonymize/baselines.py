"""What the engine is compared with: the same customer rules applied in Python, row by
row, through the ORM. Used by the benchmark only; both run inside a transaction that is
rolled back, so the database is left as it was (and the loop is spared a commit per row,
which only flatters it).

Updating in place, a permuted national id can equal the original of a row not updated
yet, and the (not deferrable) unique constraint fails half-way: an in-place run must drop
it first. Here that happens inside the rolled-back transaction, which again flatters the
baselines (one index less to maintain). The engine writes a copy and never meets this.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac

from psycopg import sql

from workshop.anonymize import keys, sqlhash
from workshop.anonymize.shop_rules import NATIONAL_ID

FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "national_id",
    "birth_date",
    "street_address",
    "zip_code",
    "created_at",
]


class PythonRules:
    """The shop's customer rules, one object at a time."""

    def __init__(self, master: bytes) -> None:
        from faker import Faker

        self.key = keys.derive(master, "hmac")
        self.fake = Faker("en_US")
        self.fake.seed_instance(0)
        self.fpe = sqlhash.feistel_tables(self.key, f"fpe|{NATIONAL_ID.template}", 10_000, 10_000)

    def apply(self, c) -> None:
        digest = hmac.new(self.key, c.email.encode(), hashlib.sha256).hexdigest()
        phone = int(hmac.new(self.key, c.phone.encode(), hashlib.sha256).hexdigest()[:15], 16) % 10**9
        nid = int(c.national_id[1:].replace("-", ""))
        nid = sqlhash.feistel_python(nid, self.fpe, 10_000, 10_000)
        c.first_name = self.fake.first_name()
        c.last_name = self.fake.last_name()
        c.email = f"{digest[:16]}@example.com"
        c.phone = f"(0{phone // 10**7:02d}) {phone // 10_000 % 1000:03d}-{phone % 10_000:04d}"
        c.national_id = f"9{nid // 10**6:02d}-{nid // 10**4 % 100:02d}-{nid % 10**4:04d}"
        c.birth_date = datetime.date(c.birth_date.year, 1, 1)
        c.street_address = self.fake.street_address()[:120]
        c.zip_code = c.zip_code[:3].ljust(len(c.zip_code), "*")
        c.created_at = c.created_at + datetime.timedelta(days=self.fake.random_int(-3, 3))


def _drop_national_id_unique(cursor) -> None:
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'shop_customer'::regclass AND contype = 'u' "
        "AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = 'shop_customer'::regclass "
        "AND attname = 'national_id')]::int2[]"
    )
    for (name,) in cursor.fetchall():
        cursor.execute(sql.SQL("ALTER TABLE shop_customer DROP CONSTRAINT {}").format(sql.Identifier(name)))


def naive_loop(master: bytes, limit: int) -> int:
    """`obj.field = fake(); obj.save()` for each customer."""
    from django.db import connection, transaction

    from workshop.shop.models import Customer

    rules, n = PythonRules(master), 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            _drop_national_id_unique(cursor)
        for customer in Customer.objects.order_by("id")[:limit].iterator(chunk_size=2000):
            rules.apply(customer)
            customer.save()
            n += 1
        transaction.set_rollback(True)
    return n


def bulk(master: bytes, limit: int, batch_size: int = 1000) -> int:
    """Load, change in Python, write back with bulk_update (CASE WHEN per row and field)."""
    from django.db import connection, transaction

    from workshop.shop.models import Customer

    rules = PythonRules(master)
    with transaction.atomic():
        with connection.cursor() as cursor:
            _drop_national_id_unique(cursor)
        customers = list(Customer.objects.order_by("id")[:limit])
        for customer in customers:
            rules.apply(customer)
        Customer.objects.bulk_update(customers, FIELDS, batch_size=batch_size)
        transaction.set_rollback(True)
    return len(customers)
