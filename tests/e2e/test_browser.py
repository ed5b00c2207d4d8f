"""Every notebook in a real browser, against JupyterLab started the way `make lab` starts it.

For each notebook: open it (no kernel picker may appear), Run All, Kernel > Restart Kernel
and Run All, Run All once more in that kernel, and after each run check that nothing shows
an error and every widget rendered. Then the notebook's registered widget interaction
(interactions.py) must change what is shown. A screenshot of each notebook is saved under
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json

import pytest
from conftest import NOTEBOOKS, SCREENSHOTS
from interactions import INTERACTIONS
from lab_page import NotebookView

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEWS_TOAST = "official Jupyter news"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_jupyterlab(page, lab, path):
    nb = NotebookView(page, path.name)
    try:
        nb.open(lab.lab_url(f"tree/{path.name}", workspace=path.stem))
        _run_and_interact(nb, page, path)
    finally:
        page.close()
        lab.shutdown_sessions(path.name)


def _run_and_interact(nb: NotebookView, page, path) -> None:
    assert not nb.dialogs(), f"{path.name}: a dialog opened with the notebook (kernel picker?): {nb.dialogs()}"
    nb.dismiss_toasts()  # the news consent toast (see test_no_news_or_update_toast) would cover outputs

    for when, run in (
        ("Run All", nb.run_all),
        ("Restart Kernel and Run All", nb.restart_and_run_all),
        ("Run All again in the same kernel", nb.run_all),
    ):
        run()
        nb.wait_widgets_rendered()
        problems = nb.problems(when)
        if problems:
            nb.screenshot(SCREENSHOTS / f"{path.stem}-FAILED.png")
        assert not problems, (
            f"{path.name} after {when}:\n{problems}\n(browser console errors: {page.console_errors[-5:]})"
        )

    nb.screenshot(SCREENSHOTS / f"{path.stem}.png")  # after the runs; again after the interaction
    widgets = nb.widget_count()
    interact = INTERACTIONS.get(path.stem)
    if widgets and interact is None:
        pytest.fail(
            f"{path.name} shows {widgets} widget(s) but no interaction is registered for it: add "
            f"@interaction({path.stem!r}) to tests/e2e/interactions.py (one control an attendee would "
            f"use, and what must change when they do)",
            pytrace=False,
        )
    if interact is not None:
        assert widgets, f"{path.name}: an interaction is registered but the notebook shows no widget"
        before = nb.widgets_text()
        interact(nb)
        nb.wait_widgets_rendered()
        assert nb.widgets_text() != before, f"{path.name}: {interact.__name__} changed nothing that is shown"
        problems = nb.problems(f"after {interact.__name__}")
        if problems:
            nb.screenshot(SCREENSHOTS / f"{path.stem}-FAILED.png")
        assert not problems, f"{path.name}:\n{problems}"

    shot = nb.screenshot(SCREENSHOTS / f"{path.stem}.png")
    assert shot.stat().st_size > 10_000


def test_every_interaction_belongs_to_a_notebook():
    stems = {p.stem for p in NOTEBOOKS}
    stale = sorted(set(INTERACTIONS) - stems)
    assert not stale, f"interactions registered for notebooks that do not exist (renamed?): {stale}"


def test_lab_server_is_offline_friendly(lab):
    """The server side of cmd_lab's flags: no news feed, no update check."""
    page_news = json.loads(lab.api("/lab/api/news"))
    update = json.loads(lab.api("/lab/api/update"))
    assert page_news == {"news": []}
    assert update == {"notification": None}


def test_no_news_or_update_toast(page, lab):
    """A first-time attendee sees no pop-up about news or updates when JupyterLab opens."""
    nb = NotebookView(page, "JupyterLab")
    page.goto(lab.lab_url(workspace="first-visit"))
    page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    page.wait_for_timeout(4_000)  # the announcements plugin asks after the app is restored
    toasts = nb.toasts()
    assert not [t for t in toasts if NEWS_TOAST in t or "update" in t.lower()], (
        f"JupyterLab pops up {toasts}. No command-line flag hides this in JupyterLab 4.6 (cmd_lab's "
        "--LabApp.news_url=None only stops the server fetching news): disable the plugin with `jupyter "
        "labextension disable --level=sys_prefix @jupyterlab/apputils-extension:announcements` at install time"
    )
