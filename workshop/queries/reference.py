"""The same answers as `questions.py`, computed in pandas over the raw rows (`frames.Raw`).

Written the way an analyst would, with no knowledge of the querysets: joins with merge(),
groups with groupby(). One function per question, same name, same columns.

Money is computed in exact integer cents (`*_cents` from frames.load) and becomes a float only
in the answer: thresholds (a spend of exactly 200.00), rank ties and "above the average" are
decided exactly, as PostgreSQL's numeric decides them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workshop.queries.frames import Raw
from workshop.queries.params import Params

COUNTED = ("paid", "shipped", "delivered")


def _in_range(frame: pd.DataFrame, p: Params, column: str = "created_at") -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    if p.start_at:
        keep &= frame[column] >= pd.Timestamp(p.start_at)
    if p.end_before:
        keep &= frame[column] < pd.Timestamp(p.end_before)
    return keep


def _orders(raw: Raw, p: Params, counted: bool = True) -> pd.DataFrame:
    orders = raw.orders[_in_range(raw.orders, p)]
    return orders[orders.status.isin(COUNTED)] if counted else orders


def _lines(raw: Raw, p: Params, counted: bool = True) -> pd.DataFrame:
    """Items of the orders in range, with order, product and category columns and the amount."""
    lines = raw.items.merge(_orders(raw, p, counted).rename(columns={"id": "order_id"}), on="order_id")
    lines = lines.merge(raw.products.rename(columns={"id": "product_id"}), on="product_id")
    lines = lines.merge(raw.categories.rename(columns={"id": "category_id", "slug": "category"}), on="category_id")
    lines["cents"] = lines.quantity * lines.unit_price_cents
    return lines[lines.category == p.category] if p.category else lines


def _money(cents):
    """Exact cents as the float nearest to their amount (the form the comparison reads)."""
    return cents / 100


def _month(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()


def _monthly(raw: Raw, p: Params) -> pd.DataFrame:
    lines = _lines(raw, p).assign(month=lambda f: _month(f.created_at))
    return (
        lines.groupby("month")
        .agg(cents=("cents", "sum"), orders=("order_id", "nunique"))
        .reset_index()
        .sort_values("month")
        .assign(revenue=lambda f: _money(f.cents))
    )


def revenue_by_month(raw: Raw, p: Params) -> pd.DataFrame:
    return _monthly(raw, p)[["month", "revenue", "orders"]]


def revenue_by_category(raw: Raw, p: Params) -> pd.DataFrame:
    sold = _lines(raw, p).groupby("category").agg(cents=("cents", "sum"), units=("quantity", "sum"))
    categories = raw.categories if not p.category else raw.categories[raw.categories.slug == p.category]
    out = categories[["slug"]].merge(sold, left_on="slug", right_index=True, how="left").fillna(0)
    out = out.sort_values(["cents", "slug"], ascending=[False, True])
    return out.assign(revenue=_money(out.cents))[["slug", "revenue", "units"]]


def _orders_with_category(raw: Raw, p: Params, orders: pd.DataFrame) -> pd.DataFrame:
    if not p.category:
        return orders
    lines = _lines(raw, Params(category=p.category), counted=False)
    return orders[orders.id.isin(lines.order_id)]


def order_status_by_month(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders_with_category(raw, p, _orders(raw, p, counted=False)).assign(month=lambda f: _month(f.created_at))
    out = orders.groupby("month").agg(
        orders=("id", "size"),
        delivered=("status", lambda s: (s == "delivered").sum()),
        cancelled=("status", lambda s: (s == "cancelled").sum()),
        refunded=("status", lambda s: (s == "refunded").sum()),
    )
    out["lost_share"] = (out.cancelled + out.refunded) / out.orders
    return out.reset_index()


def repeat_customers(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders(raw, p)
    if p.category:
        orders = orders[orders.id.isin(_lines(raw, p).order_id)]
    per = orders.groupby("customer_id").agg(n=("id", "nunique"), last_order=("created_at", "max"))
    per = per[per.n >= p.min_orders].reset_index().rename(columns={"customer_id": "id"})
    return per.merge(raw.customers[["id", "email"]], on="id")[["id", "email", "last_order"]].sort_values("id")


def best_product_per_category(raw: Raw, p: Params) -> pd.DataFrame:
    sold = _lines(raw, p).groupby(["category", "product_id", "title"]).cents.sum().reset_index()
    sold["rank"] = sold.groupby("category").cents.rank(method="min", ascending=False).astype(int)
    best = sold[sold["rank"] == 1].rename(columns={"product_id": "product_ref"})
    best = best.assign(revenue=_money(best.cents))[["category", "product_ref", "title", "revenue", "rank"]]
    return best.sort_values(["category", "product_ref"])


def running_revenue(raw: Raw, p: Params) -> pd.DataFrame:
    out = _monthly(raw, p)
    return out.assign(running_total=_money(out.cents.cumsum()))[["month", "revenue", "running_total"]]


def month_over_month(raw: Raw, p: Params) -> pd.DataFrame:
    out = revenue_by_month(raw, p)[["month", "revenue"]]
    return out.assign(previous=out.revenue.shift(1))


def customers_never_reviewed(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders(raw, p)
    if p.category:
        orders = orders[orders.id.isin(_lines(raw, p).order_id)]
    buyers = raw.customers[raw.customers.id.isin(orders.customer_id) & ~raw.customers.id.isin(raw.reviews.customer_id)]
    return buyers[["id", "email"]].sort_values("id")


def _order_cents(raw: Raw) -> pd.Series:
    items = raw.items.assign(cents=raw.items.quantity * raw.items.unit_price_cents)
    return items.groupby("order_id").cents.sum()


def orders_above_customer_average(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders(raw, p).assign(cents=lambda f: f.id.map(_order_cents(raw)))
    mine = orders.groupby("customer_id").cents
    orders["n"], orders["sum"] = mine.transform("count"), mine.transform("sum")
    # total > sum / n, decided as total * n > sum: integers, no rounding (an order without
    # items has no total, like the subquery's NULL, and is above nothing).
    above = orders[orders.cents.notna() & (orders.cents * orders.n > orders["sum"])]
    return above.assign(total=_money(above.cents), customer_average=_money(above["sum"] / above.n))[
        ["id", "customer_id", "total", "customer_average"]
    ].sort_values("id")


def cohort_retention(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders(raw, p).assign(month=lambda f: _month(f.created_at))
    orders["cohort"] = orders.groupby("customer_id").month.transform("min")
    orders["months_since"] = (
        (orders.month.dt.year - orders.cohort.dt.year) * 12 + orders.month.dt.month - orders.cohort.dt.month
    )
    return orders.groupby(["cohort", "months_since"]).customer_id.nunique().rename("customers").reset_index()


def customer_segments(raw: Raw, p: Params) -> pd.DataFrame:
    cents = _lines(raw, p).groupby("customer_id").cents.sum().reindex(raw.customers.id, fill_value=0)
    segment = np.select([cents == 0, cents < 200_00, cents < 1000_00], ["none", "bronze", "silver"], "gold")
    frame = pd.DataFrame({"segment": segment, "cents": cents.to_numpy()})
    out = frame.groupby("segment").agg(customers=("cents", "size"), cents=("cents", "sum")).reset_index()
    return out.assign(revenue=_money(out.cents))[["segment", "customers", "revenue"]]


def last_activity(raw: Raw, p: Params) -> pd.DataFrame:
    orders = raw.orders[_in_range(raw.orders, p)]
    reviews = raw.reviews[_in_range(raw.reviews, p)]
    out = raw.customers[["id", "created_at"]].copy()
    out["last_order"] = out.id.map(orders.groupby("customer_id").created_at.max())
    out["last_review"] = out.id.map(reviews.groupby("customer_id").created_at.max())
    out["last_activity"] = out[["last_order", "last_review"]].max(axis=1).fillna(out.created_at)
    out = out.sort_values(["last_activity", "id"], ascending=[False, True]).head(p.top)
    return out[["id", "last_order", "last_review", "last_activity"]]


def lost_orders_as_json(raw: Raw, p: Params) -> pd.DataFrame:
    orders = _orders_with_category(raw, p, _orders(raw, p, counted=False))
    items = raw.items.assign(cents=raw.items.quantity * raw.items.unit_price_cents).groupby("order_id")
    orders = orders.assign(item_count=orders.id.map(items.size()), total=_money(orders.id.map(items.cents.sum())))
    lost = orders[(orders.item_count >= 3) & orders.status.isin(["cancelled", "refunded"])]
    return lost.rename(columns={"status": "state"})[["id", "state", "item_count", "total"]].sort_values("id")


def price_histogram(raw: Raw, p: Params) -> pd.DataFrame:
    from workshop.queries.questions import PRICE_BUCKETS

    low, high, buckets = PRICE_BUCKETS
    products = raw.products.merge(raw.categories.rename(columns={"id": "category_id"}), on="category_id")
    if p.category:
        products = products[products.slug == p.category]
    # width_bucket: floor((price - low) * buckets / (high - low)) + 1, in integer cents
    band = (products.price_cents - low * 100) * buckets // ((high - low) * 100) + 1
    products = products.assign(band=band.astype(int).clip(0, buckets + 1))
    return (
        products.groupby("band")
        .agg(products=("id", "size"), cheapest=("price", "min"), dearest=("price", "max"))
        .reset_index()
    )


def median_line_by_category(raw: Raw, p: Params) -> pd.DataFrame:
    return (
        _lines(raw, p)
        .assign(amount=lambda f: _money(f.cents))
        .groupby("category")
        .agg(lines=("id", "size"), median_line=("amount", "median"), average_line=("amount", "mean"))
        .reset_index()
    )


def revenue_by_email_domain(raw: Raw, p: Params) -> pd.DataFrame:
    lines = _lines(raw, p).merge(raw.customers[["id", "email"]].rename(columns={"id": "customer_id"}), on="customer_id")
    lines["domain"] = lines.email.str.split("@").str[1].str.lower()
    out = lines.groupby("domain").agg(customers=("customer_id", "nunique"), cents=("cents", "sum")).reset_index()
    out = out.sort_values(["cents", "domain"], ascending=[False, True])
    return out.assign(revenue=_money(out.cents))[["domain", "customers", "revenue"]]


def products_with_bad_reviews(raw: Raw, p: Params) -> pd.DataFrame:
    products = raw.products.merge(raw.categories.rename(columns={"id": "category_id"}), on="category_id")
    if p.category:
        products = products[products.slug == p.category]
    reviews = raw.reviews
    bad = reviews[(reviews.rating <= 2) & _in_range(reviews, p)].groupby("product_id").size()
    out = products[["id", "title"]].assign(
        bad_reviews=products.id.map(bad).fillna(0).astype(int),
        all_reviews=products.id.map(reviews.groupby("product_id").size()).fillna(0).astype(int),
    )
    return out[out.bad_reviews >= 1].sort_values(["bad_reviews", "id"], ascending=[False, True])
