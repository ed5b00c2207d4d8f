"""How identifiable is a table? k-anonymity and unique records over quasi-identifiers,
a linkage attack with a voter-roll-like table, and a leak scan of the anonymized copy.

Everything is one GROUP BY or JOIN in PostgreSQL; the generalization levels are a fixed
menu of SQL expressions (no user text reaches the SQL).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from workshop.anonymize import db
from workshop.errors import WorkshopError

BIRTH_LEVELS = ("date", "month", "year", "5 years", "10 years", "hidden")
VOTER_SEED = 1987


@dataclass(frozen=True)
class Generalization:
    birth: str = "date"  # one of BIRTH_LEVELS
    zip_digits: int = 5  # 0 hides the ZIP
    gender: bool = True

    def __post_init__(self):
        if self.birth not in BIRTH_LEVELS:
            raise WorkshopError(f"Unknown birth date level {self.birth!r}", f"use one of: {', '.join(BIRTH_LEVELS)}")
        if not 0 <= self.zip_digits <= 5:
            raise WorkshopError(f"zip_digits={self.zip_digits}", "use 0 to 5")

    def expressions(self, alias: str) -> list[sql.Composable]:
        birth = sql.Identifier(alias, "birth_date")
        year = sql.SQL("extract(year FROM {})::int").format(birth)
        by_level = {
            "date": birth,
            "month": sql.SQL("date_trunc('month', {})").format(birth),
            "year": year,
            "5 years": sql.SQL("{y} - mod({y}, 5)").format(y=year),
            "10 years": sql.SQL("{y} - mod({y}, 10)").format(y=year),
            "hidden": None,
        }
        out = [e for e in [by_level[self.birth]] if e is not None]
        if self.zip_digits:
            out.append(sql.SQL("left({}, {})").format(sql.Identifier(alias, "zip_code"), sql.Literal(self.zip_digits)))
        if self.gender:
            out.append(sql.Identifier(alias, "gender"))
        return out or [sql.SQL("()")]  # nothing kept: one class of everyone (GROUP BY ())

    def describe(self) -> str:
        parts = [f"birth {self.birth}"] + ([f"ZIP {self.zip_digits} digits"] if self.zip_digits else ["no ZIP"])
        return ", ".join(parts + (["gender"] if self.gender else []))


@dataclass(frozen=True)
class KAnonymity:
    rows: int
    classes: int
    k: int  # the smallest equivalence class
    unique_records: int  # records alone in their class
    class_sizes: dict[int, int]  # class size -> records in classes of that size

    @property
    def unique_share(self) -> float:
        return self.unique_records / self.rows if self.rows else 0.0

    def records_with_k_below(self, k: int) -> int:
        return sum(records for size, records in self.class_sizes.items() if size < k)


def k_anonymity(
    generalization: Generalization = Generalization(),
    *,
    schema: str = "public",
    table: str = "shop_customer",
    conn=None,
) -> KAnonymity:
    """Equivalence classes over (birth date, ZIP, gender) as generalized."""
    db.check_schema_name(schema)
    query = sql.SQL(
        "SELECT size, count(*) * size FROM (SELECT count(*) AS size FROM {t} AS c GROUP BY {qi}) g GROUP BY size ORDER BY size"
    ).format(t=sql.Identifier(schema, table), qi=sql.SQL(", ").join(generalization.expressions("c")))
    with _conn(conn) as c:
        require_table(c, schema, table)
        sizes = {int(size): int(records) for size, records in c.execute(query).fetchall()}
    rows = sum(sizes.values())
    return KAnonymity(
        rows=rows,
        classes=sum(records // size for size, records in sizes.items()),
        k=min(sizes) if sizes else 0,
        unique_records=sizes.get(1, 0),
        class_sizes=sizes,
    )


def require_table(c, schema: str, table: str) -> None:
    """A one-line error naming what to build, instead of PostgreSQL's UndefinedTable."""
    if c.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone()[0] is None:
        raise WorkshopError(
            f"There is no table {table} in schema {schema!r}",
            "build the anonymized copy first (build(target=...)) or measure schema 'public'",
        )


@dataclass(frozen=True)
class Linkage:
    voters: int  # people in the external table
    linked: int  # voters matching exactly one released record
    correct: int  # ... and it is really them

    @property
    def reidentified_share(self) -> float:
        return self.correct / self.voters if self.voters else 0.0


def voter_roll_sql(source: str = "public", percent: int = 30) -> sql.Composable:
    """An 'external' public list: name, birth date, ZIP and gender of a sample of the
    customers (a voter roll holds exactly these for most adults)."""
    return sql.SQL(
        "SELECT id, first_name, last_name, birth_date, zip_code, gender FROM {t} "
        "WHERE mod(abs(hashint8extended(id, {seed})), 100) < {p}"
    ).format(t=sql.Identifier(source, "shop_customer"), seed=sql.Literal(VOTER_SEED), p=sql.Literal(percent))


def linkage_attack(
    released: str,
    generalization: Generalization = Generalization(),
    *,
    source: str = "public",
    percent: int = 30,
    conn=None,
) -> Linkage:
    """Join the voter roll to the released customers on the quasi-identifiers, generalized
    the way the release is. A voter with exactly one candidate is re-identified; the id
    (kept in the copy) is the ground truth that says whether the attacker got it right."""
    # Plain equality (the quasi-identifiers are NOT NULL): it lets PostgreSQL hash-join;
    # IS NOT DISTINCT FROM would compare every voter with every record.
    pairs = [
        sql.SQL("{} = {}").format(a, b)
        for a, b in zip(generalization.expressions("v"), generalization.expressions("r"))
    ]
    hidden = generalization.birth == "hidden" and not generalization.zip_digits and not generalization.gender
    on = sql.SQL("true") if hidden else sql.SQL(" AND ").join(pairs)
    query = sql.SQL(
        "WITH v AS ({voters}), m AS (SELECT v.id, count(r.id) AS n, min(r.id) AS rid FROM v "
        "LEFT JOIN {rel} AS r ON {on} GROUP BY v.id) "
        "SELECT count(*), count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n = 1 AND rid = id) FROM m"
    ).format(voters=voter_roll_sql(source, percent), rel=sql.Identifier(released, "shop_customer"), on=on)
    with _conn(conn) as c:
        voters, linked, correct = c.execute(query).fetchone()
    return Linkage(voters, linked, correct)


def leak_scan(
    rules: dict | None = None, *, target: str = "anon", source: str = "public", min_length: int = 3, conn=None
):
    """Every original value of every identifying-rule column, looked up in every text
    column of every table of the copy. Returns a DataFrame of hits.

    `rewritten` tells whether the column holding the hit was replaced by an identifying
    rule; `leak` is a hit there of a value some rule had to replace (a suppressed city
    that happens to be a fake surname, Jackson, is not one: the rule never produces
    values). A hit in a column copied as is (a customer named Davis, a city named Davis)
    is data the source also holds outside the personal columns; it is listed so a person
    can judge (a forgotten personal column shows up there too).

    Original values are never shown: `example` is masked to its first letter.
    """
    import pandas as pd

    from workshop.anonymize import rules as rules_mod
    from workshop.anonymize.shop_rules import shop_rules

    resolved = rules_mod.validate(rules if rules is not None else shop_rules())
    with _conn(conn) as c:
        with c.transaction():
            c.execute("CREATE TEMP TABLE pii_values (v text, origin text) ON COMMIT DROP")
            for t in resolved:
                for column, strategy in t.rules:
                    if strategy.identifying and column.kind in ("CharField", "TextField", "EmailField"):
                        c.execute(
                            sql.SQL(
                                "INSERT INTO pii_values SELECT DISTINCT {c}, {o} FROM {t} WHERE length({c}) >= {n}"
                            ).format(
                                c=sql.Identifier(column.name),
                                o=sql.Literal(column.label),
                                t=sql.Identifier(source, t.table),
                                n=sql.Literal(min_length),
                            )
                        )
            c.execute("CREATE INDEX ON pii_values (v)")
            c.execute("ANALYZE pii_values")
            columns = c.execute(
                "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' "
                "AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype) "
                "ORDER BY 1, 2",
                [target],
            ).fetchall()
            if not columns:
                raise WorkshopError(
                    f"Schema {target!r} has no text columns to scan", "run workshop.anonymize.build() first"
                )
            rewritten = {(t.table, c.name) for t in resolved for c, s in t.rules if s.identifying}
            constant = {c.label for t in resolved for c, s in t.rules if s.name in ("suppress", "static")}
            hits = []
            for table, column in columns:
                for origin, count, example in c.execute(
                    sql.SQL(
                        "SELECT p.origin, count(*), left(min(x.{c}), 1) || '***' FROM {t} AS x JOIN pii_values p "
                        "ON p.v = x.{c}::text GROUP BY p.origin"
                    ).format(c=sql.Identifier(column), t=sql.Identifier(target, table))
                ):
                    hits.append(
                        {
                            "original column": origin,
                            "found in": f"{table}.{column}",
                            "rows": count,
                            "example": example,
                            "rewritten": (table, column) in rewritten,
                            "leak": (table, column) in rewritten and origin not in constant,
                        }
                    )
    return pd.DataFrame(hits, columns=["original column", "found in", "rows", "example", "rewritten", "leak"])


def leaks(scan) -> int:
    """Rows where an original value survived in a column the rules rewrote."""
    return int(scan.loc[scan["leak"], "rows"].sum()) if len(scan) else 0


class _conn:
    """Use the caller's connection, or open (and close) one of our own."""

    def __init__(self, conn):
        self.given, self.conn = conn, None

    def __enter__(self):
        if self.given is None:
            from workshop.django_setup import require_setup

            require_setup()  # used before workshop.setup(): say which cell to run
        self.conn = self.given or db.connect()
        return self.conn

    def __exit__(self, *exc):
        if self.given is None:
            self.conn.close()


def free_text_leaks(target: str = "anon", *, source: str = "public", rules: dict | None = None, conn=None):
    """Customers' emails and full names ("First Last") written inside free text of the copy
    (review bodies, titles, descriptions: text columns and long varchars), matched against
    the source's customers. Returns a DataFrame of counts; no value is shown.

    Columns an identifying rule of `rules` (default: the shop's) rewrote are not free text
    copied from the source: they hold the strategy's output. A fake street address such as
    "12 Jennifer Hills" is drawn from the same Faker vocabulary as the customers' names and
    matches someone's "First Last" by chance, not because a person's name leaked; whether
    an original value survives there is what leak_scan checks."""
    import pandas as pd

    from workshop.anonymize import rules as rules_mod
    from workshop.anonymize.shop_rules import shop_rules

    rewritten = {
        (t.table, column.name)
        for t in rules_mod.validate(rules if rules is not None else shop_rules())
        for column, strategy in t.rules
        if strategy.identifying
    }
    pattern_email = r"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+)"
    pattern_name = r"([A-Z][a-z]+ [A-Z][a-z'-]+)"
    hits = []
    with _conn(conn) as c:
        columns = c.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 "
            "AND NOT a.attisdropped AND (a.atttypid = 'text'::regtype OR (a.atttypid = 'varchar'::regtype AND a.atttypmod - 4 >= 100)) "
            "ORDER BY 1, 2",
            [target],
        ).fetchall()
        customers = sql.Identifier(source, "shop_customer")
        for table, column in columns:
            if (table, column) in rewritten:
                continue
            t, col = sql.Identifier(target, table), sql.Identifier(column)
            emails, names = c.execute(
                sql.SQL(
                    "SELECT (SELECT count(*) FROM {t} AS x, regexp_matches(x.{c}, {pe}, 'g') AS m "
                    "        WHERE EXISTS (SELECT 1 FROM {cu} AS p WHERE p.email = m[1])), "
                    "       (SELECT count(*) FROM {t} AS x, regexp_matches(x.{c}, {pn}, 'g') AS m "
                    "        WHERE EXISTS (SELECT 1 FROM {cu} AS p WHERE p.first_name || ' ' || p.last_name = m[1]))"
                ).format(t=t, c=col, pe=sql.Literal(pattern_email), pn=sql.Literal(pattern_name), cu=customers)
            ).fetchone()
            for kind, count in (("email", emails), ("full name", names)):
                if count:
                    hits.append({"found in": f"{table}.{column}", "what": f"a customer's {kind}", "rows": int(count)})
    return pd.DataFrame(hits, columns=["found in", "what", "rows"])
