"""The build as a timeline: what each connection did when (a Gantt chart of Report.jobs).

It shows why the copy takes the time it does: the customers' id ranges keep both
connections busy first, the collision fix and ANALYZE run side by side, then index
builds and foreign-key validations fill the gaps until the last job ends.
"""

from __future__ import annotations

COLORS = {
    "copy": "#4C72B0",
    "fix": "#C44E52",
    "analyze": "#8172B2",
    "index": "#55A868",
    "attach": "#937860",
    "fk": "#DD8452",
}


def plot_timeline(report, ax=None):
    """Draw report.jobs, one row per connection; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * max(1, len({w for w, *_ in report.jobs}))))
    for worker, kind, table, start, end in report.jobs:
        ax.barh(
            worker,
            end - start,
            left=start,
            height=0.6,
            color=COLORS.get(kind, "grey"),
            edgecolor="white",
            linewidth=0.5,
        )
        if end - start > 0.06 * report.seconds:  # label the long ones only
            ax.text(
                start + (end - start) / 2,
                worker,
                table.removeprefix("shop_"),
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
    ax.set_xlim(0, report.seconds)
    ax.set_yticks(sorted({w for w, *_ in report.jobs}))
    ax.set_yticklabels([f"connection {w + 1}" for w in sorted({w for w, *_ in report.jobs})])
    ax.invert_yaxis()
    ax.set_xlabel(
        "seconds since build() started (before the first bar: rule validation and fake pools; after the last: the swap)"
    )
    ax.legend(
        handles=[Patch(color=c, label=k) for k, c in COLORS.items()],
        ncol=6,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.45),
        frameon=False,
    )
    ax.set_title(f"{report.rows:,} rows in {report.seconds:.2f} s", fontsize=10)
    return ax
