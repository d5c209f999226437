"""Time windows: a range cut into days, weeks (ISO, Monday first) or months, or every N predictions.

Window starts are computed in DuckDB with date_trunc on UTC timestamps, so a window in
Python and a window in SQL are the same window. Windows are clipped to the selection: the
first and last windows may be partial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core.errors import VigilError
from vigil.core.store.sql import quote_ident

CALENDAR_GRANULARITIES = ("day", "week", "month")
Granularity = str | int  # "day" | "week" | "month", or N: every N predictions


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; `label` is what charts and tables show."""

    start: dt.datetime
    end: dt.datetime

    @property
    def label(self) -> str:
        """'2026-10-25' for a day, '2026-10-26 – 2026-11-01' (inclusive) for whole days."""
        if self.start.time() == dt.time() and self.end.time() == dt.time():
            last = self.end - dt.timedelta(days=1)
            if last == self.start:
                return f"{self.start:%Y-%m-%d}"
            return f"{self.start:%Y-%m-%d} – {last:%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"


def parse_granularity(text: str | int) -> Granularity:
    """'day' | 'week' | 'month' | a positive integer N (every N predictions)."""
    if isinstance(text, int):
        value: Granularity = text
    elif str(text).strip().lower() in CALENDAR_GRANULARITIES:
        return str(text).strip().lower()
    else:
        try:
            value = int(str(text).strip())
        except ValueError as err:
            raise VigilError(
                f"Unknown granularity '{text}': use day, week, month or a number of predictions "
                "per window (e.g. 1000)."
            ) from err
    if value <= 0:
        raise VigilError(f"A window needs at least one prediction; got {value}.")
    return value


def calendar_start(moment: dt.datetime, granularity: str) -> dt.datetime:
    """Python twin of date_trunc for day / week (ISO, Monday) / month."""
    day = dt.datetime.combine(moment.date(), dt.time())
    if granularity == "day":
        return day
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def window_start_sql(granularity: str, column: str = "served_at") -> str:
    """SQL mapping a timestamp column to the start of its calendar window."""
    if granularity not in CALENDAR_GRANULARITIES:
        raise VigilError(
            f"Unknown granularity '{granularity}': use one of {', '.join(CALENDAR_GRANULARITIES)}."
        )
    return f"CAST(date_trunc('{granularity}', {column}) AS TIMESTAMP)"


def calendar_windows(
    con: duckdb.DuckDBPyConnection, granularity: str, start: dt.datetime, end: dt.datetime
) -> list[Window]:
    """Every calendar window overlapping [start, end), clipped to it, computed in DuckDB."""
    window_start_sql(granularity)  # validates
    rows = con.execute(
        f"""
        SELECT CAST(w AS TIMESTAMP), CAST(w + INTERVAL 1 {granularity} AS TIMESTAMP)
        FROM range(CAST(date_trunc('{granularity}', ?::TIMESTAMP) AS TIMESTAMP),
                   ?::TIMESTAMP, INTERVAL 1 {granularity}) AS t(w)
        ORDER BY w
        """,
        [start, end],
    ).fetchall()
    return [Window(max(s, start), min(e, end)) for s, e in rows]


def count_windows(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list, every: int
) -> list[Window]:
    """Windows of `every` consecutive predictions (by served_at) among the rows `where` selects.

    A window starts at its first row's served_at and ends where the next one starts; the last
    one ends just after the last row. Rows sharing a timestamp stay in one window.
    """
    rows = con.execute(
        f"""
        WITH numbered AS (
            SELECT served_at, row_number() OVER (ORDER BY served_at) - 1 AS k
            FROM {table} WHERE {where})
        SELECT min(served_at) AS first_at, max(served_at) AS last_at
        FROM numbered GROUP BY k // {int(every)} ORDER BY first_at
        """,
        params,
    ).fetchall()
    starts = sorted({r[0] for r in rows})
    if not starts:
        return []
    last = max(r[1] for r in rows) + dt.timedelta(microseconds=1)
    ends = [*starts[1:], last]
    return [Window(s, e) for s, e in zip(starts, ends, strict=True)]


def windows_sql(windows: list[Window], column: str = "served_at") -> str:
    """SQL mapping a timestamp to the start of its window among arbitrary `windows`."""
    if not windows:
        return "NULL::TIMESTAMP"
    col = quote_ident(column) if column.isidentifier() else column
    cases = " ".join(
        f"WHEN {col} >= TIMESTAMP '{w.start:%Y-%m-%d %H:%M:%S.%f}' AND {col} < "
        f"TIMESTAMP '{w.end:%Y-%m-%d %H:%M:%S.%f}' THEN TIMESTAMP '{w.start:%Y-%m-%d %H:%M:%S.%f}'"
        for w in windows
    )
    return f"CASE {cases} END"
