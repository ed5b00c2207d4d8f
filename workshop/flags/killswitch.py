"""The kill-switch demo: processes serve the product page in a loop, its new block fails,
someone flips the kill switch; how long until every process obeyed, and what a TTL cache
(waffle's model) would have served meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

from workshop.flags.processes import commit_flip


def database_url() -> str:
    """This process's database (the test database under pytest) as a URL for a child process."""
    from workshop.flags.client import conninfo

    info = conninfo()
    host, port = str(info.get("host", "")), info.get("port")
    auth = f"{quote(str(info.get('user', '')), safe='')}:{quote(str(info.get('password', '')), safe='')}@"
    if not host or host.startswith("/"):  # a unix socket folder goes in the query string
        return f"postgresql://{auth}/{quote(info['dbname'])}" + (f"?host={quote(host, safe='/')}" if host else "")
    return f"postgresql://{auth}{host}{':' + str(port) if port else ''}/{quote(info['dbname'])}"


@dataclass
class KillSwitchRun:
    flipped_at: float  # time.time() when the committing statement was sent
    samples: list[list[list]]  # per process: [time, status, block on, TTL cache on]
    ttl: float

    def obeyed_after(self, column: int) -> list[float | None]:
        """Per process, seconds from the flip until its answers (column 2: the NOTIFY store,
        3: the TTL cache) were off for good."""
        result = []
        for samples in self.samples:
            last_on = max((s[0] for s in samples if s[column]), default=None)
            after = [s[0] for s in samples if s[0] > (last_on or float("-inf")) and s[0] >= self.flipped_at]
            result.append(
                after[0] - self.flipped_at if after and last_on is not None else (0.0 if last_on is None else None)
            )
        return result

    @property
    def errors(self) -> int:
        return sum(s[1] >= 500 for samples in self.samples for s in samples)

    @property
    def requests(self) -> int:
        return sum(len(samples) for samples in self.samples)


def run(
    conninfo: dict, key: str, user_ids: list[int], before: float = 0.4, after: float = 1.1, ttl: float = 1.0
) -> KillSwitchRun:
    """Turn `key` fully on, start one looping process per user id, flip the kill switch
    `before` seconds into the loop, stop `after` seconds later."""
    commit_flip(conninfo, key, enabled=True, everyone=True)
    env = {**os.environ, "WORKSHOP_DATABASE_URL": database_url()}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "workshop.flags.requestloop", "--user", str(uid), "--key", key, "--ttl", str(ttl)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for uid in user_ids
    ]
    try:
        for child in children:
            line = child.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a request loop did not start (said {line!r}); see its output above")
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        time.sleep(before)
        flipped_at = commit_flip(conninfo, key, enabled=False)
        time.sleep(after)
        for child in children:
            child.stdin.close()
        samples = [json.loads(child.stdout.readline()) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
    return KillSwitchRun(flipped_at, samples, ttl)


def plot(result: KillSwitchRun, bin_ms: float = 50.0):
    """Error rate over time per process, as served (NOTIFY) and as a TTL cache would have served."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(9, 3.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, samples in enumerate(result.samples):
        t = (np.array([s[0] for s in samples]) - result.flipped_at) * 1000
        edges = np.arange(t.min(), t.max() + bin_ms, bin_ms)
        for column, style, label in ((1, "-", "served (NOTIFY store)"), (3, ":", f"a TTL cache of {result.ttl:g} s")):
            bad = np.array([s[1] >= 500 if column == 1 else s[3] for s in samples], dtype=float)
            counts, _ = np.histogram(t, edges)
            errors, _ = np.histogram(t, edges, weights=bad)
            rate = np.divide(errors, counts, out=np.zeros_like(errors), where=counts > 0)
            ax.step(
                edges[:-1],
                rate * 100,
                style,
                where="post",
                color=colors[i % len(colors)],
                label=f"process {i + 1}: {label}",
            )
    ax.axvline(0, color="black", linewidth=1)
    ax.annotate("kill switch committed", (0, 102), fontsize=8)
    for column, color, label in ((2, "green", "every process obeyed"), (3, "grey", "every TTL cache expired")):
        obeyed = [x for x in result.obeyed_after(column) if x is not None]
        if obeyed:
            ax.axvline(max(obeyed) * 1000, color=color, linestyle="--", linewidth=1)
            ax.annotate(
                f"{label}: {max(obeyed) * 1000:.0f} ms",
                (max(obeyed) * 1000, 90 if column == 2 else 75),
                fontsize=8,
                color=color,
                xytext=(4, 0),
                textcoords="offset points",
            )
    ax.set_xlabel("ms since the flip")
    ax.set_ylabel("% of requests failing")
    ax.set_ylim(-5, 110)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return fig
