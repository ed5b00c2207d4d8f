"""Deterministic generation of the shop dataset, as COPY text chunks.

Everything is drawn with numpy from a seed and the curated vocabularies in data/vocab,
column by column (no per-row Faker calls), so a million customers take seconds.
Each table chunk gets its own random stream (seed, table, chunk), so the output does not
depend on how it is consumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from string import capwords

import numpy as np

from workshop.shop.data import vocab as vocab_mod
from workshop.shop.data.sizes import Size
from workshop.shop.data.version import DEFAULT_SEED, GENERATOR_VERSION  # noqa: F401 (public names)

CHUNK = 50_000

# The story's calendar: customers sign up from START, orders run until END.
START = np.datetime64("2019-01-01T00:00:00", "s")
END = np.datetime64("2025-10-31T23:59:59", "s")
TODAY = np.datetime64("2025-11-01", "D")  # ages are computed on this day
STAFF_GROUPS = ("Support", "Warehouse", "Marketing", "Engineering", "Managers")
ORDER_STATUSES = np.array(["pending", "paid", "shipped", "delivered", "cancelled", "refunded"], dtype=object)
ORDER_STATUS_P = [0.02, 0.03, 0.05, 0.80, 0.06, 0.04]
RATING_P = [0.06, 0.06, 0.12, 0.30, 0.46]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    chunks: Callable[[], Iterator[tuple[int, str]]]  # yields (rows, COPY text)


def copy_text(columns: list[list[str]]) -> str:
    """Rows in COPY's text format. Callers escape free text with `escape`."""
    return "".join(line + "\n" for line in map("\t".join, zip(*columns)))


_ESCAPES = re.compile(r"[\\\t\n\r]")


def escape(value: str) -> str:
    return _ESCAPES.sub(lambda m: {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}[m.group()], value)


def strs(values: np.ndarray) -> list[str]:
    return list(map(str, values.tolist()))


def timestamps(seconds: np.ndarray) -> list[str]:
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC").tolist()


def money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:].rstrip(".") + "."


def skewed(rng: np.random.Generator, n: int, size: int, power: float) -> np.ndarray:
    """Indices in [0, n) where low indices are much more likely (a few best-sellers)."""
    return np.minimum((n * rng.random(size) ** power).astype(np.int64), n - 1)


class ShopGenerator:
    """Generates the tables in dependency order; later tables read arrays kept by earlier ones."""

    def __init__(self, size: Size, seed: int = DEFAULT_SEED) -> None:
        self.size = size
        self.seed = seed
        self.vocab = vocab_mod.load()

    def rng(self, table: int, chunk: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, table, chunk])

    def tables(self) -> list[Table]:
        return [
            Table("shop_category", ("id", "name", "slug"), self.categories),
            Table(
                "shop_product",
                (
                    "id",
                    "sku",
                    "title",
                    "description",
                    "brand",
                    "category_id",
                    "price",
                    "stock",
                    "is_active",
                    "created_at",
                ),
                self.products,
            ),
            Table(
                "shop_customer",
                (
                    "id",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "national_id",
                    "birth_date",
                    "gender",
                    "street_address",
                    "city",
                    "state",
                    "zip_code",
                    "created_at",
                ),
                self.customers,
            ),
            Table("shop_order", ("id", "customer_id", "status", "created_at"), self.orders),
            Table("shop_orderitem", ("id", "order_id", "product_id", "quantity", "unit_price"), self.order_items),
            Table(
                "shop_review",
                ("id", "product_id", "customer_id", "rating", "title", "body", "created_at"),
                self.product_reviews,
            ),
            Table("auth_group", ("id", "name"), self.groups),
            Table(
                "auth_user",
                (
                    "id",
                    "password",
                    "is_superuser",
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "is_staff",
                    "is_active",
                    "date_joined",
                ),
                self.staff,
            ),
            Table("auth_user_groups", ("id", "user_id", "group_id"), self.staff_groups),
        ]

    # --- catalog -----------------------------------------------------------------------

    def categories(self) -> Iterator[tuple[int, str]]:
        cats = self.vocab.catalog["categories"]
        names = [c["name"] for c in cats]
        slugs = [re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-") for n in names]
        yield len(cats), copy_text([[str(i + 1) for i in range(len(cats))], names, slugs])

    def products(self) -> Iterator[tuple[int, str]]:
        rng = self.rng(1)
        cats = self.vocab.catalog["categories"]
        brands = self.vocab.catalog["brands"]
        colors = self.vocab.catalog["colors"]
        n = self.size.products
        cat_idx = rng.integers(len(cats), size=n)
        low = np.array([c["price_range"][0] for c in cats], dtype=float)[cat_idx]
        high = np.array([c["price_range"][1] for c in cats], dtype=float)[cat_idx]
        # Log-uniform prices with shop-like endings (.99, .49, .00).
        whole = np.floor(np.exp(rng.uniform(np.log(low), np.log(high)))).astype(np.int64)
        cents = whole * 100 + rng.choice([99, 49, 0, 95], size=n, p=[0.6, 0.2, 0.15, 0.05])
        self.product_cents = cents
        created = START + (rng.random(n) * (END - START).astype(np.int64) * 0.7).astype("timedelta64[s]")
        titles, descriptions, brand_col, skus = [], [], [], []
        self.product_words: list[dict] = []
        for i, c in enumerate(cat_idx.tolist()):
            cat = cats[c]
            words = {
                "noun": cat["nouns"][rng.integers(len(cat["nouns"]))],
                "material": cat["materials"][rng.integers(len(cat["materials"]))],
                "adjective": cat["adjectives"][rng.integers(len(cat["adjectives"]))],
                "feature": cat["features"][rng.integers(len(cat["features"]))],
                "feature2": cat["features"][rng.integers(len(cat["features"]))],
                "use": cat["uses"][rng.integers(len(cat["uses"]))],
                "color": colors[rng.integers(len(colors))],
                "brand": brands[rng.integers(len(brands))],
            }
            self.product_words.append(words)
            pattern = rng.integers(3)
            noun_t = words["noun"][:1].upper() + words["noun"][1:]
            if pattern == 0:
                title = (
                    f"{words['brand']} {capwords(words['adjective'] + ' ' + words['material'] + ' ' + words['noun'])}"
                )
            elif pattern == 1:
                title = f"{words['brand']} {noun_t} in {words['color']}"
            else:
                title = f"{words['brand']} {noun_t}, {words['material']}, {words['color']}"
            extra = "" if words["feature2"] == words["feature"] else f" {_sentence(words['feature2'])}"
            description = (
                f"{_article(words['adjective']).capitalize()} {words['adjective']} {words['noun']} in {words['material']}, made for {words['use']}. "
                f"{_sentence(words['feature'])}{extra} Comes in {words['color'].lower()}; designed by {words['brand']}."
            )
            titles.append(escape(title[:200]))
            descriptions.append(escape(description))
            brand_col.append(escape(words["brand"]))
            skus.append(f"{re.sub('[^A-Z]', '', cat['name'].upper())[:3]}-{i + 1:06d}")
        yield (
            n,
            copy_text(
                [
                    strs(np.arange(1, n + 1)),
                    skus,
                    titles,
                    descriptions,
                    brand_col,
                    strs(cat_idx + 1),
                    money(cents),
                    strs(rng.integers(0, 500, size=n)),
                    ["t" if a else "f" for a in (rng.random(n) > 0.04).tolist()],
                    timestamps(created),
                ]
            ),
        )

    # --- people ------------------------------------------------------------------------

    def customers(self) -> Iterator[tuple[int, str]]:
        v = self.vocab
        n_total = self.size.customers
        self.customer_created = np.empty(n_total, dtype="datetime64[s]")
        first_f = np.array(v.first_female, dtype=object)
        first_m = np.array(v.first_male, dtype=object)
        last = np.array(v.last, dtype=object)
        slug_f = np.array([vocab_mod.ascii_slug(x) for x in v.first_female], dtype=object)
        slug_m = np.array([vocab_mod.ascii_slug(x) for x in v.first_male], dtype=object)
        slug_l = np.array([vocab_mod.ascii_slug(x) for x in v.last], dtype=object)
        streets = np.array(v.streets, dtype=object)
        suffixes = np.array(v.street_suffixes, dtype=object)
        cities = np.array([c[0] for c in v.cities], dtype=object)
        states = np.array([c[1] for c in v.cities], dtype=object)
        zip3 = np.array([c[2] for c in v.cities], dtype=object)
        domains = np.array([d for d, _ in v.email_domains], dtype=object)
        domain_p = np.array([w for _, w in v.email_domains], dtype=float)
        domain_p /= domain_p.sum()
        # Big cities are big: a fixed, seeded Zipf-like weight per city.
        city_w = 1.0 / np.arange(1, len(cities) + 1) ** 0.9
        city_w = self.rng(2, 10**6).permutation(city_w)
        city_w /= city_w.sum()
        seen_emails: set[str] = set()
        national_ids = self.national_ids(n_total)
        for chunk, start in enumerate(range(0, n_total, CHUNK)):
            rng = self.rng(2, chunk)
            n = min(CHUNK, n_total - start)
            ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
            gender_idx = rng.choice(3, size=n, p=[0.49, 0.49, 0.02])
            female = (gender_idx == 0) | ((gender_idx == 2) & (rng.random(n) < 0.5))
            fi = rng.integers(len(first_f), size=n)
            mi = rng.integers(len(first_m), size=n)
            li = skewed(rng, len(last), n, 1.6)
            firsts = np.where(female, first_f[fi % len(first_f)], first_m[mi % len(first_m)])
            first_slugs = np.where(female, slug_f[fi % len(first_f)], slug_m[mi % len(first_m)])
            lasts, last_slugs = last[li], slug_l[li]
            birth = TODAY - (18 * 365.25 + rng.beta(2.0, 3.2, size=n) * 72 * 365.25).astype("timedelta64[D]")
            birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
            email_style = rng.integers(5, size=n)
            numbers = rng.integers(1, 999, size=n)
            dom = domains[rng.choice(len(domains), size=n, p=domain_p)]
            emails = []
            for f, ln, style, num, year, d, i in zip(
                first_slugs, last_slugs, email_style.tolist(), numbers.tolist(), birth_year.tolist(), dom, ids.tolist()
            ):
                local = (
                    f"{f}.{ln}",
                    f"{f}{ln[:1]}{num}",
                    f"{f[:1]}{ln}",
                    f"{f}_{ln}{year % 100:02d}",
                    f"{ln}.{f}{num}",
                )[style]
                email = f"{local}@{d}"
                if email in seen_emails:  # a second Emma Smith at gmail picks a number, like in life
                    email = f"{local}{i}@{d}"
                seen_emails.add(email)
                emails.append(email)
            area = rng.integers(201, 990, size=n)
            line = rng.integers(0, 10_000, size=n)
            phones = [f"({a}) 555-{b:04d}" for a, b in zip(area.tolist(), line.tolist())]
            national = [
                f"9{x // 1_000_000:02d}-{x // 10_000 % 100:02d}-{x % 10_000:04d}"
                for x in national_ids[start : start + n].tolist()
            ]
            city_i = rng.choice(len(cities), size=n, p=city_w)
            zips = [f"{z}{s:02d}" for z, s in zip(zip3[city_i], rng.integers(0, 40, size=n).tolist())]
            house = (np.exp(rng.uniform(0, np.log(9999), size=n))).astype(np.int64) + 1
            streets_col = [
                f"{h} {s} {x}"
                for h, s, x in zip(
                    house.tolist(),
                    streets[rng.integers(len(streets), size=n)],
                    suffixes[rng.integers(len(suffixes), size=n)],
                )
            ]
            span = (END - START).astype(np.int64) * 0.9
            created = START + (rng.random(n) * span).astype("timedelta64[s]")
            self.customer_created[start : start + n] = created
            yield (
                n,
                copy_text(
                    [
                        strs(ids),
                        [escape(x) for x in firsts.tolist()],
                        [escape(x) for x in lasts.tolist()],
                        emails,
                        phones,
                        national,
                        np.datetime_as_string(birth, unit="D").tolist(),
                        np.array(["F", "M", "X"])[gender_idx].tolist(),
                        streets_col,
                        cities[city_i].tolist(),
                        states[city_i].tolist(),
                        zips,
                        timestamps(created),
                    ]
                ),
            )

    def national_ids(self, count: int) -> np.ndarray:
        """`count` distinct 8-digit numbers in a seeded random order: the i-th customer's
        national id. Drawn without replacement from a stream of its own (the same for a
        seed whatever the chunking), so nothing about an id follows from the customer's
        primary key (it did when they were an affine function of it)."""
        return self.rng(2, 10**6 + 1).choice(100_000_000, size=count, replace=False)

    def staff(self) -> Iterator[tuple[int, str]]:
        rng = self.rng(7)
        v = self.vocab
        n = self.size.staff
        firsts = [
            (v.first_female + v.first_male)[i] for i in rng.integers(len(v.first_female) + len(v.first_male), size=n)
        ]
        lasts = [v.last[i] for i in rng.integers(len(v.last), size=n)]
        usernames = [
            f"{vocab_mod.ascii_slug(f)}.{vocab_mod.ascii_slug(ln)}{i + 1}"
            for i, (f, ln) in enumerate(zip(firsts, lasts))
        ]
        joined = START + (rng.random(n) * (END - START).astype(np.int64)).astype("timedelta64[s]")
        # "!" marks an unusable password: staff accounts exist for permissions and flag
        # targeting, nobody logs in with them.
        passwords = [f"!{rng.integers(1 << 62):x}" for _ in range(n)]
        yield (
            n,
            copy_text(
                [
                    [str(i) for i in range(1, n + 1)],
                    passwords,
                    ["t" if i == 0 else "f" for i in range(n)],
                    usernames,
                    [escape(x) for x in firsts],
                    [escape(x) for x in lasts],
                    [f"{u}@shop.example" for u in usernames],
                    ["t"] * n,
                    ["t"] * n,
                    timestamps(joined),
                ]
            ),
        )

    def groups(self) -> Iterator[tuple[int, str]]:
        yield len(STAFF_GROUPS), copy_text([[str(i + 1) for i in range(len(STAFF_GROUPS))], list(STAFF_GROUPS)])

    def staff_groups(self) -> Iterator[tuple[int, str]]:
        rng = self.rng(8)
        pairs = []
        for user in range(1, self.size.staff + 1):
            picks = rng.choice(len(STAFF_GROUPS), size=1 + int(rng.random() < 0.3), replace=False)
            pairs += [(user, int(g) + 1) for g in sorted(picks.tolist())]
        yield (
            len(pairs),
            copy_text(
                [[str(i + 1) for i in range(len(pairs))], [str(u) for u, _ in pairs], [str(g) for _, g in pairs]]
            ),
        )

    # --- orders ------------------------------------------------------------------------

    def orders(self) -> Iterator[tuple[int, str]]:
        n_total, customers = self.size.orders, self.size.customers
        self.order_customer = np.empty(n_total, dtype=np.int64)
        self.order_created = np.empty(n_total, dtype="datetime64[s]")
        self.order_delivered = np.empty(n_total, dtype=bool)
        # Loyal customers order a lot, many order once or never: a seeded permutation
        # spreads the heavy buyers over the id range.
        who = self.rng(3, 10**6).permutation(customers)
        for chunk, start in enumerate(range(0, n_total, CHUNK)):
            rng = self.rng(3, chunk)
            n = min(CHUNK, n_total - start)
            cust = who[skewed(rng, customers, n, 1.7)] + 1
            since = self.customer_created[cust - 1]
            created = since + (rng.random(n) * (END - since).astype(np.int64)).astype("timedelta64[s]")
            status = rng.choice(len(ORDER_STATUSES), size=n, p=ORDER_STATUS_P)
            self.order_customer[start : start + n] = cust
            self.order_created[start : start + n] = created
            self.order_delivered[start : start + n] = status == 3
            yield (
                n,
                copy_text(
                    [
                        strs(np.arange(start + 1, start + n + 1)),
                        strs(cust),
                        ORDER_STATUSES[status].tolist(),
                        timestamps(created),
                    ]
                ),
            )

    def order_items(self) -> Iterator[tuple[int, str]]:
        n_orders, n_products = self.size.orders, self.size.products
        self.order_first_product = np.empty(n_orders, dtype=np.int64)
        best_sellers = self.rng(4, 10**6).permutation(n_products)
        next_id = 1
        for chunk, start in enumerate(range(0, n_orders, CHUNK)):
            rng = self.rng(4, chunk)
            n = min(CHUNK, n_orders - start)
            per_order = 1 + rng.binomial(4, 0.35, size=n)
            order_ids = np.repeat(np.arange(start + 1, start + n + 1), per_order)
            m = len(order_ids)
            product = best_sellers[skewed(rng, n_products, m, 2.0)] + 1
            firsts = np.concatenate(([0], np.cumsum(per_order)[:-1]))
            self.order_first_product[start : start + n] = product[firsts]
            quantity = 1 + rng.geometric(0.75, size=m) - 1
            discount = np.where(rng.random(m) < 0.15, rng.uniform(0.8, 0.95, size=m), 1.0)
            unit = np.round(self.product_cents[product - 1] * discount).astype(np.int64)
            ids = np.arange(next_id, next_id + m)
            next_id += m
            yield m, copy_text([strs(ids), strs(order_ids), strs(product), strs(quantity), money(unit)])

    def product_reviews(self) -> Iterator[tuple[int, str]]:
        rng = self.rng(5)
        texts = self.vocab.reviews
        delivered = np.flatnonzero(self.order_delivered)
        n = min(self.size.reviews, len(delivered))
        orders = rng.choice(delivered, size=n, replace=False)
        ratings = rng.choice(5, size=n, p=RATING_P) + 1
        product = self.order_first_product[orders]
        created = self.order_created[orders] + rng.integers(2 * 86400, 40 * 86400, size=n).astype("timedelta64[s]")
        created = np.minimum(created, END)
        titles, bodies = [], []
        for rating, prod in zip(ratings.tolist(), product.tolist()):
            r = str(rating)
            words = self.product_words[prod - 1]
            parts = [texts["openings"][r][rng.integers(len(texts["openings"][r]))]]
            for d in rng.choice(len(texts["details"][r]), size=1 + rng.integers(3), replace=False).tolist():
                parts.append(texts["details"][r][d])
            parts.append(texts["closings"][r][rng.integers(len(texts["closings"][r]))])
            titles.append(escape(texts["titles"][r][rng.integers(len(texts["titles"][r]))].format(**words)[:120]))
            bodies.append(escape(" ".join(parts).format(**words)))
        yield (
            n,
            copy_text(
                [
                    strs(np.arange(1, n + 1)),
                    strs(product),
                    strs(self.order_customer[orders]),
                    strs(ratings),
                    titles,
                    bodies,
                    timestamps(created),
                ]
            ),
        )
