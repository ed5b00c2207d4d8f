"""A question's queryset code beside its answer, so a notebook never shows a result without the
code that computed it."""

from __future__ import annotations

import html
import inspect
import textwrap
from dataclasses import dataclass

import pandas as pd


def code_of(name: str) -> str:
    """The source of question `name` (its decorator says which expressions it shows)."""
    from workshop.queries.questions import QUESTIONS, ask

    if name not in QUESTIONS:
        ask(name)  # the one-line "Unknown question ..., choose one of ..." error
    return textwrap.dedent(inspect.getsource(QUESTIONS[name].build)).rstrip()


@dataclass
class Answer:
    name: str
    code: str
    frame: pd.DataFrame

    def _repr_html_(self) -> str:
        table = self.frame.to_html(index=False, max_rows=12, border=0)
        return (
            "<div style='display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap'>"
            f"<pre style='font-size:80%;margin:0;max-width:46em;overflow-x:auto'>{html.escape(self.code)}</pre>"
            f"<div>{table}</div></div>"
        )

    def __repr__(self) -> str:
        return f"{self.code}\n\n{self.frame.to_string(index=False, max_rows=12)}"


def show(name: str, *, head: int | None = None, tail: int | None = None, columns: list[str] | None = None, **params):
    """Ask question `name` with `params`; its code beside the rows (`head`/`tail` rows, some `columns`)."""
    from workshop.queries.compare import to_frame
    from workshop.queries.questions import ask

    frame = to_frame(ask(name, **params))
    if columns:
        frame = frame[columns]
    if head is not None:
        frame = frame.head(head)
    if tail is not None:
        frame = frame.tail(tail)
    return Answer(name, code_of(name), frame)
