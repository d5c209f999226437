"""Service health per window: throughput, error rate and latency percentiles, in DuckDB.

Definitions (the page and the rules use the same ones):
- predictions: every logged row in the window, whatever its status;
- error rate: rows whose status is not 'ok', over predictions (Wilson 95 % interval);
- throughput per hour: predictions over the window's hours (the window clipped to the
  selection), and the busiest clock hour;
- latency p50/p95/p99: DuckDB quantile_cont (linear interpolation, = numpy.percentile's
  default method) over every row with a latency, errors included: a timeout is latency the
  caller waited through.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vigil.core.monitor.selection import Selection, log_table
from vigil.core.monitor.windows import Granularity, Windowing
from vigil.core.stats.intervals import Estimate, wilson
from vigil.core.store.connection import Store

QUANTILES = (0.5, 0.95, 0.99)
AGGREGATES = f"""
    count(*) AS n,
    count(*) FILTER (WHERE l.status IS DISTINCT FROM 'ok') AS errors,
    quantile_cont(l.latency_ms, [{", ".join(str(q) for q in QUANTILES)}]) AS q,
    avg(l.latency_ms) AS mean_latency
"""


@dataclass(frozen=True)
class ServiceWindow:
    start: dt.datetime
    end: dt.datetime
    predictions: int
    errors: int
    error_rate: Estimate
    per_hour: float | None
    peak_per_hour: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    latency_mean: float | None


@dataclass(frozen=True)
class ServiceReport:
    selection: Selection
    granularity: str
    windows: tuple[ServiceWindow, ...]
    overall: ServiceWindow


def _service_window(
    start: dt.datetime, end: dt.datetime, row: tuple[Any, ...] | None, peak: int
) -> ServiceWindow:
    n, errors, q, mean = row if row is not None else (0, 0, None, None)
    q = q or [None] * len(QUANTILES)
    hours = (end - start).total_seconds() / 3600.0
    return ServiceWindow(
        start=start,
        end=end,
        predictions=int(n or 0),
        errors=int(errors or 0),
        error_rate=wilson(int(errors or 0), int(n or 0)),
        per_hour=(n or 0) / hours if hours > 0 else None,
        peak_per_hour=peak,
        latency_p50=q[0],
        latency_p95=q[1],
        latency_p99=q[2],
        latency_mean=mean,
    )


def service_report(
    store: Store, selection: Selection, granularity: Granularity = "day"
) -> ServiceReport:
    """Throughput, errors and latency per window (empty windows included) and overall."""
    windowing = Windowing.of(granularity)
    where, params = selection.where("l")
    with store.connect() as con:
        table_sql = log_table(con, selection.model_name)
        windows = windowing.windows(con, selection)
        w_sql = windowing.key_sql("l.served_at", windows)
        per_window = {
            r[0]: r[1:]
            for r in con.execute(
                f"SELECT {w_sql} AS w, {AGGREGATES} FROM {table_sql} AS l WHERE {where} GROUP BY w",
                params,
            ).fetchall()
        }
        overall_row = con.execute(
            f"SELECT {AGGREGATES} FROM {table_sql} AS l WHERE {where}", params
        ).fetchone()
        peaks = {
            r[0]: int(r[1])
            for r in con.execute(
                f"""
                SELECT w, max(n) FROM (
                    SELECT {w_sql} AS w, date_trunc('hour', l.served_at) AS h, count(*) AS n
                    FROM {table_sql} AS l WHERE {where} GROUP BY ALL)
                GROUP BY w
                """,
                params,
            ).fetchall()
        }
    result = []
    for window in windows:
        key = windowing.key(window)
        result.append(
            _service_window(window.start, window.end, per_window.get(key), peaks.get(key, 0))
        )
    overall = _service_window(
        selection.start, selection.end, overall_row, max(peaks.values(), default=0)
    )
    return ServiceReport(selection, str(granularity), tuple(result), overall)
