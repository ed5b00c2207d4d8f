"""What each searchable kind is: its model, its text fields and their weights, the facet,
the document as SQL (for the outbox trigger) and as Python (for the signal handlers).

Both builders must produce the same document for the same row: the consistency checks
compare what Elasticsearch holds with what the database says."""

from __future__ import annotations

from dataclasses import dataclass

# How much a match weighs by where it is: PostgreSQL's ts_rank weights for the tsvector labels
# (its defaults, {D, C, B, A} = {0.1, 0.2, 0.4, 1.0}: the docs' "Ranking Search Results"),
# given explicitly. Elasticsearch gets the same ratios as query-time boosts (index-time
# boosts in a mapping are deprecated since Elasticsearch 5), relative to C.
RANK_WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}


def boosts(labels: dict[str, str]) -> dict[str, float]:
    """{field: label} -> {field: Elasticsearch boost}: title A 5, brand B 2, description C 1."""
    return {field: RANK_WEIGHTS[label] / RANK_WEIGHTS["C"] for field, label in labels.items()}


@dataclass(frozen=True)
class Dependency:
    """A joined table whose columns the documents copy (the category's name and slug): when
    they change, the documents of the rows `affected_sql` selects must be rebuilt too.
    `affected_sql` selects this kind's ids over `changed` (the ids of the changed rows)."""

    table: str
    columns: tuple[str, ...]
    affected_sql: str


@dataclass(frozen=True)
class Kind:
    name: str  # "product" | "review"
    table: str
    model_label: str
    text_fields: dict[str, float]  # Elasticsearch field -> boost, from the labels pg.VECTOR_SQL gives them
    keyword_fields: tuple[str, ...]
    number_fields: dict[str, str]  # field -> Elasticsearch type
    facet: str  # ORM path of the facet (category name)
    headline_fields: tuple[str, ...]
    # jsonb_build_object(...) arguments over the row alias `n` (and joins below), for the trigger
    payload_sql: str
    payload_joins: str = ""
    columns: tuple[str, ...] = ()  # the table's columns the document reads: other updates index nothing
    dependencies: tuple[Dependency, ...] = ()

    def model(self):
        from django.apps import apps

        return apps.get_model(self.model_label)


PRODUCT = Kind(
    name="product",
    table="shop_product",
    model_label="shop.Product",
    text_fields=boosts({"title": "A", "brand": "B", "category": "B", "description": "C"}),
    keyword_fields=("category_slug",),
    number_fields={"price": "float", "category_id": "long"},
    facet="category__name",
    headline_fields=("title", "description"),
    payload_sql=(
        "'title', n.title, 'brand', n.brand, 'category', c.name, 'category_slug', c.slug, "
        "'category_id', n.category_id, 'description', n.description, 'price', n.price::float8"
    ),
    payload_joins="JOIN shop_category c ON c.id = n.category_id",
    columns=("title", "brand", "description", "category_id", "price"),
    dependencies=(
        Dependency(
            "shop_category",
            ("name", "slug"),
            "SELECT p.id FROM shop_product p JOIN changed ch ON ch.id = p.category_id",
        ),
    ),
)

REVIEW = Kind(
    name="review",
    table="shop_review",
    model_label="shop.Review",
    text_fields=boosts({"title": "A", "body": "B", "category": "C"}),
    keyword_fields=("category_slug",),
    number_fields={"rating": "integer", "product_id": "long"},
    facet="product__category__name",
    headline_fields=("title", "body"),
    payload_sql=(
        "'title', n.title, 'body', n.body, 'rating', n.rating, 'product_id', n.product_id, "
        "'category', c.name, 'category_slug', c.slug"
    ),
    payload_joins="JOIN shop_product p ON p.id = n.product_id JOIN shop_category c ON c.id = p.category_id",
    columns=("title", "body", "rating", "product_id"),
    dependencies=(
        Dependency(
            "shop_category",
            ("name", "slug"),
            "SELECT r.id FROM shop_review r JOIN shop_product p ON p.id = r.product_id JOIN changed ch ON ch.id = p.category_id",
        ),
        Dependency(
            "shop_product", ("category_id",), "SELECT r.id FROM shop_review r JOIN changed ch ON ch.id = r.product_id"
        ),
    ),
)

KINDS = {k.name: k for k in (PRODUCT, REVIEW)}


def document(kind: Kind, obj) -> dict:
    """The document for one model instance, in Python (the signal handlers use this)."""
    if kind is PRODUCT:
        category = obj.category
        return {
            "title": obj.title,
            "brand": obj.brand,
            "category": category.name,
            "category_slug": category.slug,
            "category_id": obj.category_id,
            "description": obj.description,
            "price": float(obj.price),
        }
    category = obj.product.category
    return {
        "title": obj.title,
        "body": obj.body,
        "rating": obj.rating,
        "product_id": obj.product_id,
        "category": category.name,
        "category_slug": category.slug,
    }


def documents_sql(kind: Kind) -> str:
    """SELECT id, document for every row (backfills and consistency checks)."""
    return f"SELECT n.id, jsonb_build_object({kind.payload_sql}) FROM {kind.table} n {kind.payload_joins}"
