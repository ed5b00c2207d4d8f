"""The question explorer: pick a question and its parameters, see the queryset's code, its SQL,
its EXPLAIN (ANALYZE, BUFFERS) plan drawn as a tree, the result, and whether pandas agrees."""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass
from functools import cached_property

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML, display

from workshop.django_setup import require_setup
from workshop.widgets import visible_errors

require_setup()  # used before workshop.setup(): say which cell to run

from workshop.errors import WorkshopError  # noqa: E402
from workshop.queries import compare, explain  # noqa: E402
from workshop.queries import params as P  # noqa: E402
from workshop.queries.questions import QUESTIONS  # noqa: E402

RESULT_ROWS = 25


@dataclass
class Exploration:
    """What the explorer shows for one choice: a message line, and when the input was valid, the
    result, the queryset's code, its SQL and (computed when first asked: EXPLAIN ANALYZE runs
    the query again) its plan as HTML."""

    message: str
    table: pd.DataFrame | None = None
    code: str = ""
    sql: str = ""
    queryset: object = None

    @cached_property
    def plan_html(self) -> str:
        return explain.draw(explain.explain(self.queryset)) if self.queryset is not None else ""


def explore(name: str, start=None, end=None, category=None, min_orders="2", top="10") -> Exploration:
    """Everything the widget shows, computed without widgets (bad input: a message, no traceback)."""
    if name not in QUESTIONS:
        return Exploration(f"⚠ Unknown question {name!r}. Choose one of: {', '.join(QUESTIONS)}.")
    q = QUESTIONS[name]
    try:
        params = P.Params.parse(start, end, category, min_orders, top)
    except WorkshopError as error:  # bad input: one line, where the attendee is looking
        return Exploration(f"⚠ {error}")
    queryset = q(params)
    rows = compare.to_frame(queryset)
    if rows.empty:
        message = P.empty_reason(params)
    else:
        more = f"; the first {RESULT_ROWS}:" if len(rows) > RESULT_ROWS else ""
        message = f"{len(rows):,} rows ({params.describe()}){more}"
    return Exploration(message, rows.head(RESULT_ROWS), inspect.getsource(q.build), explain.sql_of(queryset), queryset)


def question_explorer(initial: str = "revenue_by_month") -> widgets.VBox:
    from workshop.shop.models import Category

    question = widgets.Dropdown(
        options=[(q.title, q.name) for q in QUESTIONS.values()],
        value=initial,
        description="Question",
        layout=widgets.Layout(width="560px"),
    )
    start = widgets.DatePicker(description="From")
    end = widgets.DatePicker(description="To")
    category = widgets.Dropdown(
        options=[("all", "")] + list(Category.objects.order_by("name").values_list("name", "slug")),
        description="Category",
    )
    min_orders = widgets.Text(value="2", description="min orders", layout=widgets.Layout(width="180px"))
    top = widgets.Text(value="10", description="top", layout=widgets.Layout(width="180px"))
    check = widgets.Button(description="Check against pandas", icon="check", layout=widgets.Layout(width="220px"))
    status = widgets.HTML()
    outs = {name: widgets.Output() for name in ("Result", "Queryset code", "SQL", "Plan")}
    tabs = widgets.Tab(children=list(outs.values()))
    for index, name in enumerate(outs):
        tabs.set_title(index, name)
    verdict = widgets.Output()

    def current():
        return P.Params.parse(start.value, end.value, category.value, min_orders.value, top.value)

    shown: dict[str, Exploration] = {}
    plan_tab = list(outs).index("Plan")

    @visible_errors(outs["Result"])
    def show(_change=None) -> None:
        for out in list(outs.values())[1:]:
            out.clear_output()
        verdict.clear_output()
        q = QUESTIONS[question.value]
        status.value = f"<b>shows:</b> {html.escape(', '.join(q.features))} · <b>uses:</b> {', '.join(q.uses)}"
        seen = shown["current"] = explore(
            question.value, start.value, end.value, category.value, min_orders.value, top.value
        )
        print(seen.message)
        if seen.table is not None and not seen.table.empty:
            display(seen.table)
        if seen.code:
            with outs["Queryset code"]:
                display(HTML(f"<pre>{html.escape(seen.code)}</pre>"))
            with outs["SQL"]:
                display(HTML(f"<pre>{html.escape(seen.sql)}</pre>"))
        show_plan()

    @visible_errors(outs["Plan"])
    def show_plan(_change=None) -> None:
        """The plan is drawn when its tab is open (EXPLAIN ANALYZE runs the query once more)."""
        seen = shown.get("current")
        if tabs.selected_index != plan_tab or seen is None or not seen.code or outs["Plan"].outputs:
            return
        display(HTML(seen.plan_html))

    @visible_errors(verdict)
    def run_check(_button=None) -> None:
        try:
            params = current()
        except WorkshopError as error:
            print(f"⚠ {error}")
            return
        display(compare.verify(question.value, params))

    for control in (question, start, end, category, min_orders, top):
        control.observe(show, names="value")
    tabs.observe(show_plan, names="selected_index")
    check.on_click(run_check)
    show()
    controls = widgets.VBox([question, widgets.HBox([start, end, category]), widgets.HBox([min_orders, top, check])])
    return widgets.VBox([controls, status, tabs, verdict])
