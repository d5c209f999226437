"""Time windows, defined once for every area: calendar days, weeks (ISO, Monday first) or
months, every N predictions, or the whole range as one window.

`Windowing` is the one object drift, performance, fairness, service health and the alerts
use to cut a selection into windows. It lists the windows (`windows`), emits the SQL that
maps a row's timestamp to its window key (`key_sql`), and gives the same key for a window in
Python (`key`), so a window in Python and a window in SQL are the same window. Calendar
starts come from DuckDB's date_trunc on UTC timestamps. Windows are clipped to the
selection: the first and last ones may be partial, while their keys stay the unclipped
calendar starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.errors import VigilError
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.store.sql import quote_ident


class Calendar(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO: Monday first
    MONTH = "month"


CALENDAR_GRANULARITIES: tuple[str, ...] = tuple(c.value for c in Calendar)
Granularity = str | int  # as a user gives it: "day" | "week" | "month", or N predictions
WHOLE_RANGE_KEY = dt.datetime(1970, 1, 1)  # the key of the one window of a whole range


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


def unit_words(granularity: Granularity | None) -> str:
    """What one window is called on screen: 'week', or 'window of 2,000 predictions'."""
    if granularity is None:
        return "whole range"
    if isinstance(granularity, int):
        return f"window of {granularity:,} predictions"
    return str(granularity)


def parse_granularity(text: str | int) -> Granularity:
    """'day' | 'week' | 'month' | a positive integer N (every N predictions)."""
    if isinstance(text, int):
        value = text
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


@dataclass(frozen=True)
class Windowing:
    """How a selection is cut: `calendar` windows, or windows of `every` N predictions, or
    (neither) the whole range as one window."""

    calendar: Calendar | None = None
    every: int | None = None

    def __post_init__(self) -> None:
        if self.calendar is not None and self.every is not None:
            raise VigilError("A windowing is either calendar windows or N predictions, not both.")
        if self.every is not None and self.every <= 0:
            raise VigilError(f"A window needs at least one prediction; got {self.every}.")

    @classmethod
    def of(cls, granularity: Granularity | None) -> Windowing:
        """From what a user or a page gives: 'day' | 'week' | 'month' | N | None (whole range)."""
        if granularity is None:
            return cls()
        parsed = parse_granularity(granularity)
        if isinstance(parsed, int):
            return cls(every=parsed)
        return cls(calendar=Calendar(parsed))

    @property
    def whole(self) -> bool:
        return self.calendar is None and self.every is None

    @property
    def granularity(self) -> Granularity | None:
        """Back to the user's terms: 'day', N, or None for the whole range."""
        return self.every if self.calendar is None else self.calendar.value

    @property
    def label(self) -> str:
        if self.calendar is not None:
            return f"one per {self.calendar.value}"
        if self.every is not None:
            return f"one per {self.every:,} predictions"
        return "the whole range"

    def windows(self, con: duckdb.DuckDBPyConnection, selection: Selection) -> list[Window]:
        """The selection's windows in time order (calendar windows include empty ones)."""
        if self.calendar is not None:
            return calendar_windows(con, self.calendar, selection.start, selection.end)
        if self.every is not None:
            where, params = selection.where()
            return count_windows(
                con, log_table(con, selection.model_name), where, params, self.every
            )
        return [Window(selection.start, selection.end)]

    def key_sql(self, column: str = "served_at", windows: Sequence[Window] = ()) -> str:
        """SQL mapping a timestamp (or date) column to its window key; windows of N
        predictions need the `windows` listed by `windows()`."""
        if self.calendar is not None:
            return window_start_sql(self.calendar, column)
        if self.every is not None:
            return windows_sql(windows, column)
        return f"TIMESTAMP '{WHOLE_RANGE_KEY:%Y-%m-%d %H:%M:%S}'"

    def key(self, window: Window) -> dt.datetime:
        """The key `key_sql` gives the rows of `window`."""
        if self.calendar is not None:
            return calendar_start(window.start, self.calendar)
        if self.every is not None:
            return window.start
        return WHOLE_RANGE_KEY


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
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any], every: int
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
    starts: list[dt.datetime] = sorted({r[0] for r in rows})
    if not starts:
        return []
    last = max(r[1] for r in rows) + dt.timedelta(microseconds=1)
    ends = [*starts[1:], last]
    return [Window(s, e) for s, e in zip(starts, ends, strict=True)]


def windows_sql(windows: Sequence[Window], column: str = "served_at") -> str:
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
