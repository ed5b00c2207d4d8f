"""Does the queryset give the same answer as pandas over the raw rows?"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from workshop.queries import frames, reference
from workshop.queries.params import Params
from workshop.queries.questions import QUESTIONS, ask

MONEY_TOLERANCE = 0.005  # half a cent: averages and medians are floats on one side, exact numerics on the other


@dataclass
class Verdict:
    question: str
    params: Params
    agree: bool
    rows: int
    reason: str = ""
    database: pd.DataFrame = field(default=None, repr=False)
    pandas: pd.DataFrame = field(default=None, repr=False)

    def __str__(self) -> str:
        mark = "agrees with" if self.agree else "DIFFERS from"
        return f"{self.question}: {self.rows} rows, {mark} pandas ({self.params.describe()}){': ' + self.reason if self.reason else ''}"

    def _repr_html_(self) -> str:
        color = "#2e7d32" if self.agree else "#c62828"
        return f'<span style="color:{color}">{"✔" if self.agree else "✘"}</span> {str(self)}'


def to_frame(rows, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows from a queryset (dicts) as a DataFrame with plain floats and naive UTC times."""
    frame = pd.DataFrame(list(rows), columns=columns)
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, Decimal):
            frame[column] = frame[column].astype(float)
        elif isinstance(first, (dt.datetime, pd.Timestamp)):
            frame[column] = _naive_utc(pd.to_datetime(frame[column], utc=first.tzinfo is not None))
    return frame


def _naive_utc(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series


def same_answer(database: pd.DataFrame, expected: pd.DataFrame, order: tuple[str, ...] = ()) -> tuple[bool, str]:
    """The same rows on the expected columns, and, when the question orders its rows by the
    columns `order`, in the same order: the database's sequence of those columns must be
    pandas' sequence. Rows equal on them (ties) may come in any order."""
    if len(database) != len(expected):
        return False, f"{len(database)} rows from the database, {len(expected)} from pandas"
    if expected.empty:
        return True, ""
    missing = [c for c in expected.columns if c not in database.columns]
    if missing:
        return False, f"the queryset has no column {', '.join(missing)}"
    columns = list(expected.columns)
    left, right = (_sorted(_comparable(f[columns])) for f in (database, expected))
    differs = _difference(left, right)
    if differs:
        return False, differs
    keys = [c for c in order if c in columns]
    if keys:
        left, right = (_comparable(f[keys]).reset_index(drop=True) for f in (database, expected))
        differs = _difference(left, right)
        if differs:
            return False, f"the same rows in another order (ordered by {', '.join(keys)}): {differs}"
    return True, ""


def ordering_of(queryset) -> tuple[str, ...]:
    """The columns a queryset orders its rows by (order_by's names without their direction)."""
    return tuple(str(name).lstrip("-") for name in queryset.query.order_by)


def _difference(left: pd.DataFrame, right: pd.DataFrame) -> str:
    try:
        pd.testing.assert_frame_equal(
            left, right, check_dtype=False, check_exact=False, atol=MONEY_TOLERANCE, rtol=1e-9
        )
    except AssertionError as error:
        return " ".join(str(error).split())[:300]
    return ""


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Types both sides share: float numbers, naive UTC times, NaN for "nothing"."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].isna().all():  # None on one side, NaT on the other: both "nothing"
            frame[column] = float("nan")
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = _naive_utc(frame[column]).astype("datetime64[ns]")
        elif frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, (int, float, Decimal))).all():
            frame[column] = frame[column].astype(float)
    return frame


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order, to compare as sets (floats rounded to the cent for sorting)."""
    rounded = frame.assign(**{c: frame[c].round(2) for c in frame.columns if pd.api.types.is_float_dtype(frame[c])})
    order = rounded.sort_values(list(frame.columns), na_position="first").index
    return frame.loc[order].reset_index(drop=True)


def verify(name: str, params: Params | None = None, raw: frames.Raw | None = None, **values) -> Verdict:
    """Run question `name` in the database and in pandas; say whether they agree."""
    params = params or Params.parse(**values)
    queryset = ask(name, params)
    expected = getattr(reference, name)(raw or frames.load(), params).reset_index(drop=True)
    database = to_frame(queryset)
    agree, reason = same_answer(
        database, to_frame(expected.to_dict("records"), list(expected.columns)), ordering_of(queryset)
    )
    return Verdict(name, params, agree, len(database), reason, database, expected)


def verify_all(params: Params | None = None, **values) -> pd.DataFrame:
    """Every question, one row each: rows and whether the database agrees with pandas."""
    params = params or Params.parse(**values)
    raw = frames.load()
    verdicts = [verify(name, params, raw) for name in QUESTIONS]
    return pd.DataFrame(
        [
            {
                "question": v.question,
                "rows": v.rows,
                "agrees with pandas": v.agree,
                "features": ", ".join(QUESTIONS[v.question].features),
                "difference": v.reason,
            }
            for v in verdicts
        ]
    )
