"""Does the queryset give the same answer as pandas over the raw rows?"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from workshop.queries import frames, reference
from workshop.queries.params import Params
from workshop.queries.questions import QUESTIONS, ask

MONEY_TOLERANCE = 0.005  # half a cent: pandas sums floats, PostgreSQL sums exact numerics


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


def same_answer(database: pd.DataFrame, expected: pd.DataFrame) -> tuple[bool, str]:
    """Compare as sets of rows on the expected columns (ties may come in any order)."""
    if len(database) != len(expected):
        return False, f"{len(database)} rows from the database, {len(expected)} from pandas"
    if expected.empty:
        return True, ""
    missing = [c for c in expected.columns if c not in database.columns]
    if missing:
        return False, f"the queryset has no column {', '.join(missing)}"
    left, right = (_canonical(f[list(expected.columns)]) for f in (database, expected))
    try:
        pd.testing.assert_frame_equal(
            left, right, check_dtype=False, check_exact=False, atol=MONEY_TOLERANCE, rtol=1e-9
        )
    except AssertionError as error:
        return False, " ".join(str(error).split())[:300]
    return True, ""


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].isna().all():  # None on one side, NaT on the other: both "nothing"
            frame[column] = float("nan")
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = _naive_utc(frame[column]).astype("datetime64[ns]")
        elif frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, (int, float, Decimal))).all():
            frame[column] = frame[column].astype(float)
    keys = [c for c in frame.columns]
    rounded = frame.assign(**{c: frame[c].round(2) for c in frame.columns if pd.api.types.is_float_dtype(frame[c])})
    order = rounded.sort_values(keys, na_position="first").index
    return frame.loc[order].reset_index(drop=True)


def verify(name: str, params: Params | None = None, raw: frames.Raw | None = None, **values) -> Verdict:
    """Run question `name` in the database and in pandas; say whether they agree."""
    params = params or Params.parse(**values)
    queryset = ask(name, params)
    expected = getattr(reference, name)(raw or frames.load(), params).reset_index(drop=True)
    database = to_frame(queryset)
    agree, reason = same_answer(database, to_frame(expected.to_dict("records"), list(expected.columns)))
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
