"""The shop's raw rows as pandas DataFrames: the independent side of every check.

Plain `SELECT columns FROM table` through the database connection, no ORM expressions, so a
mistake in a queryset cannot hide in its own reference. Money becomes float, times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TABLES = {
    "customers": ("shop_customer", "id, email, created_at"),
    "categories": ("shop_category", "id, slug"),
    "products": ("shop_product", "id, title, category_id, price"),
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
            if only is not None and name not in only:
                frames[name] = pd.DataFrame(columns=[c.strip() for c in columns.split(",")])
                continue
            cursor.execute(f"SELECT {columns} FROM {table}")  # constants only: no user input here
            frame = pd.DataFrame(cursor.fetchall(), columns=[c.strip() for c in columns.split(",")])
            for column in frame.columns:
                if column in MONEY_COLUMNS:
                    frame[column] = frame[column].astype(float)
                elif column == "created_at":
                    frame[column] = pd.to_datetime(frame[column], utc=True)
            frames[name] = frame
    return Raw(**frames)
