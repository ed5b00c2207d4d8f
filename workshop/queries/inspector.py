"""A query inspector for your own code: what did this block ask the database, and why?

    with record_queries() as log:
        render_order_page()
    log                       # count, time, queries grouped by shape, N+1 suspects with their line

    %%queries                 # the same for a notebook cell (after register_magic())

    with assert_max_queries(3):   # in a test: fails, listing the queries, if the block runs more
        render_order_page()

Every query goes through `connection.execute_wrapper`, so nothing is patched. Queries are
grouped by *shape*: the SQL with its literals and parameter lists normalized, so
`WHERE id = 1` and `WHERE id = 2` are one shape. A shape run many times from the same line of
your code is the N+1 signature; that line is found by walking the stack to the first frame
outside Django, the standard library, installed packages and this module.
"""

from __future__ import annotations

import html
import re
import sysconfig
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workshop.errors import WorkshopError

N_PLUS_ONE_THRESHOLD = 3  # the same shape from the same line this many times: flag it


@dataclass(frozen=True)
class Query:
    sql: str
    params: tuple
    seconds: float
    shape: str
    origin: str  # "file.py:42 in function" of the first frame in your code
    code: str  # that line's source


@dataclass
class QueryLog:
    alias: str = "default"
    queries: list[Query] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole block

    @property
    def count(self) -> int:
        return len(self.queries)

    @property
    def database_seconds(self) -> float:
        return sum(q.seconds for q in self.queries)

    def groups(self) -> pd.DataFrame:
        """One row per (shape, origin): how often, how long, and whether it looks like N+1."""
        columns = ["count", "total ms", "origin", "code", "shape", "N+1?"]
        if not self.queries:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(
            [{"shape": q.shape, "origin": q.origin, "code": q.code, "ms": q.seconds * 1000} for q in self.queries]
        )
        grouped = (
            frame.groupby(["shape", "origin", "code"], sort=False)
            .agg(count=("ms", "size"), total_ms=("ms", "sum"))
            .reset_index()
            .rename(columns={"total_ms": "total ms"})
        )
        grouped["N+1?"] = grouped["count"] >= N_PLUS_ONE_THRESHOLD
        return grouped.sort_values(["count", "total ms"], ascending=False)[columns].reset_index(drop=True)

    def suspects(self) -> pd.DataFrame:
        """The groups that look like N+1: one query per row of something."""
        groups = self.groups()
        return groups[groups["N+1?"]].reset_index(drop=True)

    def summary(self) -> str:
        line = (
            f"{self.count} queries, {self.database_seconds * 1000:.1f} ms in the database, "
            f"{self.seconds * 1000:.1f} ms for the block"
        )
        for _, row in self.suspects().iterrows():
            line += f"\nN+1 suspect: {row['count']} x the same query from {row['origin']}: {row['code']}"
        return line

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<QueryLog: {self.summary()}>"

    def _repr_html_(self) -> str:
        groups = self.groups()
        groups["shape"] = groups["shape"].str.slice(0, 160)
        styled = (
            groups.style.apply(lambda row: ["background-color: #ffe0e0" if row["N+1?"] else "" for _ in row], axis=1)
            .format({"total ms": "{:.1f}"})
            .hide(axis="index")
        )
        return f"<pre>{html.escape(self.summary())}</pre>" + styled.to_html()

    def assert_at_most(self, limit: int) -> None:
        if self.count > limit:
            raise AssertionError(
                f"expected at most {limit} queries, got {self.count}:\n{self.summary()}\n"
                + "\n".join(f"  {q.origin}: {q.sql[:200]}" for q in self.queries)
            )


# --- shapes and origins -------------------------------------------------------------------------

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w\"])-?\d+(?:\.\d+)?(?![\w\"])")
_LIST = re.compile(r"\((?:\s*(?:%s|\?)\s*,)+\s*(?:%s|\?)\s*\)")
_SPACE = re.compile(r"\s+")


def shape_of(sql: str) -> str:
    """SQL with literals and parameters as `?` and IN-lists of any length as `(...)`."""
    shape = _STRING.sub("?", sql)
    shape = _NUMBER.sub("?", shape)
    shape = shape.replace("%s", "?")
    shape = _LIST.sub("(...)", shape)
    return _SPACE.sub(" ", shape).strip()


def _internal_roots() -> tuple[str, ...]:
    import django

    roots = {str(Path(django.__file__).parent), str(Path(__file__).resolve())}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    return tuple(sorted(roots))


_INTERNAL = None


def origin_of_call() -> tuple[str, str]:
    """("file:line in function", source line) of the first frame that is your code."""
    global _INTERNAL
    if _INTERNAL is None:
        _INTERNAL = _internal_roots()
    for frame in reversed(traceback.extract_stack()):
        filename = frame.filename
        if filename.startswith(_INTERNAL) or filename.startswith("<frozen"):
            continue
        name = Path(filename).name if not filename.startswith("<") else filename
        if "ipykernel" in filename or filename.startswith("/tmp/ipykernel"):
            name = "cell"
        return f"{name}:{frame.lineno} in {frame.name}", (frame.line or "").strip()
    return "unknown", ""


# --- recording ----------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, log: QueryLog) -> None:
        self.log = log

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            origin, code = origin_of_call()
            self.log.queries.append(
                Query(sql, tuple(params or ()) if not many else (), seconds, shape_of(sql), origin, code)
            )


@contextmanager
def record_queries(alias: str = "default") -> Iterator[QueryLog]:
    """Record every query the block runs on database `alias`."""
    from workshop.django_setup import require_setup

    require_setup()  # before workshop.setup(): say which cell to run, not ImproperlyConfigured
    from django.db import connections

    if alias not in connections:
        raise WorkshopError(f"No database alias {alias!r}", "use 'default'")
    log = QueryLog(alias)
    started = time.perf_counter()
    with connections[alias].execute_wrapper(_Recorder(log)):
        try:
            yield log
        finally:
            log.seconds = time.perf_counter() - started


@contextmanager
def assert_max_queries(limit: int, alias: str = "default") -> Iterator[QueryLog]:
    """Fail (AssertionError with the queries and N+1 suspects) if the block runs more than `limit`."""
    with record_queries(alias) as log:
        yield log
    log.assert_at_most(limit)


# --- the cell magic -----------------------------------------------------------------------------


def _queries_magic(line: str, cell: str) -> QueryLog:
    """%%queries [max]: run the cell, then show its queries; with a number, fail above it."""
    from IPython import get_ipython

    limit = line.strip()
    if limit and not limit.isdigit():
        raise WorkshopError(f"%%queries takes an optional whole number, not {limit!r}", "write e.g. %%queries 3")
    shell = get_ipython()
    with record_queries() as log:
        result = shell.run_cell(cell)
    if result.error_in_exec is None and limit:
        log.assert_at_most(int(limit))
    return log


def register_magic() -> None:
    """Make `%%queries` available in this IPython kernel (safe to call again)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise WorkshopError("%%queries needs IPython", "use `with record_queries() as log:` outside notebooks")
    shell.register_magic_function(_queries_magic, magic_kind="cell", magic_name="queries")


def load_ipython_extension(shell) -> None:  # %load_ext workshop.queries.inspector
    shell.register_magic_function(_queries_magic, magic_kind="cell", magic_name="queries")
