"""The shop's raw rows as pandas DataFrames: the independent side of every check.

Plain `SELECT columns FROM table` through the database connection, no ORM expressions, so a
mistake in a queryset cannot hide in its own reference. Times become UTC. Money comes twice:
as float (to show, and for the exercises' references) and as exact integer cents
(`price_cents`, `unit_price_cents`, computed by PostgreSQL from the numeric), which the
reference's arithmetic uses: float sums put 0.1 + 0.2 above 0.3 and 200.00 below 200.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TABLES = {
    "customers": ("shop_customer", "id, email, created_at"),
    "categories": ("shop_category", "id, slug"),
    "products": ("shop_product", "id, title, category_id, price, brand"),
    "orders": ("shop_order", "id, customer_id, status, created_at"),
    "items": ("shop_orderitem", "id, order_id, product_id, quantity, unit_price"),
    "reviews": ("shop_review", "id, product_id, customer_id, rating, created_at"),
}
MONEY_COLUMNS = ("price", "unit_price")


@dataclass(frozen=True)
class Raw:
    customers: pd.DataFrame
    categories: pd.DataFrame
    products: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    reviews: pd.DataFrame


def load(only: tuple[str, ...] | None = None) -> Raw:
    """Every table, or `only` those named (the others are empty frames with their columns)."""
    from django.db import connection

    frames = {}
    with connection.cursor() as cursor:
        for name, (table, columns) in TABLES.items():
            names = [c.strip() for c in columns.split(",")]
            cents = [c for c in names if c in MONEY_COLUMNS]
            if only is not None and name not in only:
                frames[name] = pd.DataFrame(columns=names + [f"{c}_cents" for c in cents])
                continue
            select = ", ".join(names + [f"({c} * 100)::int8" for c in cents])  # numeric * 100: exact
            cursor.execute(f"SELECT {select} FROM {table}")  # constants only: no user input here
            frame = pd.DataFrame(cursor.fetchall(), columns=names + [f"{c}_cents" for c in cents])
            for column in frame.columns:
                if column in MONEY_COLUMNS:
                    frame[column] = frame[column].astype(float)
                elif column.endswith("_cents"):
                    frame[column] = frame[column].astype("int64")
                elif column == "created_at":
                    frame[column] = pd.to_datetime(frame[column], utc=True)
            frames[name] = frame
    return Raw(**frames)
