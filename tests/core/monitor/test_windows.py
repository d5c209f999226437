"""Windows: calendar windows computed in DuckDB, clipped to the range; N-prediction windows."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import pytest

from vigil.core.errors import VigilError
from vigil.core.monitor.windows import (
    Window,
    calendar_windows,
    count_windows,
    parse_granularity,
    window_start_sql,
    windows_sql,
)

D = dt.datetime


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


def test_days_cover_the_range(con) -> None:
    windows = calendar_windows(con, "day", D(2026, 3, 1), D(2026, 3, 4))
    assert windows == [
        Window(D(2026, 3, 1), D(2026, 3, 2)),
        Window(D(2026, 3, 2), D(2026, 3, 3)),
        Window(D(2026, 3, 3), D(2026, 3, 4)),
    ]
    assert windows[0].label == "2026-03-01"


def test_weeks_are_iso_and_clipped(con) -> None:
    # 2026-03-04 is a Wednesday; ISO weeks start on Monday
    windows = calendar_windows(con, "week", D(2026, 3, 4), D(2026, 3, 20))
    assert [(w.start, w.end) for w in windows] == [
        (D(2026, 3, 4), D(2026, 3, 9)),
        (D(2026, 3, 9), D(2026, 3, 16)),
        (D(2026, 3, 16), D(2026, 3, 20)),
    ]
    assert windows[1].label == "2026-03-09 – 2026-03-15"  # whole days, last one inclusive


def test_months_and_partial_days(con) -> None:
    windows = calendar_windows(con, "month", D(2026, 1, 31, 12), D(2026, 3, 2))
    assert [(w.start, w.end) for w in windows] == [
        (D(2026, 1, 31, 12), D(2026, 2, 1)),
        (D(2026, 2, 1), D(2026, 3, 1)),
        (D(2026, 3, 1), D(2026, 3, 2)),
    ]


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_sql_window_start_agrees_with_the_boundaries(con, granularity) -> None:
    con.execute(
        "CREATE TABLE t AS SELECT TIMESTAMP '2026-01-01' + i * INTERVAL 7 HOUR AS served_at "
        "FROM range(400) r(i)"
    )
    lo, hi = D(2026, 1, 1), D(2026, 5, 1)
    windows = calendar_windows(con, granularity, lo, hi)
    rows = con.execute(f"SELECT served_at, {window_start_sql(granularity)} FROM t").fetchall()
    for served_at, start in rows:
        (window,) = [w for w in windows if w.start <= served_at < w.end]
        assert window.start == max(start, lo)  # the first window is clipped to the range
    # the general CASE mapping gives the same (clipped) answer
    mapped = con.execute(f"SELECT served_at, {windows_sql(windows)} FROM t").fetchall()
    assert mapped == [(s, max(w, lo)) for s, w in rows]


def test_windows_of_n_predictions(con) -> None:
    con.execute(
        "CREATE TABLE log AS SELECT TIMESTAMP '2026-01-01' + i * INTERVAL 1 MINUTE AS served_at "
        "FROM range(25) r(i)"
    )
    windows = count_windows(con, "log", "true", [], 10)
    assert [w.start for w in windows] == [D(2026, 1, 1), D(2026, 1, 1, 0, 10), D(2026, 1, 1, 0, 20)]
    counts = con.execute(
        f"SELECT {windows_sql(windows)} AS w, count(*) FROM log GROUP BY w ORDER BY w"
    ).fetchall()
    assert [n for _, n in counts] == [10, 10, 5]
    assert count_windows(con, "log", "false", [], 10) == []


def test_granularity_parsing() -> None:
    assert parse_granularity("Week") == "week"
    assert parse_granularity("5000") == 5000
    with pytest.raises(VigilError) as err:
        parse_granularity("hour")
    assert str(err.value) == (
        "Unknown granularity 'hour': use day, week, month or a number of predictions per "
        "window (e.g. 1000)."
    )
    with pytest.raises(VigilError) as err:
        parse_granularity("0")
    assert str(err.value) == "A window needs at least one prediction; got 0."
    with pytest.raises(VigilError):
        window_start_sql("hour")


def rows_start(rows: list[tuple[D, D]]) -> D:
    return min(served_at for served_at, _ in rows)


@pytest.mark.parametrize("granularity", ["day", "week", "month", 5000, None])
def test_windowing_key_sql_and_key_agree_on_every_row(demo_store, granularity) -> None:
    """Every logged row falls in exactly one window, and SQL keys it as Python keys that window."""
    from vigil.core.monitor.selection import Selection, log_table
    from vigil.core.monitor.windows import Windowing

    selection = Selection("credit-risk", "1.0", D(2026, 9, 3, 12), D(2026, 10, 20))
    windowing = Windowing.of(granularity)
    where, params = selection.where()
    with demo_store.connect() as con:
        windows = windowing.windows(con, selection)
        rows = con.execute(
            f"SELECT served_at, {windowing.key_sql('served_at', windows)} "
            f"FROM {log_table(con, selection.model_name)} WHERE {where}",
            params,
        ).fetchall()
    # calendar windows are clipped to the range; windows of N predictions start at a row
    assert windows[0].start == (selection.start if granularity != 5000 else rows_start(rows))
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert len(rows) > 10_000
    for served_at, key in rows:
        (window,) = [w for w in windows if w.start <= served_at < w.end]
        assert key == windowing.key(window)
    if granularity == 5000:
        assert len({key for _, key in rows}) == len(windows) == -(-len(rows) // 5000)


def test_windowing_parses_and_labels() -> None:
    from vigil.core.monitor.windows import Calendar, Windowing

    assert Windowing.of("Week") == Windowing(calendar=Calendar.WEEK)
    assert Windowing.of("1000") == Windowing(every=1000)
    assert Windowing.of(None).whole
    assert [Windowing.of(g).label for g in ("day", 1000, None)] == [
        "one per day",
        "one per 1,000 predictions",
        "the whole range",
    ]
    assert Windowing.of(1000).granularity == 1000 and Windowing.of("month").granularity == "month"
    with pytest.raises(VigilError):
        Windowing(calendar=Calendar.DAY, every=10)
    with pytest.raises(VigilError):
        Windowing(every=0)
