"""Service page, "Gateway workers": each worker's minutes (throughput, errors, latency
percentiles, CPU, memory) beside the prediction-level service health above it.

A worker answers every model the gateway serves, so these minutes follow the sidebar's time
range only, not its model, version or segment. They are drawn as stored: each worker computes
its minute's percentiles from its own requests, and percentiles of different workers or
minutes cannot be merged, so no chart pretends to combine them.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.ui import PLOT_LAYOUT, percent
from vigil.core.errors import StoreBusyError
from vigil.core.serve import metrics
from vigil.core.serve.metrics import WorkerMinute
from vigil.core.store.connection import Store

TICK_S = 10  # worker rows arrive without a new batch or audit record: re-read this often
PERCENTILES = (("p50", "latency_p50", "solid"), ("p95", "latency_p95", "dash"),
               ("p99", "latency_p99", "dot"))  # fmt: skip
X_TITLE = "minute starting (UTC)"
TABLE_FORMATS = {
    "error rate": st.column_config.NumberColumn(format="percent"),
    **{c: st.column_config.NumberColumn(format="%.1f")
       for c in ("worst minute p99 ms", "max ms", "mean CPU %", "peak RSS MB")},
}  # fmt: skip


def _minutes(store: Store, start: dt.datetime, end: dt.datetime, tick: int) -> list[WorkerMinute]:
    """The range's worker minutes. `tick` only keys the cache: the store's version moves with
    batches and decisions, not with worker rows, so a new row shows within TICK_S."""
    return metrics.infrastructure(store, start, end)


def _by_worker(minutes: list[WorkerMinute]) -> dict[str, list[WorkerMinute]]:
    grouped: dict[str, list[WorkerMinute]] = {}
    for minute in minutes:
        grouped.setdefault(minute.worker, []).append(minute)
    return dict(sorted(grouped.items()))


def _chart(figure: go.Figure, title: str, key: str, **layout: object) -> None:
    figure.update_layout(**{**PLOT_LAYOUT, **layout}, title=title, height=340)
    st.plotly_chart(figure, width="stretch", key=key)


def _requests_chart(workers: dict[str, list[WorkerMinute]]) -> None:
    figure = go.Figure()
    for worker, rows in workers.items():
        figure.add_bar(
            x=[r.minute for r in rows],
            y=[r.requests for r in rows],
            name=worker,
            customdata=[[r.rows_scored, r.errors] for r in rows],
            hovertemplate=f"{worker}: " + "%{y:,} requests, %{customdata[0]:,} instances, "
            "%{customdata[1]:,} errors<extra></extra>",
        )
    _chart(figure, "Requests per minute, stacked by worker", "gateway_requests_chart",
           barmode="stack", xaxis_title=X_TITLE, yaxis_title="requests")  # fmt: skip


def _errors_chart(workers: dict[str, list[WorkerMinute]]) -> None:
    figure = go.Figure()
    for worker, rows in workers.items():
        figure.add_scatter(
            x=[r.minute for r in rows],
            y=[r.error_rate for r in rows],
            name=worker,
            mode="lines+markers",
            customdata=[[r.errors, r.requests] for r in rows],
            hovertemplate=f"{worker}: " + "%{y:.2%} (%{customdata[0]:,} of %{customdata[1]:,})"
            "<extra></extra>",
        )
    worst = max((r.error_rate or 0.0 for rows in workers.values() for r in rows), default=0.0)
    top = max(0.01, worst * 1.2)  # no errors: a flat line at 0 on a 0-1 % axis, not 0-100 %
    _chart(figure, "Error rate per minute (answers with a 5xx status)", "gateway_errors_chart",
           xaxis_title=X_TITLE, yaxis={"title": "error rate", "tickformat": ".1%",
                                       "range": [0, top]})  # fmt: skip


def _latency_chart(workers: dict[str, list[WorkerMinute]]) -> None:
    figure = go.Figure()
    for worker, rows in workers.items():
        for name, field, dash in PERCENTILES:
            figure.add_scatter(
                x=[r.minute for r in rows],
                y=[getattr(r, field) for r in rows],
                name=f"{worker} {name}",
                legendgroup=worker,
                mode="lines+markers",
                line={"dash": dash},
                hovertemplate=f"{worker} {name} " + "%{y:,.1f} ms<extra></extra>",
            )
    _chart(figure, "Latency per minute and worker (ms, request to answer)",
           "gateway_latency_chart", xaxis_title=X_TITLE,
           yaxis={"title": "latency (ms)", "rangemode": "tozero"})  # fmt: skip


def _resources_chart(workers: dict[str, list[WorkerMinute]]) -> None:
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("CPU (% of one core)", "Resident memory (MB)")
    )
    for worker, rows in workers.items():
        x = [r.minute for r in rows]
        figure.add_scatter(x=x, y=[r.cpu_percent for r in rows], name=f"{worker} CPU",
                           mode="lines+markers", row=1, col=1,
                           hovertemplate=f"{worker} " + "%{y:.1f} %<extra></extra>")  # fmt: skip
        figure.add_scatter(x=x, y=[r.rss_mb for r in rows], name=f"{worker} RSS",
                           mode="lines+markers", row=1, col=2,
                           hovertemplate=f"{worker} " + "%{y:,.1f} MB<extra></extra>")  # fmt: skip
    figure.update_yaxes(rangemode="tozero")
    figure.update_xaxes(title_text=X_TITLE)
    # the legend goes above the two subplot titles, not over them
    _chart(figure, "CPU and memory per worker", "gateway_resources_chart",
           margin={**PLOT_LAYOUT["margin"], "t": 90},
           legend={**PLOT_LAYOUT["legend"], "y": 1.12})  # fmt: skip


def _largest(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _table(workers: dict[str, list[WorkerMinute]]) -> pd.DataFrame:
    records = []
    for worker, rows in workers.items():
        requests, errors = sum(r.requests for r in rows), sum(r.errors for r in rows)
        records.append({
            "worker": worker, "minutes": len(rows), "requests": requests, "errors": errors,
            "error rate": errors / requests if requests else None,
            "instances": sum(r.rows_scored for r in rows),
            "busiest minute": max(r.requests for r in rows),
            "worst minute p99 ms": _largest([r.latency_p99 for r in rows]),
            "max ms": _largest([r.latency_max for r in rows]),
            "mean CPU %": _mean([r.cpu_percent for r in rows]),
            "peak RSS MB": _largest([r.rss_mb for r in rows]),
        })  # fmt: skip
    return pd.DataFrame(records)


def render_gateway_workers(ctx: PageContext) -> None:
    """The section: the sidebar's range of every gateway worker's minutes, or why none."""
    st.subheader("Gateway workers")
    if ctx.selection is None:
        return
    start, end = ctx.selection.start, ctx.selection.end
    try:
        minutes = cached(_minutes, ctx.store, start, end, int(time.time() // TICK_S))
    except StoreBusyError:
        st.info("The store is busy; the gateway workers' minutes show once it is free.")
        return
    if not minutes:
        st.info("No gateway traffic in this range.")
        return
    workers = _by_worker(minutes)
    table = _table(workers)
    requests, errors = int(table["requests"].sum()), int(table["errors"].sum())
    cols = st.columns(4)
    cols[0].metric("Workers", f"{len(workers)}")
    cols[1].metric("Gateway requests", f"{requests:,}")
    cols[2].metric("Gateway error rate", percent(errors / requests if requests else None, 2),
                   help=f"{errors:,} answers with a 5xx status")  # fmt: skip
    cols[3].metric("Peak memory", f"{table['peak RSS MB'].max():,.1f} MB")
    _requests_chart(workers)
    _errors_chart(workers)
    _latency_chart(workers)
    _resources_chart(workers)
    st.caption(
        "Every model the gateway serves, cut by the sidebar's range only. Each worker computes "
        "its minute's percentiles from its own requests (linear interpolation, numpy's "
        "default); minutes of different workers cannot be merged into one percentile, so the "
        "table shows each worker's worst minute. Errors are answers with a 5xx status; "
        "refused requests (401, 403, 422, 429) count as requests, not errors."
    )
    st.dataframe(table, hide_index=True, width="stretch", key="gateway_workers_table",
                 column_config=TABLE_FORMATS)  # fmt: skip
