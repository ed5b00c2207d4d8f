"""The demo shop's product page, with the new "recommended for you" block behind a flag.
Rendered by Django's test client in notebook 03 (no web server needed)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.html import format_html, format_html_join

from workshop.errors import WorkshopError
from workshop.flags.ladder import GATES, use_workshop_provider


def product_page(request, product_id: int) -> HttpResponse:
    from workshop.shop.models import Product

    gate_name = request.GET.get("gate", "workshop")
    if gate_name not in GATES:
        raise WorkshopError(f"Unknown gate {gate_name!r}", f"use one of {', '.join(GATES)}")
    if gate_name == "openfeature":
        use_workshop_provider()
    product = Product.objects.filter(pk=product_id).select_related("category").first()
    if product is None:
        raise Http404(f"no product {product_id}")
    show_block = GATES[gate_name](request)
    block = recommended_block(product, broken=request.GET.get("simulate_bug") == "1") if show_block else ""
    visitor = request.user.get_username() if request.user.is_authenticated else "anonymous"
    body = format_html(
        "<article><h1>{}</h1><p>{} · ${}</p><p class='visitor'>visitor: {}</p>{}</article>",
        product.title,
        product.category.name,
        product.price,
        visitor,
        block,
    )
    response = HttpResponse(body)
    response["X-Flag-Gate"] = gate_name
    response["X-Recommended"] = "on" if show_block else "off"
    return response


def recommended_block(product, broken: bool = False) -> str:
    """Four other products of the same category, best rated first: the new feature."""
    from django.db.models import Avg

    from workshop.shop.models import Product

    if broken:  # the new block's bug, for the kill-switch demo
        raise RuntimeError("recommendation service timed out")
    picks = (
        Product.objects.filter(category_id=product.category_id, is_active=True)
        .exclude(pk=product.pk)
        .annotate(stars=Avg("reviews__rating"))
        .order_by("-stars", "id")[:4]
    )
    items = format_html_join("", "<li>{}</li>", ((p.title,) for p in picks))
    return format_html("<section id='recommended'><h2>Recommended for you</h2><ul>{}</ul></section>", items)
