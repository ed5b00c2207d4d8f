"""A notebook run the way an attendee runs it, cell by cell in one real kernel, through
jupyter_client: restart it, run cells out of order, change the world between two runs.

Only what the browser adds nothing to lives here (no widgets are clicked: that is the
browser test's job); widget comm traffic is simply ignored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CellRun:
    index: int
    source: str
    status: str = "ok"  # the execute_reply status: ok | error
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    html: str = ""  # every text/html output, joined
    text: str = ""  # every text/plain output, joined
    mimetypes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # every error shown, in the cell or inside a widget

    @property
    def failed(self) -> bool:
        """The cell raised, or showed an error anyway: an exception in a widget callback run
        during the cell lands in the widget's Output while the cell itself reports "ok"."""
        return self.status != "ok" or bool(self.errors)

    @property
    def shown(self) -> str:
        """Everything the attendee sees under the cell, as one string."""
        return "\n".join(
            filter(None, [self.stdout, self.stderr, self.text, self.html, self.ename, self.evalue, self.traceback])
        )

    def describe(self) -> str:
        head = f"cell {self.index} ({self.source.strip().splitlines()[0] if self.source.strip() else ''!r})"
        if self.failed:
            where = "" if self.status != "ok" else " inside a widget (the cell itself finished)"
            return f"{head} raised {self.ename}: {self.evalue}{where}\n{self.traceback[-3000:]}"
        return f"{head} ok"


class NotebookKernel:
    """One kernel for one notebook, started in the notebook's folder with the given environment."""

    def __init__(self, path: Path, env: dict[str, str], timeout: float = 300) -> None:
        self.path = path
        self.nb = nbformat.read(path, as_version=4)
        self.code_cells = [(i, c) for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        self.timeout = timeout
        self.km = KernelManager(kernel_name=self.nb.metadata.get("kernelspec", {}).get("name", "python3"))
        self.km.start_kernel(env=env, cwd=str(path.parent))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def __enter__(self) -> NotebookKernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def restart(self) -> None:
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, index: int = -1) -> CellRun:
        run = CellRun(index, code)

        def hook(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    run.stdout += content["text"]
                else:
                    run.stderr += content["text"]
            elif kind in ("execute_result", "display_data"):
                data = content.get("data", {})
                run.mimetypes.extend(data)
                run.html += data.get("text/html", "")
                run.text += data.get("text/plain", "")
            elif kind == "error":
                run.ename, run.evalue = content["ename"], content["evalue"]
                run.traceback = ANSI.sub("", "\n".join(content["traceback"]))
                run.errors.append(f"{run.ename}: {run.evalue}")

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=self.timeout, allow_stdin=False)
        run.status = reply["content"]["status"]
        if run.failed and not run.ename:
            run.ename, run.evalue = reply["content"].get("ename", ""), reply["content"].get("evalue", "")
        return run

    def run_cell(self, index: int) -> CellRun:
        """Run the notebook's cell number `index` (counting every cell, as nbformat does)."""
        return self.execute(self.nb.cells[index].source, index)

    def run_all(self, stop_on_error: bool = True) -> list[CellRun]:
        """Run All Cells: top to bottom, stopping at the first error like JupyterLab does."""
        runs = []
        for index, _cell in self.code_cells:
            run = self.run_cell(index)
            runs.append(run)
            if run.failed and stop_on_error:
                break
        return runs

    def find_cell(self, needle: str) -> int:
        """The index of the first code cell whose source contains `needle`."""
        for index, cell in self.code_cells:
            if needle in cell.source:
                return index
        raise LookupError(f"{self.path.name}: no code cell contains {needle!r}")


def failures(runs: list[CellRun]) -> list[CellRun]:
    return [r for r in runs if r.failed]


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
