"""The search chapter's tables. They are created by the migration but stay empty and
inert until a backend is installed (`workshop.search.install()`): the triggers that fill
them live on the shop's tables only in databases that use search, so the other chapters'
loads and benchmarks never pay for them."""

from __future__ import annotations

from workshop.django_setup import require_setup

require_setup()

from django.contrib.postgres.fields import ArrayField  # noqa: E402
from django.contrib.postgres.indexes import GinIndex  # noqa: E402
from django.contrib.postgres.search import SearchVectorField  # noqa: E402
from django.db import models  # noqa: E402


class OutboxEvent(models.Model):
    """One change to a searchable row, written by a trigger in the writing transaction.

    The id comes from a sequence and doubles as the Elasticsearch external version: two
    writes to the same row are serialized by its row lock and the trigger runs while the
    lock is held, so for one row a later commit always gets a larger id."""

    class Op(models.TextChoices):
        INDEX = "index"
        DELETE = "delete"
        TRUNCATE = "truncate"  # the whole table was emptied (the dataset loader does that)

    kind = models.CharField(max_length=20)  # "product" | "review"
    object_id = models.BigIntegerField(null=True)
    op = models.CharField(max_length=10, choices=Op.choices)
    payload = models.JSONField(null=True)  # the document as it was in that transaction
    created_at = models.DateTimeField(db_default=models.functions.Now())
    attempts = models.PositiveIntegerField(db_default=0)  # times Elasticsearch refused this event
    last_error = models.TextField(db_default="")

    def __str__(self) -> str:
        return f"#{self.pk} {self.op} {self.kind} {self.object_id}"


class DeadLetter(models.Model):
    """An outbox event Elasticsearch refused `relay.MAX_ATTEMPTS` times (a document the
    mapping rejects, say): set aside so the events behind it keep flowing. Shown by
    `workshop search status`; fix the cause, then `outbox.retry_dead_letters()`."""

    event_id = models.BigIntegerField()  # the outbox event's id (its external version)
    kind = models.CharField(max_length=20)
    object_id = models.BigIntegerField(null=True)
    op = models.CharField(max_length=10)
    payload = models.JSONField(null=True)
    attempts = models.PositiveIntegerField()
    error = models.TextField()
    created_at = models.DateTimeField()  # when the change was written
    failed_at = models.DateTimeField(db_default=models.functions.Now())

    def __str__(self) -> str:
        return f"#{self.event_id} {self.op} {self.kind} {self.object_id}: {self.error[:80]}"


class ProductVector(models.Model):
    """The product's tsvector (title A, brand and category B, description C), kept by a
    trigger in the same transaction as the product: PostgreSQL full-text search."""

    product = models.OneToOneField(
        "shop.Product", on_delete=models.DO_NOTHING, primary_key=True, related_name="search_vector", db_constraint=False
    )
    document = SearchVectorField()

    class Meta:
        indexes = [GinIndex(fields=["document"], name="search_product_document_gin")]


class ReviewVector(models.Model):
    """The review's tsvector (title A, body B)."""

    review = models.OneToOneField(
        "shop.Review", on_delete=models.DO_NOTHING, primary_key=True, related_name="search_vector", db_constraint=False
    )
    document = SearchVectorField()

    class Meta:
        indexes = [GinIndex(fields=["document"], name="search_review_document_gin")]


class Lexeme(models.Model):
    """A word of the searchable text (ts_stat over an unstemmed 'simple' vector) with its
    trigrams: the "did you mean" vocabulary for typo tolerance without pg_trgm. The GIN
    index on the trigram array (PostgreSQL's built-in array_ops) finds candidates that
    share a trigram with a misspelt word; the similarity is computed in plain SQL."""

    word = models.TextField(primary_key=True)
    documents = models.IntegerField()
    trigrams = ArrayField(models.TextField())

    class Meta:
        indexes = [GinIndex(fields=["trigrams"], name="search_lexeme_trigrams_gin")]
