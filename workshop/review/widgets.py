"""The notebook's two widgets: a review checklist built from a repository's PR template
(completeness follows the ticks), and a report explorer (a repository path and a branch:
the review of that branch against main)."""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as widgets
from IPython.display import HTML, display

from workshop.errors import WorkshopError
from workshop.review.git import Repo
from workshop.review.template import checklist, template_text
from workshop.widgets import visible_errors


def review_checklist(path: str | os.PathLike = ".") -> widgets.VBox:
    """One checkbox per item of the repository's PR template; the bar shows how complete it is."""
    repo = Repo.open(path)
    found = template_text(repo)
    if found is None:
        raise WorkshopError(
            f"{repo.root} has no pull request template",
            "add .github/pull_request_template.md with a '- [ ] item' checklist",
        )
    place, text = found
    items = checklist(text)
    boxes = [
        widgets.Checkbox(value=False, description=i.text, indent=False, layout=widgets.Layout(width="auto"))
        for i in items
    ]
    bar = widgets.FloatProgress(value=0, min=0, max=1, description="Complete", bar_style="warning")
    out = widgets.Output()

    @visible_errors(out)
    def update(_change=None) -> None:
        done = sum(b.value for b in boxes)
        share = done / len(boxes) if boxes else 1.0
        bar.value = share
        bar.bar_style = "success" if share == 1 else "warning" if share >= 0.5 else "danger"
        verdict = (
            "ready for review" if share == 1 else "not ready: " + "; ".join(b.description for b in boxes if not b.value)
        )
        print(f"{done} of {len(boxes)} items ticked ({share:.0%}): {verdict}")

    for box in boxes:
        box.observe(update, names="value")
    update()
    header = widgets.HTML(f"<b>{place}</b> of <code>{repo.root.name}</code>: {len(items)} checklist items")
    return widgets.VBox([header, *boxes, bar, out])


def report_explorer(path: str | os.PathLike = ".", base: str | None = None) -> widgets.VBox:
    """A repository path and one of its branches: the review report of that branch."""
    folder = widgets.Text(value=str(Path(path)), description="Repository", layout=widgets.Layout(width="520px"))
    branch = widgets.Dropdown(description="Branch", layout=widgets.Layout(width="360px"))
    summary = widgets.HTML()  # one line that says which review is shown below
    out = widgets.Output()

    @visible_errors(out)
    def show(_change=None) -> None:
        from workshop.review import review

        summary.value = ""
        if not branch.value or loading:
            return
        report = review(folder.value, base=base, head=branch.value)
        summary.value = f"<b>{report.change.head_ref}</b> against {report.change.base_ref}: <b>{report.status}</b>"
        display(HTML(report._repr_html_()))

    loading: list[bool] = []  # while the options change, `show` waits for the final pick

    @visible_errors(out)
    def load_branches(_change=None) -> None:
        loading.append(True)
        try:
            branch.options, summary.value = (), ""
            repo = Repo.open(folder.value)
            names = repo.branches()
            branch.options = names
            main = repo.main_branch()
            others = [n for n in names if n != main]
            branch.value = others[0] if others else (names[0] if names else None)
        finally:
            loading.clear()
        show()

    folder.observe(load_branches, names="value")
    branch.observe(show, names="value")
    load_branches()
    return widgets.VBox([widgets.HBox([folder, branch]), summary, out])
