"""A notebook open in JupyterLab, driven the way an attendee drives it: menus, clicks, keys.

Selectors are JupyterLab 4's and ipywidgets 8's own class names and command ids
(data-command), not positions, so they survive layout and theme changes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: without playwright the browser tests skip, they do not error
    from playwright.sync_api import Locator, Page

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# A widget view's output has no data-mime-type; the widget manager puts the view straight in it.
WIDGET_VIEW = ".jp-OutputArea-output:has(> .jupyter-widgets)"
PLAIN = '.jp-OutputArea-output[data-mime-type="text/plain"]'
# How an ipywidget looks when the page has no widget manager: its text/plain repr.
WIDGET_REPR = re.compile(r"^\s*[A-Z]\w*\((children|value|options|description|layout|index|min|max)=")
ERROR_TEXT = re.compile(r"(?m)Traceback \(most recent call last\)|^\s*[A-Za-z_][\w.]*(Error|Exception)\b\s*:?")
IDLE_TIMEOUT = 240  # seconds for Run All to finish (the first setup() in a kernel loads data)


@dataclass
class Problems:
    """What an attendee would see as broken, each as one line fit for an assertion message."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.items.append(text)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __str__(self) -> str:
        return "\n".join(f"- {item}" for item in self.items)


class NotebookView:
    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        # The notebook in the main area (lab mode keeps other, hidden, panels in the DOM).
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    # --- opening ---------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=90_000)
        # Fold the file browser away: more room for outputs in the screenshots.
        current = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if current.count():
            current.first.click()
        self.wait_kernel_ready()

    def wait_kernel_ready(self, timeout: float = 90) -> None:
        """The kernel started and is idle, or a dialog (kernel picker...) came up instead."""
        # Before the session exists the indicator already says "idle" next to "No Kernel":
        # wait for a named kernel that stays idle for a second.
        deadline = time.monotonic() + timeout
        idle_since = None
        while time.monotonic() < deadline:
            if self.dialogs():
                return  # the caller reports it
            if self.kernel_status() == "idle" and self.kernel_name() not in ("", "No Kernel"):
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 1.0:
                    return
            else:
                idle_since = None
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name}: the kernel did not become idle in {timeout:.0f} s "
            f"(kernel {self.kernel_name()!r}, status {self.kernel_status()!r})"
        )

    def kernel_name(self) -> str:
        name = self.panel.locator(".jp-Toolbar-kernelName").first
        return (name.text_content() or "").strip() if name.count() else ""

    def kernel_status(self) -> str | None:
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator").first
        if indicator.count() == 0:
            return None
        return indicator.get_attribute("data-status")

    def dialogs(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".jp-Dialog").all_inner_texts() if t.strip()]

    def toasts(self) -> list[str]:
        return [
            t.strip()
            for t in self.page.locator(".jp-Notification-Toast, .Toastify__toast").all_inner_texts()
            if t.strip()
        ]

    def dismiss_toasts(self) -> None:
        for button in self.page.locator(
            ".Toastify__toast .Toastify__close-button, "
            ".Toastify__toast button[title='Dismiss notification'], "
            ".jp-Notification-Toast-Close"
        ).all():
            try:
                button.click(timeout=2_000)
            except Exception:  # noqa: BLE001 - a toast may close by itself meanwhile
                pass

    # --- running ---------------------------------------------------------------------------

    def menu(self, menu: str, command: str) -> None:
        """Click menu bar item `menu`, then the entry that runs JupyterLab command `command`."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^\s*{re.escape(menu)}\s*$")).first.click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()

    def run_all(self) -> None:
        """Run > Run All Cells, then wait until every cell ran and the kernel is idle."""
        self.mark_prompts()
        self.menu("Run", "runmenu:run-all")
        self.wait_until_run()

    def restart_and_run_all(self) -> None:
        """Kernel > Restart Kernel and Run All Cells..., confirming the dialog as an attendee does."""
        self.mark_prompts()
        self.menu("Kernel", "runmenu:restart-and-run-all")
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=10_000)
        dialog.locator("button.jp-mod-accept").click()
        dialog.wait_for(state="detached", timeout=10_000)
        self.wait_until_run()

    def prompts(self) -> list[str]:
        return [t.strip() for t in self.panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()]

    def mark_prompts(self) -> None:
        self._before = self.prompts()

    def wait_until_run(self, timeout: float = IDLE_TIMEOUT) -> None:
        """Until the run was seen starting, no cell is queued or running ([*]) any more, and the
        kernel has been idle for a second (a widget callback may still be finishing)."""
        deadline = time.monotonic() + timeout
        idle_since, started = None, False
        while time.monotonic() < deadline:
            prompts = self.prompts()
            running = any("*" in p for p in prompts) or self.kernel_status() != "idle"
            # Started: a cell was seen queued/running, or the prompts changed (a restart numbers
            # cells from [1] again, so equal prompts alone do not mean "not run yet").
            started = started or running or prompts != self._before
            busy = running or not started
            if self.dialogs():
                return
            if busy:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 1.0:
                return
            time.sleep(0.25)
        raise AssertionError(f"{self.name}: Run All did not finish in {timeout:.0f} s; prompts {self.prompts()}")

    # --- what is shown ---------------------------------------------------------------------

    def problems(self, when: str) -> Problems:
        """Everything that looks broken right now: errors, widgets that did not render, dialogs,
        cells that never ran (Run All stops at the first error)."""
        found = Problems()
        for text in self.dialogs():
            found.add(f"{when}: a dialog is open: {text[:300]!r}")
        for output in self.panel.locator(STDERR).all():
            text = output.text_content() or ""
            if ERROR_TEXT.search(text) or output.locator(".ansi-red-fg, .ansi-red-intense-fg").count():
                found.add(f"{when}: error output: {text.strip()[:1500]}")
        for output in self.panel.locator(PLAIN).all():
            text = output.text_content() or ""
            if WIDGET_REPR.match(text):
                found.add(f"{when}: a widget shows as text (is the widget extension missing?): {text[:200]!r}")
        body = self.panel.text_content() or ""
        for message in ("Error displaying widget", "No renderer could be found", "Loading widget..."):
            if message in body:
                found.add(f"{when}: {message!r} is shown")
        unrun = [i for i, p in enumerate(self.prompts()) if not re.search(r"\[\d+\]", p)]
        if unrun:
            found.add(f"{when}: code cells {unrun} did not run (prompts {self.prompts()})")
        return found

    def wait_widgets_rendered(self, timeout: float = 15) -> None:
        """Give 'Loading widget...' a moment to turn into the widget (it is stuck after that)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "Loading widget..." in (self.panel.text_content() or ""):
            time.sleep(0.25)

    def widget_count(self) -> int:
        return self.panel.locator(WIDGET_VIEW).count()

    def widgets_text(self) -> str:
        """The text of every rendered widget, for a before/after comparison."""
        return "\n".join(self.panel.locator(WIDGET_VIEW).all_text_contents())

    # --- widgets, for the interactions ----------------------------------------------------

    def widget(self, kind: str, description: str) -> Locator:
        """The ipywidgets control of `kind` (dropdown, slider, ...) whose label is `description`."""
        label = self.page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))
        found = self.panel.locator(f".widget-{kind}").filter(has=label)
        if found.count() == 0:
            raise AssertionError(f"{self.name}: no {kind} widget labelled {description!r} is shown")
        return found.first

    def widget_group(self, control: Locator) -> Locator:
        """The widget output area (one cell output) holding `control`."""
        return control.locator(
            "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-OutputArea-output ')][last()]"
        )

    def wait_for_text_change(self, area: Locator, before: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = area.text_content() or ""
            if now != before and now.strip() and "Loading widget..." not in now:
                time.sleep(0.3)  # let the Output widget finish (clear_output(wait=True) + display)
                return area.text_content() or ""
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: the display did not change within {timeout:.0f} s")

    # --- pictures ---------------------------------------------------------------------------

    def screenshot(self, path: Path) -> Path:
        """The whole notebook in one picture: the viewport grows to the notebook's height."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Scroll the notebook to its top and measure down to the end of its last cell.
        height = self.page.evaluate(
            """() => {
                const panel = [...document.querySelectorAll('.jp-NotebookPanel')]
                    .find(p => !p.classList.contains('lm-mod-hidden'));
                if (!panel) return 0;
                const scroller = panel.querySelector('.jp-WindowedPanel-outer') || panel.querySelector('.jp-Notebook');
                scroller.scrollTop = 0;
                const cells = panel.querySelectorAll('.jp-Notebook .jp-Cell');
                const last = cells[cells.length - 1];
                return last ? last.getBoundingClientRect().bottom + 120 : scroller.scrollHeight;
            }"""
        )
        size = self.page.viewport_size or {"width": 1400, "height": 1000}
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 12_000))})
        time.sleep(0.5)  # relayout, then back to the top (a resize may scroll to the active cell)
        self.page.evaluate("""() => document.querySelectorAll('.jp-NotebookPanel .jp-WindowedPanel-outer')
                                       .forEach(s => { s.scrollTop = 0; })""")
        time.sleep(0.3)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)
        return path
