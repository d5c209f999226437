"""Service health: throughput, error rate and latency percentiles per window."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, percent, selection_caption
from vigil.core.monitor import service
from vigil.core.monitor.service import ServiceReport, ServiceWindow
from vigil.core.monitor.windows import unit_words
from vigil.pages.service_gateway import render_gateway_workers

PAGE = PageSpec(title="Service", icon=":material/monitor_heart:", url_path="service")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def _throughput_chart(report: ServiceReport) -> None:
    windows = report.windows
    x = [w.start for w in windows]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(
        x=x,
        y=[w.per_hour for w in windows],
        name="predictions per hour (mean)",
        customdata=[[w.predictions, w.peak_per_hour] for w in windows],
        hovertemplate="%{y:,.1f} per hour on average<br>%{customdata[0]:,} predictions in "
        "the window<br>busiest hour %{customdata[1]:,}<extra></extra>",
        marker_color="#9ecae1",
        secondary_y=False,
    )
    figure.add_scatter(
        x=x,
        y=[w.error_rate.value for w in windows],
        name="error rate",
        mode="lines+markers",
        line={"color": "#d62728"},
        customdata=[[w.errors, w.error_rate.low, w.error_rate.high] for w in windows],
        hovertemplate="%{y:.2%} errors (%{customdata[0]:,} rows)<br>95 %% interval "
        "%{customdata[1]:.2%} – %{customdata[2]:.2%}<extra></extra>",
        secondary_y=True,
    )
    figure.update_yaxes(title_text="predictions per hour", secondary_y=False)
    figure.update_yaxes(
        title_text="error rate", tickformat=".1%", secondary_y=True, rangemode="tozero"
    )
    figure.update_xaxes(title_text=f"{unit_words(report.granularity)} starting (UTC)")
    figure.update_layout(
        **PLOT_LAYOUT,
        title=f"Throughput and error rate per {unit_words(report.granularity)} (errors: status other than 'ok')",
        height=380,
    )
    st.plotly_chart(figure, width="stretch", key="service_throughput_chart")


def _latency_chart(report: ServiceReport) -> None:
    windows = report.windows
    x = [w.start for w in windows]
    figure = go.Figure()
    for name, colour, values in (
        ("p50", "#2ca02c", [w.latency_p50 for w in windows]),
        ("p95", "#ff7f0e", [w.latency_p95 for w in windows]),
        ("p99", "#d62728", [w.latency_p99 for w in windows]),
    ):
        figure.add_scatter(
            x=x,
            y=values,
            name=f"latency {name}",
            mode="lines+markers",
            line={"color": colour},
            hovertemplate=f"{name} " + "%{y:,.1f} ms<extra></extra>",
        )
    figure.update_layout(
        **PLOT_LAYOUT,
        title=f"Latency percentiles per {unit_words(report.granularity)} (ms, every row incl. errors)",
        yaxis={"title": "latency (ms)", "rangemode": "tozero"},
        xaxis={"title": f"{unit_words(report.granularity)} starting (UTC)"},
        height=380,
    )
    st.plotly_chart(figure, width="stretch", key="service_latency_chart")


def _rate(w: ServiceWindow) -> str:
    """'0.42 % (0.31–0.56 %)': the rate and its Wilson interval in one readable cell."""
    rate = w.error_rate
    if rate.value is None:
        return "–"
    if rate.low is None or rate.high is None:
        return f"{rate.value:.2%}"
    return f"{rate.value:.2%} ({rate.low * 100:.2f}–{rate.high * 100:.2f} %)"


def _row(label: str, w: ServiceWindow) -> dict[str, object]:
    return {
        "window": label,
        "predictions": w.predictions,
        "errors": w.errors,
        "error rate (95 % interval)": _rate(w),
        "per hour (mean)": w.per_hour,
        "busiest hour": w.peak_per_hour,
        "p50 ms": w.latency_p50,
        "p95 ms": w.latency_p95,
        "p99 ms": w.latency_p99,
        "mean ms": w.latency_mean,
    }


def render(ctx: PageContext) -> None:
    assert ctx.version is not None  # PAGE.needs_model: the navigation guarantees a version
    st.title(f"Service health · {ctx.model_name} {ctx.version.model_version}")
    st.caption(selection_caption(ctx))
    if ctx.selection is None:
        st.info("This version has no logged traffic yet.")
        return
    report: ServiceReport = cached(
        service.service_report, ctx.store, ctx.selection, ctx.granularity
    )
    overall = report.overall
    cols = st.columns(5)
    cols[0].metric("Predictions", f"{overall.predictions:,}")
    cols[1].metric(
        "Error rate",
        percent(overall.error_rate.value, 2),
        help=f"{overall.errors:,} rows with a status other than 'ok'",
    )
    cols[2].metric("Latency p50", _ms(overall.latency_p50))
    cols[3].metric("Latency p95", _ms(overall.latency_p95))
    cols[4].metric("Latency p99", _ms(overall.latency_p99))
    if overall.predictions == 0:
        st.info("No predictions in this range.")
        return
    _throughput_chart(report)
    _latency_chart(report)
    st.caption(
        "Percentiles interpolate linearly between rows (numpy's default method). "
        "Throughput is the window's predictions over its hours; the busiest hour is the "
        "largest count in one clock hour."
    )
    st.dataframe(
        pd.DataFrame(
            [
                *(_row(f"{w.start:%Y-%m-%d}", w) for w in report.windows),
                _row("whole range", overall),
            ]
        ),
        hide_index=True,
        width="stretch",
        key="service_table",
        column_config={
            "window": st.column_config.Column("window starting", width="small"),
            **{
                c: st.column_config.NumberColumn(format="%.1f", width="small")
                for c in ("per hour (mean)", "p50 ms", "p95 ms", "p99 ms", "mean ms")
            },
        },
    )
    render_gateway_workers(ctx)
