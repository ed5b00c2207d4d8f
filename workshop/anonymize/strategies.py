"""The anonymization strategies. Each one checks, before any row is touched, that it can
produce a valid value for its column, and turns into one SQL expression over the source
row `s` (no Python per row). `identifying` strategies must leave no original value behind;
the leak scan holds them to it.
"""

from __future__ import annotations

import math
import numbers
import re
import reprlib
import zlib
from dataclasses import dataclass
from typing import ClassVar

from psycopg import sql

from workshop.anonymize import session_keys, sqlhash
from workshop.anonymize.query import Query
from workshop.errors import WorkshopError

TEXT_TYPES = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}
DATE_TYPES = {"DateField", "DateTimeField"}
INT_TYPES = {
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
}
NUMBER_TYPES = INT_TYPES | {"DecimalField", "FloatField"}


@dataclass(frozen=True)
class Column:
    """What a strategy needs to know about its target column."""

    label: str  # "shop.Customer.email", for messages
    name: str
    kind: str  # Django's internal type: "CharField", "DateField", ...
    db_type: str  # as PostgreSQL prints it: "character varying(254)"
    max_length: int | None
    unique: bool
    null: bool
    positive: bool = False
    decimal_places: int | None = None


class Strategy:
    identifying: ClassVar[bool] = True  # replaces the value: no original may survive
    name: ClassVar[str] = ""

    def check(self, column: Column) -> str | None:
        """A one-line problem, or None when this strategy can fill the column."""
        return None

    def expression(self, q: Query, column: Column) -> sql.Composable:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


# --- parameters, checked in each constructor (a bad value never reaches SQL or a message in full)

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlong = 24
SEED_RANGE = (-(2**63), 2**63 - 1)


def short(value: object) -> str:
    """repr(value), cut to a few dozen characters: messages echo a bad value, never 100k of it."""
    return _REPR.repr(value)


def _refuse(strategy: str, parameter: str, value: object, fix: str) -> None:
    raise WorkshopError(f"{strategy} {parameter}={short(value)} is not usable", fix)


def _whole(strategy: str, parameter: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        _refuse(strategy, parameter, value, f"use a whole number from {low} to {high}")


def _text(strategy: str, parameter: str, value: object, longest: int, choices: tuple = ()) -> None:
    if choices and value not in choices:
        _refuse(strategy, parameter, value, "use " + " or ".join(map(repr, choices)))
    if not isinstance(value, str) or not 0 < len(value) <= longest or "\0" in value:
        _refuse(
            strategy,
            parameter,
            value,
            "use one character" if longest == 1 else f"use text of 1 to {longest} characters, without NUL bytes",
        )


def _text_only(column: Column, what: str) -> str | None:
    if column.kind not in TEXT_TYPES:
        return f"{what} makes text, but {column.label} is a {column.kind}"
    return None


def _no_unique(column: Column, what: str, instead: str) -> str | None:
    if column.unique:
        return f"{what} repeats values, but {column.label} is unique; use {instead}"
    return None


def _fits(column: Column, length: int, what: str) -> str | None:
    if column.max_length is not None and length > column.max_length:
        return f"{what} makes {length}-character values, longer than {column.label}'s max_length {column.max_length}"
    return None


def keyed_draw(q: Query, purpose: str, fallback: str) -> sql.Composable:
    """A keyed pseudo-random bigint in [0, 2^63) per row and purpose.

    One keyed hash per row (sqlhash.keyed_int64_sql of its primary key, else of the column
    `fallback`), computed once and shared by every strategy of the row, then a cheap
    seeded hash per purpose: without
    the key nobody can recompute a draw, hence undo a noise or repeat a pick.
    """
    cache = q.__dict__.setdefault("_row_secrets", {})
    basis = q.pk or fallback
    if basis not in cache:
        cache[basis] = q.let(session_keys.int64_draw(q, sql.SQL("({}::text || '|row')").format(q.col(basis))))
    seed = zlib.crc32(purpose.encode()) - 2**31  # an int4 seed, as hashint8extended takes a bigint
    return sql.SQL("(hashint8extended({}, {}) & 9223372036854775807)").format(cache[basis], sql.Literal(seed))


# --- suppression and static values ------------------------------------------------------


@dataclass(frozen=True)
class Suppress(Strategy):
    """NULL where the column allows it, else an empty string."""

    name: ClassVar[str] = "suppress"

    def check(self, column: Column) -> str | None:
        if column.null:
            return None
        if column.kind not in TEXT_TYPES:
            return f"suppress: {column.label} is a NOT NULL {column.kind}, it can hold neither NULL nor ''; use static or noise"
        return _no_unique(column, "suppress ('' everywhere)", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        return sql.SQL("NULL") if column.null else sql.Literal("")


@dataclass(frozen=True)
class Static(Strategy):
    """The same value in every row."""

    value: object
    name: ClassVar[str] = "static"

    def check(self, column: Column) -> str | None:
        if self.value is None:
            return None if column.null else f"static None: {column.label} is NOT NULL"
        if column.kind in TEXT_TYPES and not isinstance(self.value, str):
            return f"static {short(self.value)}: {column.label} holds text"
        if column.kind in INT_TYPES and (not isinstance(self.value, int) or isinstance(self.value, bool)):
            return f"static {short(self.value)}: {column.label} holds integers"
        if column.positive and isinstance(self.value, int) and self.value < 0:
            return f"static {short(self.value)}: {column.label} holds positive integers"
        if isinstance(self.value, str) and (problem := _fits(column, len(self.value), f"static {short(self.value)}")):
            return problem
        return _no_unique(column, "static", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        return q.param(self.value, column.db_type)

    def describe(self) -> str:
        return f"static {short(self.value)}"


# --- partial masking --------------------------------------------------------------------


@dataclass(frozen=True)
class Mask(Strategy):
    """Hide most of a value but keep its shape.

    kind="email": first letter and domain stay (j***@gmail.com).
    kind="digits": every digit but the last `keep` becomes `*`, punctuation stays
    ((***) ***-1234, ***-**-6789).
    """

    kind: str = "digits"
    keep: int = 4
    name: ClassVar[str] = "mask"

    def __post_init__(self) -> None:
        _text("mask", "kind", self.kind, 6, ("email", "digits"))
        _whole("mask", "keep", self.keep, 0, 64)

    def check(self, column: Column) -> str | None:
        return _text_only(column, "mask") or _no_unique(column, "mask", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        v = q.col(column.name)
        if self.kind == "email":
            return sql.SQL(r"regexp_replace({}, '^(.)[^@]*(@.*)?$', '\1***\2')").format(v)
        # Mask the head, keep the tail; lengths and punctuation do not change.
        return sql.SQL("regexp_replace(left({v}, -{k}), '[0-9]', '*', 'g') || right({v}, {k})").format(
            v=v, k=sql.Literal(self.keep)
        )

    def describe(self) -> str:
        return f"mask {self.kind}"


# --- faking from seeded pools -----------------------------------------------------------


@dataclass(frozen=True)
class Fake(Strategy):
    """A value from a pool drawn once with Faker (locale-aware, seeded) and loaded with COPY.

    by="row": each row picks with a keyed draw (keyed_draw: HMAC of its primary key, then
    the seed), deterministic for a key and seed. by="value": the pick is keyed on the original value with HMAC, so the same
    original gets the same fake everywhere (and nobody without the key can invert it).
    Pool values equal to any original value of a faked column are removed first, so no
    original can come back by coincidence.
    """

    provider: str
    locale: str = "en_US"
    seed: int = 0
    by: str = "row"
    pool_size: int = 1000
    name: ClassVar[str] = "fake"

    def __post_init__(self) -> None:
        _text("fake", "provider", self.provider, 64)
        _text("fake", "locale", self.locale, 16)
        _whole("fake", "seed", self.seed, *SEED_RANGE)
        _text("fake", "by", self.by, 5, ("row", "value"))
        _whole("fake", "pool_size", self.pool_size, 1, 1_000_000)

    def check(self, column: Column) -> str | None:
        from workshop.anonymize import pools

        problem = pools.check_provider(self.provider, self.locale)
        return problem or _text_only(column, "fake") or _no_unique(column, f"fake {self.provider}", "pseudonymize")

    def pool_id(self, column: Column) -> tuple:
        return (self.provider, self.locale, self.seed, self.pool_size, column.max_length)

    def expression(self, q: Query, column: Column) -> sql.Composable:
        pool = q.pools[self.pool_id(column)]
        if self.by == "value":
            index = q.hmac_index(q.col(column.name), pool.size)
        else:
            index = sql.SQL("mod({}, {})").format(
                keyed_draw(q, f"fake|{column.name}|{self.seed}", column.name), sql.Literal(pool.size)
            )
        alias = q.join("LEFT JOIN {pool} AS {alias} ON {alias}.i = {index}", pool=pool.table, index=index)
        value = sql.SQL("{}.v").format(alias)
        if not column.null:
            return value
        # Keep NULLs NULL: a fake value would invent a fact.
        return sql.SQL("CASE WHEN {} IS NULL THEN NULL ELSE {} END").format(q.col(column.name), value)

    def describe(self) -> str:
        return f"fake {self.provider} ({self.locale})"


# --- keyed pseudonyms -------------------------------------------------------------------

_TOKEN = re.compile(r"\{(hex|digits):(\d+)\}")


@dataclass(frozen=True)
class Pseudonymize(Strategy):
    """A keyed pseudonym in a fixed format: HMAC-SHA256 of the value with the secret key.

    template: literal text with {hex:N} or {digits:N} slots, e.g. "{hex:16}@example.com",
    "({digits:3}) 555-{digits:4}". Same value and key: same pseudonym, in every table and
    run. On a unique column a digits-only template becomes a keyed permutation (a Feistel
    network over the digits, source values must have the template's shape), so distinct
    inputs stay distinct; a hex template needs 16+ hex digits (64 bits: a collision among
    a million values has odds of about 3 in 100 million, and the copy's unique index
    would refuse it rather than keep it).
    """

    template: str
    name: ClassVar[str] = "pseudonymize"

    def __post_init__(self) -> None:
        _text("pseudonymize", "template", self.template, 200)

    def parts(self) -> list[tuple[str, str | int]]:
        """[("lit", "text") | ("hex"|"digits", width)] in order."""
        parts, pos = [], 0
        for m in _TOKEN.finditer(self.template):
            if m.start() > pos:
                parts.append(("lit", self.template[pos : m.start()]))
            parts.append((m.group(1), int(m.group(2))))
            pos = m.end()
        if pos < len(self.template):
            parts.append(("lit", self.template[pos:]))
        return parts

    def slots(self) -> list[tuple[str, int]]:
        return [(k, w) for k, w in self.parts() if k != "lit"]

    @property
    def output_length(self) -> int:
        return sum(w if k != "lit" else len(w) for k, w in self.parts())

    def permutes(self, column: Column) -> bool:
        return column.unique and {k for k, _ in self.slots()} == {"digits"}

    def check(self, column: Column) -> str | None:
        slots = self.slots()
        kinds = {k for k, _ in slots}
        width = sum(w for _, w in slots)
        if not slots:
            return f"pseudonymize template {short(self.template)} has no {{hex:N}} or {{digits:N}} slot"
        if len(kinds) > 1:
            return f"pseudonymize template {short(self.template)} mixes hex and digits slots; use one kind"
        if width > (18 if kinds == {"digits"} else 64):
            return f"pseudonymize template {short(self.template)} asks for {width} hashed characters, at most 18 digits or 64 hex"
        problem = _text_only(column, "pseudonymize") or _fits(
            column, self.output_length, f"template {short(self.template)}"
        )
        if problem:
            return problem
        if column.unique and kinds == {"digits"} and not (2 <= width <= 10):
            return f"pseudonymize on unique {column.label}: a digits template needs 2 to 10 digits to be a permutation"
        if column.unique and kinds == {"hex"} and width < 16:
            return f"pseudonymize on unique {column.label}: {width} hex digits may collide; use at least 16"
        return None

    def like_pattern(self) -> str:
        """A LIKE pattern every output of this template matches: `_` per slot character."""

        def escape(text: str) -> str:
            return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

        return "".join(escape(w) if k == "lit" else "_" * w for k, w in self.parts())

    def shape_regex(self) -> str:
        """What a source value must look like for the permutation: the template's shape."""
        return "^" + "".join(re.escape(w) if k == "lit" else f"[0-9]{{{w}}}" for k, w in self.parts()) + "$"

    def _digits_pattern(self) -> str:
        """A to_char() picture: 0 per digit slot, literals quoted (to_char is far cheaper than regexp)."""
        out = ["FM"]
        for kind, value in self.parts():
            if kind == "lit":
                out.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
            else:
                out.append("0" * value)
        return "".join(out)

    def expression(self, q: Query, column: Column, salt: int = 0) -> sql.Composable:
        """salt > 0: another pseudonym for the same value, for the rare one that equals
        somebody's original value (see collisions.py)."""
        v = q.col(column.name)
        kinds = {k for k, _ in self.slots()}
        width = sum(w for _, w in self.slots())
        if self.permutes(column):
            return self._permutation(q, column, width, salt)
        if salt:
            v = sql.SQL("({} || {})").format(v, sql.Literal(f"\x1f{salt}"))
        if kinds == {"digits"}:
            number = q.hmac_index(v, 10**width)
            return sql.SQL("to_char({}, {})").format(number, sql.Literal(self._digits_pattern()))
        hexed = sql.SQL("encode({}, 'hex')").format(q.hmac(v))
        if len(self.slots()) > 1:
            hexed = q.let(hexed)  # several slots read it: compute once
        pieces, pos = [], 1
        for kind, value in self.parts():
            if kind == "lit":
                pieces.append(sql.Literal(value))
            else:
                pieces.append(sql.SQL("substr({}, {}, {})").format(hexed, sql.Literal(pos), sql.Literal(value)))
                pos += value
        return sql.SQL("({})").format(sql.SQL(" || ").join(pieces))

    def _permutation(self, q: Query, column: Column, width: int, salt: int = 0) -> sql.Composable:
        left_digits = width // 2
        left, right = 10**left_digits, 10 ** (width - left_digits)
        domain = f"fpe|{self.template}" + (f"|{salt}" if salt else "")
        tables = sqlhash.feistel_tables(q.hmac_key, domain, left, right)
        refs = [session_keys.array(q, f"{domain}|{r}", table) for r, table in enumerate(tables)]
        # The source's digits, in slot order, as one number.
        digits, pos = [], 1
        for kind, value in self.parts():
            if kind != "lit":
                digits.append(
                    sql.SQL("substr({}, {}, {})").format(q.col(column.name), sql.Literal(pos), sql.Literal(value))
                )
            pos += len(value) if kind == "lit" else value
        x = q.let(sql.SQL("({})::bigint").format(sql.SQL(" || ").join(digits)), 0)
        # One let per Feistel round: each round reads the previous ones more than once.
        permuted = sqlhash.feistel_sql(x, refs, left, right, let=q.let)
        return sql.SQL("to_char({}, {})").format(permuted, sql.Literal(self._digits_pattern()))

    def describe(self) -> str:
        return f"pseudonymize {self.template}"


# --- generalization, noise, shuffling ---------------------------------------------------


@dataclass(frozen=True)
class GeneralizeDate(Strategy):
    """A date rounded down to the first day of its `years`-year band (1: the birth year,
    10: the decade, which is an age band)."""

    years: int = 1
    identifying: ClassVar[bool] = False
    name: ClassVar[str] = "generalize_date"

    def __post_init__(self) -> None:
        _whole("generalize_date", "years", self.years, 1, 100)  # a wider band rounds birth years to year 0

    def check(self, column: Column) -> str | None:
        if column.kind != "DateField":
            return f"generalize_date needs a DateField, {column.label} is a {column.kind}"
        return _no_unique(column, "generalize_date", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        # date_part (float8) rather than extract (numeric since PostgreSQL 14): 5x cheaper.
        year = sql.SQL("date_part('year', {})::int").format(q.col(column.name))
        return sql.SQL("make_date({y} - mod({y}, {n}), 1, 1)").format(y=year, n=sql.Literal(self.years))

    def describe(self) -> str:
        return "birth year" if self.years == 1 else f"{self.years}-year band"


@dataclass(frozen=True)
class KeepPrefix(Strategy):
    """Keep the first `keep` characters, pad the rest with `fill` (ZIP 02134 -> 021**)."""

    keep: int = 3
    fill: str = "*"
    identifying: ClassVar[bool] = False
    name: ClassVar[str] = "keep_prefix"

    def __post_init__(self) -> None:
        # left(v, -1) keeps all but the last character: a negative keep would leak, not hide
        _whole("keep_prefix", "keep", self.keep, 0, 255)
        _text("keep_prefix", "fill", self.fill, 1)

    def check(self, column: Column) -> str | None:
        return _text_only(column, "keep_prefix") or _no_unique(column, "keep_prefix", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        v = q.col(column.name)
        return sql.SQL("rpad(left({v}, {k}), length({v}), {f})").format(
            v=v, k=sql.Literal(self.keep), f=sql.Literal(self.fill)
        )

    def describe(self) -> str:
        return f"keep {self.keep} first characters"


@dataclass(frozen=True)
class Noise(Strategy):
    """Add a keyed offset in [-amount, +amount]: days for dates and timestamps, units for numbers.
    The offset is a keyed draw (keyed_draw): without the key it cannot be recomputed and subtracted."""

    amount: float
    seed: int = 0
    identifying: ClassVar[bool] = False
    name: ClassVar[str] = "noise"

    def __post_init__(self) -> None:
        amount = self.amount
        if (
            isinstance(amount, bool)
            or not isinstance(amount, numbers.Real)
            or not math.isfinite(amount)
            or not 0 < amount <= 1e9
        ):
            _refuse(
                "noise",
                "amount",
                amount,
                "use a positive finite bound, at most 1e9 (days for dates, units for numbers)",
            )
        _whole("noise", "seed", self.seed, *SEED_RANGE)

    def check(self, column: Column) -> str | None:
        if column.kind not in DATE_TYPES | NUMBER_TYPES:
            return f"noise needs a date or a number, {column.label} is a {column.kind}"
        if column.kind in DATE_TYPES | INT_TYPES and self.amount != int(self.amount):
            return f"noise amount {self.amount} on {column.label}: use whole days or units"
        return _no_unique(column, "noise", "pseudonymize")

    def expression(self, q: Query, column: Column) -> sql.Composable:
        v = q.col(column.name)
        # A uniform draw in [0, 1) per row and column, from the key and the seed: reproducible.
        u = sql.SQL("(mod({}, 1000000)::float8 / 1000000)").format(
            keyed_draw(q, f"noise|{column.name}|{self.seed}", column.name)
        )
        if column.kind in DATE_TYPES or column.kind in INT_TYPES:
            span = int(self.amount)
            offset = sql.SQL("(floor({} * {})::int - {})").format(u, sql.Literal(2 * span + 1), sql.Literal(span))
            if column.kind == "DateField":
                return sql.SQL("({} + {})").format(v, offset)
            if column.kind == "DateTimeField":
                return sql.SQL("({} + {} * interval '1 day')").format(v, offset)
            shifted = sql.SQL("({} + {})").format(v, offset)
            return sql.SQL("greatest({}, 0)").format(shifted) if column.positive else shifted
        shifted = sql.SQL("({} + ({} * 2 - 1) * {})").format(v, u, sql.Literal(self.amount))
        if column.decimal_places is not None:
            shifted = sql.SQL("round(({})::numeric, {})").format(shifted, sql.Literal(column.decimal_places))
        return shifted

    def describe(self) -> str:
        return f"noise ±{self.amount:g}"


@dataclass(frozen=True)
class Shuffle(Strategy):
    """Move the column's values between rows (a keyed permutation: rows ordered by the HMAC
    of their primary key and the seed): the distribution and uniqueness survive, the link
    to the rest of the row does not, and without the key nobody can undo the shuffle."""

    seed: int = 0
    identifying: ClassVar[bool] = False  # the original values are all still there, by design
    name: ClassVar[str] = "shuffle"

    def __post_init__(self) -> None:
        _whole("shuffle", "seed", self.seed, *SEED_RANGE)

    def check(self, column: Column) -> str | None:
        return None

    def expression(self, q: Query, column: Column) -> sql.Composable:
        if not q.pk:
            raise ValueError("shuffle needs a primary key")  # checked by rules.validate
        q.single_chunk = True
        src = sql.Identifier(q.source, q.table)
        pk, col = sql.Identifier(q.pk), sql.Identifier(column.name)
        order = session_keys.int64_draw(
            q, sql.SQL("({}::text || {})").format(pk, sql.Literal(f"|shuffle|{column.name}|{self.seed}"))
        )
        alias = q.join(
            "LEFT JOIN (SELECT a.pk, b.v FROM "
            "(SELECT {pk} AS pk, row_number() OVER (ORDER BY {pk}) AS n FROM {src}) a JOIN "
            "(SELECT {col} AS v, row_number() OVER (ORDER BY {order}, {pk}) AS n FROM {src}) b "
            "USING (n)) AS {alias} ON {alias}.pk = s.{pk}",
            pk=pk,
            col=col,
            src=src,
            order=order,
        )
        return sql.SQL("{}.v").format(alias)


STRATEGIES = {
    cls.name: cls for cls in (Suppress, Static, Mask, Fake, Pseudonymize, GeneralizeDate, KeepPrefix, Noise, Shuffle)
}
