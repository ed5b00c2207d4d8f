"""A queryset's SQL, readable, and its plan from EXPLAIN (ANALYZE, BUFFERS), drawn as a tree.

`EXPLAIN ... FORMAT JSON` gives every node its actual time (inclusive of its children, per
loop), rows, loops and buffers. The drawing shows each node's *own* time (its total minus its
children's), so the bar points at the step that really costs, and flags row estimates that
are off by 10x or more (the usual reason for a bad plan).

Parallel plans: below a Gather, a node runs in the leader and in each worker side by side.
Its loops are summed over those processes and its time per loop averaged over them, so
time x loops is process time, up to (workers + 1) times what the query waited for. VERBOSE
adds each worker's own time and loops; the leader's are the rest. A node's time in the
drawing is its slowest process's (what the query waits for, and never more than its
parent's); the time summed over processes is kept beside it (`process_ms`).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import sqlparse

from workshop.django_setup import require_setup

require_setup()  # a notebook cell run before the set-up cell: say what to run


def sql_of(queryset) -> str:
    """The SQL PostgreSQL receives, parameters filled in by the driver, laid out to read."""
    from django.db import connection

    sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    connection.ensure_connection()
    return sqlparse.format(connection.ops.compose_sql(sql, params), reindent=True, keyword_case="upper")


@dataclass(frozen=True)
class PlanNode:
    depth: int
    label: str
    estimated_rows: float
    actual_rows: float  # per loop, like the estimate
    loops: int  # summed over the processes that ran the node
    total_ms: float  # inclusive, all loops: the slowest of the processes that ran the node
    own_ms: float  # exclusive of children
    hit: int
    read: int
    workers: int = 0  # parallel workers that ran the node (beside the leader, if it took part)
    leader: bool = True  # whether the leader process ran it
    process_ms: float | None = None  # inclusive, summed over the processes (None: = total_ms)
    workers_launched: int | None = None  # a Gather's, of its planned ones
    workers_planned: int | None = None

    @property
    def processes(self) -> int:
        return self.workers + (1 if self.leader else 0)

    @property
    def worker_info(self) -> str:
        if self.workers_planned is not None:
            return f"{self.workers_launched} of {self.workers_planned} launched"
        if not self.workers:
            return ""
        who = f"{self.workers} + leader" if self.leader else f"{self.workers} (not the leader)"
        return f"{who}: {self.process_ms:,.2f} ms in all"

    @property
    def misestimate(self) -> float:
        """How many times off the planner's row estimate was (1 = spot on)."""
        est, act = max(self.estimated_rows, 1), max(self.actual_rows, 1)
        return max(est / act, act / est)


@dataclass(frozen=True)
class Plan:
    nodes: list[PlanNode]
    planning_ms: float
    execution_ms: float

    def _repr_html_(self) -> str:
        return draw(self)


def explain(queryset) -> Plan:
    """Run EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) for the queryset (it executes the query)."""
    from django.db import connections

    # Not queryset.explain(): on a query that filters on a window function (Django wraps it in
    # a subquery) Django 5.2 puts EXPLAIN inside the subquery too. The compiled SQL with its
    # parameters bound by the driver is exactly what the queryset runs.
    sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        # VERBOSE: each parallel worker's own time and loops (see the module's docstring)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    document = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    nodes: list[PlanNode] = []
    _walk(document["Plan"], 0, nodes)
    return Plan(nodes, document.get("Planning Time", 0.0), document.get("Execution Time", 0.0))


def _walk(node: dict, depth: int, out: list[PlanNode]) -> float:
    """Append node and children depth-first; returns the node's inclusive time in ms."""
    loops = node.get("Actual Loops", 1)
    summed = node.get("Actual Total Time", 0.0) * loops  # over every process that ran it
    workers = [w for w in node.get("Workers", []) if w.get("Actual Loops")]
    worker_ms = [w["Actual Total Time"] * w["Actual Loops"] for w in workers]
    leader_loops = loops - sum(w["Actual Loops"] for w in workers)
    leader_ms = max(summed - sum(worker_ms), 0.0)  # the leader's share: what the workers' leave
    total = max(worker_ms + ([leader_ms] if leader_loops > 0 else [])) if workers else summed
    index = len(out)
    out.append(None)  # placeholder: the node's own time needs its children's first
    children = sum(_walk(child, depth + 1, out) for child in node.get("Plans", []))
    out[index] = PlanNode(
        depth,
        _label(node),
        node.get("Plan Rows", 0),
        node.get("Actual Rows", 0),
        loops or 1,
        total,
        max(total - children, 0.0),
        node.get("Shared Hit Blocks", 0),
        node.get("Shared Read Blocks", 0),
        workers=len(workers),
        leader=not workers or leader_loops > 0,
        process_ms=summed,
        workers_launched=node.get("Workers Launched"),
        workers_planned=node.get("Workers Planned"),
    )
    return total


def _label(node: dict) -> str:
    label = ("Parallel " if node.get("Parallel Aware") else "") + node["Node Type"]
    if node.get("Strategy") and node["Node Type"] == "Aggregate":
        label = f"{node['Strategy'].title()} Aggregate"
    if node.get("Subplan Name"):  # a correlated subquery: its loops say how often it ran
        label = f"[{node['Subplan Name']}] {label}"
    if node.get("Index Name"):
        label += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        label += f" on {node['Relation Name']}"
        if node.get("Alias") and node["Alias"] != node["Relation Name"]:
            label += f" {node['Alias']}"
    for key in ("Hash Cond", "Merge Cond", "Join Filter", "Index Cond", "Filter", "Sort Key", "Group Key"):
        if node.get(key):
            value = ", ".join(node[key]) if isinstance(node[key], list) else node[key]
            label += f" · {key.lower()}: {value}"
    return label


def draw(plan: Plan) -> str:
    """HTML: one row per node, indented as the tree, a bar for the node's own time."""
    slowest = max((n.own_ms for n in plan.nodes), default=0) or 1
    rows = []
    for n in plan.nodes:
        width = int(160 * n.own_ms / slowest)
        warn = (
            f' <span style="color:#c62828" title="planner estimate off">est. {n.estimated_rows:,.0f} ({n.misestimate:.0f}x off)</span>'
            if n.misestimate >= 10
            else ""
        )
        rows.append(
            "<tr>"
            f'<td style="text-align:left;padding-left:{8 + 18 * n.depth}px;font-family:monospace">'
            f"{'└ ' if n.depth else ''}{html.escape(n.label[:140])}</td>"
            f'<td style="text-align:right">{n.actual_rows:,.0f}{warn}</td>'
            f'<td style="text-align:right">{n.loops:,}</td>'
            f'<td style="text-align:right">{html.escape(n.worker_info)}</td>'
            f'<td style="text-align:right">{n.own_ms:.2f}</td>'
            f'<td style="text-align:left"><div style="background:#4c72b0;height:10px;width:{width}px"></div></td>'
            f'<td style="text-align:right">{n.hit:,} / {n.read:,}</td>'
            "</tr>"
        )
    head = (
        "<tr><th style='text-align:left'>plan node</th><th>rows per loop</th><th>loops</th><th>workers</th>"
        "<th>own ms</th><th></th>"
        "<th>buffers hit / read</th></tr>"
    )
    caption = (
        f"<p>EXPLAIN (ANALYZE, BUFFERS): planning {plan.planning_ms:.2f} ms, execution "
        f"{plan.execution_ms:.2f} ms. A buffer is an 8 kB page; <i>hit</i> came from PostgreSQL's cache, "
        f"<i>read</i> from the OS or disk. Below a Gather, a node runs in parallel workers and the leader "
        f"side by side: its time is the slowest process's, its loops are summed over them.</p>"
    )
    return caption + f"<table>{head}{''.join(rows)}</table>"
