"""An "order history" page as a Django view would build it, twice: the N+1 way and the fixed way.

Each order row shows the customer's name, the number of items and the products' titles. The
naive version touches `order.customer` and `order.items.all()` (and each item's product)
inside the loop: one query per order per relation. The fixed version asks for the same data
up front with select_related (a JOIN) and prefetch_related (one IN query per relation).
"""

from __future__ import annotations

from django.db.models import Prefetch

from workshop.shop.models import Order, OrderItem

PAGE_SIZE = 20


def order_page_naive(size: int = PAGE_SIZE) -> list[dict]:
    rows = []
    for order in Order.objects.order_by("-created_at", "id")[:size]:
        items = list(order.items.all())  # one query per order
        rows.append(
            {
                "order": order.pk,
                "customer": f"{order.customer.first_name} {order.customer.last_name}",  # one query per order
                "items": len(items),
                "products": ", ".join(item.product.title for item in items),  # one query per item
            }
        )
    return rows


def order_page_fixed(size: int = PAGE_SIZE) -> list[dict]:
    orders = (
        Order.objects.order_by("-created_at", "id")
        .select_related("customer")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.select_related("product").order_by("id")))
    )
    rows = []
    for order in orders[:size]:
        items = list(order.items.all())  # already fetched: no query
        rows.append(
            {
                "order": order.pk,
                "customer": f"{order.customer.first_name} {order.customer.last_name}",
                "items": len(items),
                "products": ", ".join(item.product.title for item in items),
            }
        )
    return rows
