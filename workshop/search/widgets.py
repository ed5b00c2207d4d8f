"""The search box: type a query, pick a backend (and products or reviews), see the ranked
results with highlighted words, and the facet counts per category (pick one to filter)."""

from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import HTML, display

from workshop.django_setup import require_setup
from workshop.widgets import visible_errors

require_setup()

ALL = "(all categories)"


def render_results(rows: list[dict], total: int, backend: str, corrections: dict[str, str]) -> str:
    parts = [f"<div><b>{total:,}</b> match{'es' if total != 1 else ''} ({html.escape(backend)})"]
    if corrections:
        fixed = ", ".join(f"{html.escape(a)} → <i>{html.escape(b)}</i>" for a, b in corrections.items())
        parts.append(f" · did you mean: {fixed}")
    parts.append(
        "</div><table class='workshop-search'><thead><tr><th>#</th><th>title</th><th>category</th>"
        "<th>score</th><th>where it matched</th></tr></thead><tbody>"
    )
    for n, row in enumerate(rows, 1):
        title = row["highlights"].get("title") or html.escape(row["title"])
        other = " … ".join(v for k, v in row["highlights"].items() if k != "title")
        parts.append(
            f"<tr><td>{n}</td><td>{title}</td><td>{html.escape(row['category'])}</td>"
            f"<td>{row['score']:.3g}</td><td style='text-align:left'>{other}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def render_facets(facets: dict[str, int]) -> str:
    if not facets:
        return "<i>no facets</i>"
    top = max(facets.values())
    bars = "".join(
        f"<div style='font-family:monospace'>{html.escape(name):<22} "
        f"<span style='display:inline-block;background:#4c6ef5;height:0.8em;width:{60 * n / top:.0f}px'>"
        f"</span> {n}</div>"
        for name, n in facets.items()
    )
    return f"<div><b>per category</b>{bars}</div>"


def window_note(total: int | None, fetched: int) -> str:
    """Under the facets when an Elasticsearch backend matched more than it returned: its search
    fetches the best `window` hits (1,000 by default), and filters and facets work on those."""
    if total is None or total <= fetched:
        return ""
    return (
        f"<div><small>counts of the best {fetched:,} of {total:,} matches: filters and facets "
        "narrow that window, they never reach beyond it</small></div>"
    )


def search_box(query: str = "lamp", limit: int = 8, backend: str = "postgres") -> widgets.VBox:
    """The search box, on `backend` first. Backends that cannot run here are listed with the reason."""
    from workshop.search import api
    from workshop.search.query import QueryError

    available = api.backends()
    usable = [b for b, why in available.items() if not why]
    box = widgets.Text(
        value=query,
        description="Search",
        continuous_update=False,  # on Enter
        layout=widgets.Layout(width="420px"),
    )
    backend = widgets.Dropdown(
        options=usable, value=backend if backend in usable else "postgres", description="Backend"
    )
    kind = widgets.Dropdown(options=[("products", "product"), ("reviews", "review")], description="Kind")
    fuzzy = widgets.Checkbox(value=True, description="Typo tolerance")
    category = widgets.Dropdown(options=[ALL], value=ALL, description="Category")
    missing = ", ".join(f"{b} ({why})" for b, why in available.items() if why)
    note = widgets.HTML(f"<small>not available here: {html.escape(missing)}</small>" if missing else "")
    out = widgets.Output()
    facets_out = widgets.Output()

    @visible_errors(out)
    def show(_change=None) -> None:
        facets_out.clear_output()
        try:
            qs = (api.products() if kind.value == "product" else api.reviews()).search(
                box.value, backend=backend.value, fuzzy=fuzzy.value
            )
        except QueryError as problem:  # typing is work in progress: say what is wrong, calmly
            print(f"not a query yet: {problem}")
            return
        facets = qs.facets()
        names = [ALL, *facets]
        if list(category.options) != names:
            chosen = category.value if category.value in names else ALL
            category.unobserve(show, names="value")
            category.options = names
            category.value = chosen
            category.observe(show, names="value")
        if category.value != ALL:
            path = "category__name" if kind.value == "product" else "product__category__name"
            qs = qs.filter(**{path: category.value})
        rows = qs.results(limit)
        state = qs.search_state
        display(HTML(render_results(rows, qs.count(), backend.value, state.corrections)))
        with facets_out:
            display(HTML(render_facets(facets) + window_note(state.total, sum(facets.values()))))

    for control in (box, backend, kind, fuzzy, category):
        control.observe(show, names="value")
    show()
    return widgets.VBox(
        [widgets.HBox([box, backend]), widgets.HBox([kind, fuzzy, category]), note, widgets.HBox([out, facets_out])]
    )
