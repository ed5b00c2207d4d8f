"""Recorded benchmark runs, kept in the repository (data/bench/<name>.json): what each
chapter's "How fast?" section shows, with the conditions it was measured under, beside a
button that runs a small version on the attendee's own machine.

`workshop bench NAME --record` writes the file: the results of `workshop bench NAME` and the
conditions (date, machine, cores, load average before and after, Python, commit).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

FOLDER = config.DATA_DIR / "bench"


@dataclass(frozen=True)
class Recorded:
    name: str
    conditions: dict
    results: list[dict]

    def conditions_line(self) -> str:
        c = self.conditions
        load = c.get("load_average") or [None, None]
        return (
            f"Recorded {c.get('date', '?')[:10]} with `{c.get('command', 'workshop bench ' + self.name)}` on "
            f"{c.get('cores', '?')} cores ({c.get('machine', '?')}), load average {load[0]} at the start and "
            f"{load[1]} at the end, Python {c.get('python', '?')}, commit {c.get('commit', '?')}. "
            "Absolute times depend on the machine; ratios measured side by side transfer."
        )

    def frame(self):
        import pandas as pd

        columns = ["name", "value", "unit", "baseline", "ratio", "note"]
        return pd.DataFrame([{k: r.get(k) for k in columns} for r in self.results], columns=columns).set_index("name")

    @property
    def names(self) -> set[str]:
        return {r["name"] for r in self.results}


def conditions(command: str) -> dict:
    """Where and how a run is taken (the start of the run: call `finish()` on it at the end)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(config.CHECKOUT_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {platform.system()}, {_cpu_model()}",
        "cores": os.cpu_count(),
        "load_average": [round(os.getloadavg()[0], 2), None],
        "python": platform.python_version(),
        "commit": commit or "unknown",
        "command": command,
    }


def finish(found: dict) -> dict:
    found["load_average"][1] = round(os.getloadavg()[0], 2)
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write(name: str, results: list, found: dict, folder: Path | None = None) -> Path:
    folder = Path(folder or FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"benchmark": name, "recorded": found, "results": [asdict(r) for r in results]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def load(name: str, folder: Path | None = None) -> Recorded:
    folder = Path(folder or FOLDER)
    path = folder / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        return Recorded(data["benchmark"], dict(data["recorded"]), list(data["results"]))
    except FileNotFoundError:
        raise WorkshopError(
            f"No run of the {name!r} benchmark is recorded in this checkout yet ({_shown(path)} does not exist)",
            f"`workshop bench {name} --record` writes it",
        ) from None
    except (ValueError, KeyError, TypeError):
        raise WorkshopError(
            f"The recorded run {path} is not a benchmark record", f"run `workshop bench {name} --record` again"
        ) from None


def _shown(path: Path) -> str:
    """A record's path as the repository names it (data/bench/NAME.json), else in full."""
    try:
        return str(path.resolve().relative_to(config.CHECKOUT_DIR.resolve()))
    except ValueError:
        return str(path)


def plot(recorded: Recorded, ax=None):
    """The ratios of the recorded run (the figures that transfer between machines), one bar each."""
    import matplotlib.pyplot as plt

    rows = [r for r in recorded.results if r.get("ratio")]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * max(len(rows), 1) + 1))
    ax.barh([r["name"] for r in rows], [r["ratio"] for r in rows], color="#4c72b0")
    ax.axvline(1, color="#888", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("times better than the alternative measured beside it (log scale)")
    ax.invert_yaxis()
    return ax


def how_fast(name: str, live: Callable[[], object] | None = None, live_label: str = "Run a small version here"):
    """The recorded run (conditions, table, chart) and a button that runs `live()` on this
    machine; whatever `live()` returns (a DataFrame, a list of results) is shown below it, and
    so is any error it raises. Without a record (or with a broken one) it says so in one
    sentence, with the command that writes it, and keeps the button: Run All goes on."""
    import html

    import ipywidgets as widgets
    from IPython.display import display

    try:
        recorded = load(name)
    except WorkshopError as problem:
        parts = [widgets.HTML(f"<p><i>{html.escape(str(problem))}</i></p>")]
    else:
        parts = [widgets.HTML(f"<p><i>{recorded.conditions_line()}</i></p>"), _recorded_table(recorded)]
    if live is not None:
        button = widgets.Button(description=live_label, layout=widgets.Layout(width="auto"))
        out = widgets.Output()

        def run(_):
            out.clear_output()
            with out:
                button.disabled = True
                try:
                    shown = live()
                    if isinstance(shown, list):
                        import pandas as pd

                        shown = pd.DataFrame([asdict(r) for r in shown]).set_index("name")
                    display(shown)
                except Exception as error:  # shown under the button, never lost in the console
                    out.append_stderr(f"{type(error).__name__}: {error}\n")
                finally:
                    button.disabled = False

        button.on_click(run)
        parts += [button, out]
    return widgets.VBox(parts)


def _recorded_table(recorded: Recorded):
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    table = widgets.Output()
    with table:
        display(recorded.frame().drop(columns=["note"]).style.format(precision=3, na_rep=""))
        if any(r.get("ratio") for r in recorded.results):
            plot(recorded)
            plt.tight_layout()
            plt.show()
    return table
