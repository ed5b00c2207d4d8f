"""How an exercise answer's rows differ from the reference's, said in one sentence.

Rows are matched on key columns (a customer's id, a brand...), so the sentence can say which
kind of mistake it is (rows missing, rows too many, a key repeated, a value off) and show the
learner's own value, never the expected one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOLERANCE = 0.005  # half a cent: pandas sums floats, PostgreSQL sums exact numerics


def difference(got: pd.DataFrame, expected: pd.DataFrame, keys: tuple[str, ...]) -> str | None:
    """None when `got` has the expected rows on the expected columns (in any order), else a sentence."""
    columns = list(expected.columns)
    missing = [c for c in columns if c not in got.columns]
    if missing:
        named = ", ".join(missing)
        return (
            f"the rows have no column {named}: name it in values() or annotate() (columns wanted: {', '.join(columns)})"
        )
    got, expected = _keyed(got[columns], keys), _keyed(expected, keys)
    repeated = got.duplicated(list(keys))
    if repeated.any():
        return (
            f"{int(repeated.sum())} rows repeat a {_names(keys)} already in the answer: one row per "
            f"{_names(keys)} (group with values() before annotate(), or remove the join that multiplies them)"
        )
    merged = got.merge(expected, on=list(keys), how="outer", suffixes=("", "__expected"), indicator=True)
    extra, absent = merged[merged._merge == "left_only"], merged[merged._merge == "right_only"]
    if len(absent) or len(extra):
        parts = []
        if len(absent):
            parts.append(f"{len(absent)} rows are missing (for example {_example(absent, keys)})")
        if len(extra):
            parts.append(f"{len(extra)} rows should not be there (for example {_example(extra, keys)})")
        return f"{' and '.join(parts)}, out of {len(expected)} expected"
    for column in (c for c in columns if c not in keys):
        off = ~_same(merged[column], merged[f"{column}__expected"])
        if off.any():
            row = merged[off].iloc[0]
            yours = row[column]
            if _is_null(yours):
                what = f"yours is empty (NULL) for {_example(merged[off], keys)}"
            elif _is_null(row[f"{column}__expected"]):
                what = f"yours has {yours!r} for {_example(merged[off], keys)}, where there is nothing to count"
            elif np.isnan(_number(yours)):
                what = f"for {_example(merged[off], keys)} yours is {yours!r}, not a number"
            else:
                side = "higher" if _number(yours) > _number(row[f"{column}__expected"]) else "lower"
                what = f"for {_example(merged[off], keys)} yours is {_show(yours)}, {side} than the raw rows give"
            return f"column {column} is off in {int(off.sum())} of {len(expected)} rows: {what}"
    return None


def _keyed(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Keys compared as text (1, 1.0 and "1" are the same key); values as floats where numeric."""
    frame = frame.copy()
    for key in keys:
        frame[key] = frame[key].map(_key_text)
    return frame.reset_index(drop=True)


def _key_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    both_null = left.map(_is_null) & right.map(_is_null)
    a, b = left.map(_number), right.map(_number)
    close = pd.Series(np.isclose(a.astype(float), b.astype(float), rtol=1e-9, atol=TOLERANCE), index=left.index)
    return both_null | close


def _is_null(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _show(value) -> str:
    number = _number(value)
    return f"{number:,.2f}".rstrip("0").rstrip(".") if not np.isnan(number) else repr(value)


def _names(keys: tuple[str, ...]) -> str:
    return " and ".join(keys)


def _example(rows: pd.DataFrame, keys: tuple[str, ...]) -> str:
    first = rows.iloc[0]
    return ", ".join(f"{key}={first[key]}" for key in keys)
