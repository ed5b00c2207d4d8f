"""One widget interaction per notebook, as an attendee would do it, declared by notebook stem.

Every notebook that shows a widget must register one here, or the browser test fails with a
message naming the notebook. An interaction drives a control and checks that what the
notebook shows changed because of it; the test then also checks that the widgets' text
changed overall and that no error appeared.

To add one for, say, notebooks/02_jane_doe.ipynb with an IntSlider labelled "Age":

    @interaction("02_jane_doe")
    def move_the_age_slider(nb: NotebookView) -> None:
        slider = nb.widget("slider", "Age")
        area = nb.widget_group(slider)
        before = area.text_content()
        nudge_slider(slider, steps=5)
        after = nb.wait_for_text_change(area, before)
        assert ... in after
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lab_page import NotebookView

if TYPE_CHECKING:
    from playwright.sync_api import Locator

Interaction = Callable[[NotebookView], None]
INTERACTIONS: dict[str, Interaction] = {}


def interaction(stem: str) -> Callable[[Interaction], Interaction]:
    def register(func: Interaction) -> Interaction:
        if stem in INTERACTIONS:
            raise ValueError(f"two interactions registered for notebook {stem!r}")
        INTERACTIONS[stem] = func
        return func

    return register


# --- helpers for common controls ----------------------------------------------------------


def pick_other_option(dropdown: Locator) -> tuple[str, str]:
    """Select a different option in an ipywidgets Dropdown; returns (old label, new label)."""
    select = dropdown.locator("select")
    values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    current = select.input_value()
    others = [value for value in values if value != current]
    assert others, f"the dropdown offers nothing but {current!r}"
    select.select_option(value=others[0])
    return current, others[0]


def nudge_slider(slider: Locator, steps: int = 1) -> None:
    """Move an ipywidgets slider by `steps` with the keyboard (its handle takes focus, like a user's Tab)."""
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    key = "ArrowRight" if steps > 0 else "ArrowLeft"
    for _ in range(abs(steps)):
        handle.press(key)


# --- the notebooks ----------------------------------------------------------------------------


@interaction("00_setup_check")
def pick_another_category(nb: NotebookView) -> None:
    """The "Category" dropdown: another category shows another best-rated table."""
    dropdown = nb.widget("dropdown", "Category")
    area = nb.widget_group(dropdown)
    table = area.locator(".widget-output table")
    assert table.count() == 1, f"no table under the Category dropdown: {area.text_content()!r}"
    before = area.text_content() or ""
    rows_before = table.locator("tbody tr").all_text_contents()
    old, new = pick_other_option(dropdown)
    after = nb.wait_for_text_change(area, before)
    rows_after = area.locator(".widget-output table tbody tr").all_text_contents()
    assert rows_after, f"after picking {new!r} the table is gone: {after!r}"
    assert rows_after != rows_before, f"picking {new!r} instead of {old!r} left the table as it was"


@interaction("02_jane_doe")
def coarsen_the_zip_code(nb: NotebookView) -> None:
    """The generalization explorer: fewer ZIP digits put more people in each class, so the
    printed k-anonymity line (and the unique share in it) must change."""
    slider = nb.widget("slider", "ZIP digits")
    area = nb.widget_group(slider)
    before = area.text_content() or ""
    assert "unique" in before, f"no k-anonymity line under the sliders: {before!r}"
    assert "ZIP 5 digits" in before, before
    nudge_slider(slider, steps=-3)
    after = nb.wait_for_text_change(area, before)
    # The slider's own read-out changes first; the kernel's new line follows it.
    import time

    deadline = time.monotonic() + 30
    while "ZIP 2 digits" not in after and time.monotonic() < deadline:
        time.sleep(0.3)
        after = area.text_content() or ""
    assert "ZIP 2 digits" in after and "unique" in after, f"the k-anonymity line did not follow the slider: {after!r}"


@interaction("01_pull_requests")
def pick_the_oversized_branch(nb: NotebookView) -> None:
    """The report explorer: picking feature/everything shows that branch's review, which fails
    (a stray breakpoint, a key-shaped string...), where feature/discount only warned."""
    dropdown = nb.widget("dropdown", "Branch")
    area = nb.widget_group(dropdown)
    before = area.text_content() or ""
    assert "feature/discount against main: warn" in before, f"no review summary under the Branch picker: {before!r}"
    dropdown.locator("select").select_option(label="feature/everything")
    after = nb.wait_for_text_change(area, before)
    assert "feature/everything against main: fail" in after and "secrets" in after, (
        f"the report did not follow the branch: {after!r}"
    )


@interaction("03_feature_flags")
def slide_the_rollout_percentage(nb: NotebookView) -> None:
    """The live product page: moving the percentage re-defines the flag and requests the page
    again, so the printed request/response line names the new percentage and threshold."""
    slider = nb.widget("slider", "Percentage")
    area = nb.widget_group(slider)
    before = area.text_content() or ""
    assert "GET /products/1/" in before and "at 50%" in before, f"no request/response under the toggles: {before!r}"
    nudge_slider(slider, steps=5)
    after = nb.wait_for_text_change(area, before)
    assert "at 55%" in after and "X-Recommended" in after, f"the page did not follow the slider: {after!r}"


@interaction("04_queries")
def pick_another_question(nb: NotebookView) -> None:
    """The question explorer: another question in the "Question" dropdown shows another result
    (its row count line and table change), computed by its own queryset."""
    dropdown = nb.widget("dropdown", "Question")
    area = nb.widget_group(dropdown)
    before = area.text_content() or ""
    assert "rows (" in before, f"no result line under the question explorer: {before[:300]!r}"
    old, new = pick_other_option(dropdown)
    after = nb.wait_for_text_change(area, before)
    assert "rows (" in after or "No rows" in after, f"after picking {new!r} no result is shown: {after[:300]!r}"
    assert after != before, f"picking {new!r} instead of {old!r} left the explorer as it was"


@interaction("05_search")
def type_another_search(nb: NotebookView) -> None:
    """The search box (postgres backend, so it runs without Elasticsearch): typing another
    query must change the ranked results below it."""
    box = nb.widget("text", "Search")
    area = nb.widget_group(box)
    before = area.text_content() or ""
    assert "match" in before, f"no results under the search box: {before!r}"
    rows_before = area.locator("table.workshop-search tbody tr").all_text_contents()
    field = box.locator("input")
    field.fill("steel OR knife")
    field.press("Enter")  # the box searches on Enter (continuous_update=False)
    after = nb.wait_for_text_change(area, before)
    rows_after = area.locator("table.workshop-search tbody tr").all_text_contents()
    assert "match" in after and rows_after and rows_after != rows_before, (
        f"typing 'steel OR knife' left the results as they were: {after!r}"
    )
