"""Widget helpers shared by every notebook.

JupyterLab swallows exceptions raised in widget callbacks (they go to the browser's log
console). Every callback here runs inside an Output widget's capture, so a failure shows up
under the widget, where the attendee is looking.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
from IPython.display import display


def visible_errors(out: widgets.Output, clear: bool = True) -> Callable[[Callable], Callable]:
    """Decorator: run the callback inside `out`, showing its output and any exception there."""
    return out.capture(clear_output=clear, wait=True)


def explorer(options: dict[str, object], render: Callable[[object], object], description: str = "Show") -> widgets.VBox:
    """A dropdown and an Output: picking an option displays render(value) below it.

    The first option is rendered straight away, so the widget is never empty.
    """
    picker = widgets.Dropdown(
        options=list(options.items()), description=description, layout=widgets.Layout(width="420px")
    )
    out = widgets.Output()

    @visible_errors(out)
    def show(_change=None) -> None:
        display(render(picker.value))

    picker.observe(show, names="value")
    show()
    return widgets.VBox([picker, out])
