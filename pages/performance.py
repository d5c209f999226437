"""Performance: realised metrics per window with intervals and label coverage, the CBPE
estimate where labels have not arrived, concept drift, calibration and the confusion matrix."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, percent, selection_caption, verdict_banner
from vigil.core.errors import VigilError
from vigil.core.monitor import estimation
from vigil.core.monitor.performance.concept import ConceptDriftReport, concept_drift
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import (
    BINARY,
    CI_METHOD,
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    PerformanceReport,
    WindowPerformance,
)
from vigil.core.monitor.windows import unit_words
from vigil.core.views.monitoring_status import performance_line
from vigil.pages import challenger
from vigil.pages.performance_sections import calibration_section, concept_drift_section

LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0}
PAGE = PageSpec(title="Performance", icon=":material/speed:", url_path="performance")

INTERVAL_TEXT = {
    "wilson": "Wilson 95 % interval",
    "bootstrap": "bootstrap 95 % interval (200 resamples of the window's score table)",
    "normal": "normal-approximation 95 % interval",
    "none": "no interval",
}


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _label(window: WindowPerformance) -> str:
    return "whole range" if window.start is None else f"{window.start:%Y-%m-%d}"


def _header(ctx: PageContext, report: PerformanceReport, metric: str) -> None:
    overall = report.overall
    estimate = overall.metric(metric)
    validation = report.validation_value(metric)
    cols = st.columns(4)
    interval = (
        f"95 % interval {_fmt(estimate.low)} – {_fmt(estimate.high)}"
        if estimate.low is not None
        else None
    )
    cols[0].metric(
        f"{METRIC_LABELS[metric]} (whole range)",
        _fmt(estimate.value),
        delta=None
        if validation is None or estimate.value is None
        else f"{estimate.value - validation:+.3f} vs validation",
        delta_color="normal" if HIGHER_IS_BETTER[metric] else "inverse",
        help=interval,
    )
    cols[1].metric(
        f"Validation {METRIC_LABELS[metric]}",
        _fmt(validation),
        help=f"From the version's '{report.validation_set}' metrics at registration."
        if report.validation_set
        else "The version declares no validation metrics.",
    )
    # the total goes in the label: "21,942 of 31,326" does not fit a quarter of 1440 px
    cols[2].metric(f"Labelled of {overall.predictions:,} predictions", f"{overall.labelled:,}")
    cols[3].metric("Label coverage", percent(overall.coverage.value))
    if overall.labelled < report.min_labels:
        st.warning(
            f"Only {overall.labelled} labelled predictions in this range: at least "
            f"{report.min_labels} are needed before a window gets a status."
        )


def _realised(figure: go.Figure, report: PerformanceReport, metric: str) -> None:
    """The realised metric per window (windows with enough labels) and its 95 % band."""
    windows = report.windows
    x = [w.start for w in windows]
    shown = [w.value(metric) if w.enough_labels else None for w in windows]
    band = [
        (w.start, w.metric(metric).low, w.metric(metric).high)
        for w in windows
        if w.enough_labels and w.metric(metric).low is not None
    ]
    if band:
        bx = [b[0] for b in band]
        figure.add_scatter(
            x=bx + bx[::-1],
            y=[b[2] for b in band] + [b[1] for b in band][::-1],
            fill="toself",
            mode="lines",
            fillcolor="rgba(31, 119, 180, 0.15)",
            line={"width": 0},
            name="95 % interval (realised)",
            hoverinfo="skip",
            row=1,
            col=1,
        )
    figure.add_scatter(
        x=x,
        y=shown,
        mode="lines+markers",
        name=f"realised {METRIC_LABELS[metric]}",
        line={"color": "#1f77b4"},
        customdata=[
            [w.labelled, _fmt(w.metric(metric).low), _fmt(w.metric(metric).high)] for w in windows
        ],
        hovertemplate="realised %{y:.3f}<br>95 %% interval %{customdata[1]} – %{customdata[2]}"
        "<br>%{customdata[0]:,} labels<extra></extra>",
        row=1,
        col=1,
    )


def _metric_chart(
    report: PerformanceReport,
    metric: str,
    estimates: estimation.EstimationReport | None,
) -> None:
    windows = report.windows
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06
    )
    _realised(figure, report, metric)
    if estimates is not None and metric in estimation.ESTIMATED_METRICS:
        est_x = [w.start for w in estimates.windows]
        est_y = [w.estimate(metric) for w in estimates.windows]
        figure.add_scatter(
            x=est_x,
            y=est_y,
            mode="lines+markers",
            name=f"estimated {METRIC_LABELS[metric]} (CBPE, no labels needed)",
            line={"color": "#ff7f0e", "dash": "dash"},
            marker={"symbol": "diamond-open"},
            hovertemplate="estimated %{y:.3f} (CBPE)<extra></extra>",
            row=1,
            col=1,
        )
    validation = report.validation_value(metric)
    if validation is not None:
        figure.add_hline(
            y=validation,
            line={"color": "gray", "dash": "dot"},
            annotation_text=f"validation {validation:.3f}",
            row=1,
            col=1,
        )
    figure.add_bar(
        x=[w.start for w in windows],
        y=[w.coverage.value or 0 for w in windows],
        name="label coverage",
        marker_color=["#9ecae1" if w.enough_labels else "#fdae6b" for w in windows],
        customdata=[[w.labelled, w.predictions, w.status] for w in windows],
        hovertemplate="%{y:.1%} labelled (%{customdata[0]:,} of %{customdata[1]:,})"
        "<br>%{customdata[2]}<extra></extra>",
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text=METRIC_LABELS[metric], row=1, col=1)
    figure.update_yaxes(title_text="labelled", tickformat=".0%", range=[0, 1], row=2, col=1)
    figure.update_xaxes(title_text=f"{unit_words(report.granularity)} starting (UTC)", row=2, col=1)
    figure.update_layout(
        **{**PLOT_LAYOUT, "legend": LEGEND_BELOW, "margin": {"l": 10, "r": 10, "t": 60, "b": 40}},
        height=580,
        title=f"{METRIC_LABELS[metric]} per {unit_words(report.granularity)}: realised (with labels) and "
        "estimated (CBPE)<br><sup>label coverage below; orange bars: too few labels for a "
        "status</sup>",
    )
    st.plotly_chart(figure, width="stretch", key="performance_metric_chart")


def _windows_table(
    report: PerformanceReport, estimates: estimation.EstimationReport | None
) -> pd.DataFrame:
    estimated = {w.start: w for w in estimates.windows} if estimates else {}
    rows = []
    for w in (*report.windows, report.overall):
        row = {
            "window": _label(w),
            "predictions": w.predictions,
            "labelled": w.labelled,
            "label coverage": w.coverage.value,
            "status": w.status,
        }
        for name, est in w.metrics:
            row[name] = est.value
            row[f"{name} 95% low"] = est.low
            row[f"{name} 95% high"] = est.high
        if w.start in estimated:
            for name in estimation.ESTIMATED_METRICS:
                row[f"{name} (estimated)"] = estimated[w.start].estimate(name)
        rows.append(row)
    return pd.DataFrame(rows)


def render(ctx: PageContext) -> None:
    assert ctx.version is not None  # PAGE.needs_model: the navigation guarantees a version
    st.title(f"Performance · {ctx.model_name} {ctx.version.model_version}")
    st.caption(selection_caption(ctx))
    if ctx.selection is None:
        st.info("This version has no logged traffic yet.")
        return
    try:
        report: PerformanceReport = cached(
            performance_report, ctx.store, ctx.selection, ctx.granularity
        )
    except VigilError as err:
        st.error(str(err))
        st.stop()
    line = performance_line(report)  # the Overview's line, from this page's own report
    verdict_banner(line.level, f"{line.headline}. {line.detail}")
    metric: str = (
        st.selectbox(
            "Metric",
            list(report.metric_names),
            format_func=lambda name: METRIC_LABELS[name],
            key="performance_metric",
        )
        or report.metric_names[0]
    )
    estimates = None
    if report.task == BINARY:
        try:
            estimates = cached(
                estimation.estimate_performance, ctx.store, ctx.selection, ctx.granularity
            )
        except VigilError as err:
            st.caption(f"No estimate for unlabelled windows: {err}")
    _header(ctx, report, metric)
    _metric_chart(report, metric, estimates)
    _notes(report, metric, estimates)
    with st.expander("Exact numbers per window", expanded=False):
        st.dataframe(
            _windows_table(report, estimates),
            hide_index=True,
            width="stretch",
            key="performance_table",
        )
    if report.task == BINARY:
        _binary_sections(ctx, report, metric)
    challenger.section(ctx)


def _notes(
    report: PerformanceReport, metric: str, estimates: estimation.EstimationReport | None
) -> None:
    notes = [
        f"Realised: computed on labelled predictions with status 'ok' "
        f"({INTERVAL_TEXT[CI_METHOD[metric]]}). A window with fewer than "
        f"{report.min_labels} labels shows “too few labels” instead of a status."
    ]
    if estimates is not None:
        notes.append(
            "Estimated (CBPE): expected performance from the scores alone, calibrated "
            f"(isotonic) on {estimates.baseline.describe()} ({estimates.baseline_rows:,} "
            "labelled rows). It assumes the score–outcome relation of that baseline still "
            "holds, so it cannot see concept drift: a realised line below the estimate is "
            "itself a sign of it."
        )
    for note in notes:
        st.caption(note)


def _binary_sections(ctx: PageContext, report: PerformanceReport, metric: str) -> None:
    """Concept drift (on the chosen metric when it has a validation counterpart, else
    accuracy) and calibration."""
    drift_metric = (
        metric if metric in ("roc_auc", "accuracy", "f1", "precision", "recall") else "accuracy"
    )
    try:
        concept: ConceptDriftReport = cached(
            concept_drift,
            ctx.store,
            ctx.selection,
            ctx.granularity,
            metric=drift_metric,
        )
    except VigilError as err:
        st.error(str(err))
        st.stop()
    concept_drift_section(concept)
    calibration_section(report)
