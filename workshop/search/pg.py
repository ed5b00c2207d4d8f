"""PostgreSQL full-text search: a tsvector per product and per review kept by triggers in
the writing transaction (so it is never out of step: it commits or rolls back with the
row), GIN indexes, SearchRank / SearchHeadline, and typo tolerance without pg_trgm.

Typo tolerance: the embedded server has no contrib extensions (no pg_trgm, no fuzzystrmatch).
Instead, a vocabulary of the words in the searchable text (ts_stat over an unstemmed
'simple' tsvector) stores each word's trigrams as a text[] with a GIN index (built in:
array_ops). A word of the query that is not in the vocabulary is compared with the words
sharing a trigram with it (`&&`, index-assisted), by trigram similarity |A∩B| / |A∪B|
computed in plain SQL (pg_trgm's definition); the best one above a threshold is searched
too ("did you mean"). The vocabulary is rebuilt on demand: it only guides corrections.
"""

from __future__ import annotations

from workshop.django_setup import require_setup
from workshop.search import triggers as trigger_sql
from workshop.search.documents import KINDS, PRODUCT, REVIEW, Kind
from workshop.search.query import Query

require_setup()

from django.db import connection, transaction  # noqa: E402

CONFIG = "english"  # PostgreSQL ships this dictionary (snowball stemmer) even without contrib
SIMILARITY_THRESHOLD = 0.35

VECTOR_SQL = {
    "product": (
        "search_productvector",
        "product_id",
        "setweight(to_tsvector('english', coalesce(n.title, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(n.brand, '') || ' ' || coalesce(c.name, '')), 'B') || "
        "setweight(to_tsvector('english', coalesce(n.description, '')), 'C')",
    ),
    "review": (
        "search_reviewvector",
        "review_id",
        "setweight(to_tsvector('english', coalesce(n.title, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(n.body, '')), 'B') || "
        "setweight(to_tsvector('english', coalesce(c.name, '')), 'C')",
    ),
}

FUNCTIONS = [
    # pg_trgm's trigrams: lower-cased, two spaces before, one after; distinct
    """CREATE OR REPLACE FUNCTION search_trigrams(word text) RETURNS text[]
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
         SELECT coalesce(array_agg(DISTINCT substr('  ' || lower(word) || ' ', i, 3)), '{}')
           FROM generate_series(1, length(word) + 1) AS i $$""",
    """CREATE OR REPLACE FUNCTION search_similarity(a text[], b text[]) RETURNS float8
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
         SELECT (SELECT count(*) FROM (SELECT unnest(a) INTERSECT SELECT unnest(b)) i)::float8
                / greatest((SELECT count(*) FROM (SELECT unnest(a) UNION SELECT unnest(b)) u), 1) $$""",
]


# the columns the vectors read (price and rating are not searched as text)
VECTOR_COLUMNS = {
    "product": ("title", "brand", "description", "category_id"),
    "review": ("title", "body", "product_id"),
}


def _trigger_sql(kind: Kind) -> list[str]:
    table, key, vector = VECTOR_SQL[kind.name]
    k, t = kind.name, kind.table

    def upsert(source: trigger_sql.Source) -> str:
        return f"""  {source.with_sql}
  INSERT INTO {table} ({key}, document)
  SELECT n.id, {vector} {source.from_sql} {source.lock}
  ON CONFLICT ({key}) DO UPDATE SET document = EXCLUDED.document;"""

    return [
        *trigger_sql.statements("vector", kind, VECTOR_COLUMNS[k], upsert),
        f"""CREATE OR REPLACE FUNCTION search_vector_{k}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {table} WHERE {key} IN (SELECT id FROM old_rows);
  RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION search_vector_{k}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE {table};
  RETURN NULL;
END $$""",
        f"DROP TRIGGER IF EXISTS search_vector_del ON {t}",
        f"CREATE TRIGGER search_vector_del AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION search_vector_{k}_delete()",
        f"DROP TRIGGER IF EXISTS search_vector_trunc ON {t}",
        f"CREATE TRIGGER search_vector_trunc AFTER TRUNCATE ON {t} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION search_vector_{k}_truncate()",
    ]


def installed() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'search_vector_ins'")
        return cur.fetchone()[0] == len(KINDS)


def install() -> int:
    """Functions and triggers (idempotent); the first time, compute every vector and the
    vocabulary. Returns the vectors computed."""
    computed = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('workshop.search.pg.install'))")
        first = not installed()
        for statement in FUNCTIONS:
            cur.execute(statement)
        for kind in KINDS.values():
            for statement in _trigger_sql(kind):
                cur.execute(statement)
        if first:
            computed = rebuild(cur)
    if first:
        refresh_vocabulary()
    return computed


def rebuild(cur=None) -> int:
    """Recompute every vector (what the triggers keep up to date afterwards)."""

    def run(c) -> int:
        total = 0
        for kind in KINDS.values():
            table, key, vector = VECTOR_SQL[kind.name]
            c.execute(f"TRUNCATE {table}")
            c.execute(
                f"INSERT INTO {table} ({key}, document) SELECT n.id, {vector} FROM {kind.table} n {kind.payload_joins}"
            )
            total += c.rowcount
            # a bulk insert leaves its entries in the GIN's pending list (fastupdate): move them into
            # the index now, and give the planner statistics, or the first searches scan the list
            c.execute(f"SELECT gin_clean_pending_list('search_{kind.name}_document_gin'::regclass)")
            c.execute(f"ANALYZE {table}")
        return total

    if cur is not None:
        return run(cur)
    with transaction.atomic(), connection.cursor() as c:
        return run(c)


def triggers() -> list[tuple[str, str]]:
    """(table, trigger) of every search trigger in this database (the vectors' and the outbox's)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE 'search\\_%%' ORDER BY 1, 2"
        )
        return cur.fetchall()


def uninstall() -> None:
    with connection.cursor() as cur:
        for kind in KINDS.values():
            for statement in trigger_sql.drop_statements("vector", kind):
                cur.execute(statement)


# --- typo tolerance ------------------------------------------------------------------------


def refresh_vocabulary() -> int:
    """Rebuild the word list (words of 3+ letters, no digits) with their trigrams."""
    source = (
        "SELECT to_tsvector('simple', title || ' ' || brand || ' ' || description) FROM shop_product "
        "UNION ALL SELECT to_tsvector('simple', title || ' ' || body) FROM shop_review"
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM search_lexeme")
        cur.execute(
            "INSERT INTO search_lexeme (word, documents, trigrams) "
            "SELECT word, ndoc, search_trigrams(word) FROM ts_stat(%s) "
            "WHERE length(word) >= 3 AND word !~ '[0-9_]'",
            [source],
        )
        return cur.rowcount


def corrections(words: list[str], threshold: float = SIMILARITY_THRESHOLD) -> dict[str, str]:
    """{misspelt word: closest vocabulary word} for the words the vocabulary lacks.

    Candidates share a trigram with the word (GIN on the trigram arrays). The best by
    trigram similarity wins when it reaches the threshold; short words with swapped
    letters share few trigrams ("lmap" and "lamp": 1 of 9), so otherwise the candidates of
    about the same length within one edit (a transposition counts as one) are taken,
    the most frequent first."""
    found: dict[str, str] = {}
    candidates_for = [w for w in dict.fromkeys(words) if len(w) >= 3 and not any(ch.isdigit() for ch in w)]
    if not candidates_for:
        return found
    with connection.cursor() as cur:
        cur.execute("SELECT word FROM search_lexeme WHERE word = ANY(%s)", [candidates_for])
        known = {row[0] for row in cur.fetchall()}
        for word in candidates_for:
            if word in known:
                continue
            cur.execute(
                "SELECT word, search_similarity(trigrams, search_trigrams(%s)) AS similarity, documents "
                "FROM search_lexeme WHERE trigrams && search_trigrams(%s) "
                "AND length(word) BETWEEN %s AND %s "
                "ORDER BY similarity DESC, documents DESC, word LIMIT 200",
                [word, word, len(word) - 2, len(word) + 2],
            )
            candidates = cur.fetchall()
            if candidates and candidates[0][1] >= threshold:
                found[word] = candidates[0][0]
                continue
            close = [(-documents, other) for other, _sim, documents in candidates if edit_distance(word, other) <= 1]
            if close:
                found[word] = min(close)[1]
    return found


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbours costs one (optimal string alignment)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


# --- queries -------------------------------------------------------------------------------


def search_query(query: Query, corrected: dict[str, str] | None = None):
    """A Django SearchQuery for a parsed query: terms as parameters, never as tsquery text."""
    from django.contrib.postgres.search import SearchQuery

    corrected = corrected or {}

    def term(t):
        if t.phrase:
            return SearchQuery(t.text, search_type="phrase", config=CONFIG)
        q = SearchQuery(t.text, search_type="plain", config=CONFIG)
        if t.text in corrected:  # the word as typed, or what it probably meant
            q = q | SearchQuery(corrected[t.text], search_type="plain", config=CONFIG)
        return q

    combined = None
    for group in query.groups:
        alternatives = None
        for t in group:
            alternatives = term(t) if alternatives is None else alternatives | term(t)
        combined = alternatives if combined is None else combined & alternatives
    for t in query.excluded:
        combined = combined & ~term(t)
    return combined


def rank_weights(flat: bool = False) -> list[float]:
    """SearchRank's weights in PostgreSQL's order (D, C, B, A); flat: every label the same."""
    from workshop.search.documents import RANK_WEIGHTS

    return [1.0] * 4 if flat else [RANK_WEIGHTS[label] for label in "DCBA"]


def vector_path(kind: Kind) -> str:
    return "search_vector__document"


def kinds_for(model) -> Kind:
    return PRODUCT if model._meta.label == PRODUCT.model_label else REVIEW
