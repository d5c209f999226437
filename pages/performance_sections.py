"""The Performance page's concept-drift and calibration sections (whole range)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.ui import PLOT_LAYOUT
from vigil.core.monitor.performance.concept import (
    ConceptDriftReport,
    ConceptVerdict,
    ConceptWindow,
)
from vigil.core.monitor.performance.results import (
    METRIC_LABELS,
    Confusion,
    PerformanceReport,
    ReliabilityBin,
)
from vigil.core.monitor.windows import unit_words


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def concept_drift_section(report: ConceptDriftReport) -> None:
    st.subheader("Concept drift")
    st.caption(
        f"A window is flagged when its {METRIC_LABELS[report.metric]} falls more than "
        f"{report.margin:g} below the validation value while the inputs did not drift "
        f"(input drift: {report.input_drift_source}). Calibration error (ECE) is compared "
        f"with {report.baseline.describe()}: ECE {_fmt(report.baseline_ece)}."
    )
    flagged = report.flagged
    if flagged:
        st.error(
            f"Concept drift in {len(flagged)} window(s) from {flagged[0].start:%Y-%m-%d}: "
            "performance fell while the inputs held steady — the relation between inputs "
            "and outcomes changed. Retraining on recent labelled data is the usual remedy."
        )
    windows = [
        w
        for w in report.windows
        if w.ece is not None and w.verdict != ConceptVerdict.TOO_FEW_LABELS
    ]
    if windows:
        _ece_chart(report, windows)
    _concept_table(report)


def _ece_chart(report: ConceptDriftReport, windows: list[ConceptWindow]) -> None:
    """ECE per window against the baseline's, the windows past the margin in red."""
    figure = go.Figure()
    figure.add_scatter(
        x=[w.start for w in windows],
        y=[w.ece for w in windows],
        mode="lines+markers",
        name="ECE per window",
        marker={"color": ["#d62728" if w.calibration_shift else "#1f77b4" for w in windows]},
        customdata=[[w.labelled, w.verdict] for w in windows],
        hovertemplate="ECE %{y:.3f}<br>%{customdata[0]:,} labels<br>%{customdata[1]}"
        "<extra></extra>",
    )
    if report.baseline_ece is not None:
        figure.add_hline(
            y=report.baseline_ece,
            line={"dash": "dot", "color": "gray"},
            annotation_text=f"baseline {report.baseline_ece:.3f}",
        )
        figure.add_hline(
            y=report.baseline_ece + report.margin,
            line={"dash": "dash", "color": "#d62728", "width": 1},
            annotation_text="baseline + margin",
        )
    figure.update_layout(
        **PLOT_LAYOUT,
        title=f"Calibration per {unit_words(report.granularity)}: expected calibration error "
        "(red: moved past the baseline)",
        yaxis={"title": "ECE (probability)", "rangemode": "tozero"},
        xaxis={"title": f"{unit_words(report.granularity)} starting (UTC)"},
        height=320,
    )
    st.plotly_chart(figure, width="stretch", key="performance_ece_chart")


def _concept_table(report: ConceptDriftReport) -> None:
    table = pd.DataFrame(
        [
            {
                "window": f"{w.start:%Y-%m-%d}",
                "labelled": w.labelled,
                METRIC_LABELS[report.metric]: w.metric_value,
                "validation": w.validation_value,
                "performance drop": w.performance_drop,
                "ECE": w.ece,
                "baseline ECE": w.baseline_ece,
                "calibration moved": w.calibration_shift,
                "input drift": "unknown"
                if w.input_drift is None
                else ("yes" if w.input_drift else "no"),
                "verdict": w.verdict,
            }
            for w in report.windows
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch", key="performance_concept_table")


def calibration_section(report: PerformanceReport) -> None:
    overall = report.overall
    if not overall.reliability:
        return
    st.subheader("Calibration and confusion matrix (whole range)")
    left, right = st.columns(2)
    bins = overall.reliability
    figure = go.Figure()
    figure.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "gray"},
        name="perfect calibration", hoverinfo="skip",
    )  # fmt: skip
    figure.add_scatter(
        x=[b.mean_predicted for b in bins],
        y=[b.observed_rate for b in bins],
        mode="lines+markers",
        name="model",
        marker={"size": [6 + 14 * math.sqrt(b.count / max(c.count for c in bins)) for b in bins]},
        customdata=[[b.low, b.high, b.count] for b in bins],
        hovertemplate="scores %{customdata[0]:.1f}–%{customdata[1]:.1f}<br>mean predicted "
        "%{x:.3f}<br>observed positive rate %{y:.3f}<br>%{customdata[2]:,} rows<extra></extra>",
    )
    figure.update_layout(
        **{**PLOT_LAYOUT, "hovermode": "closest"},
        title=f"Reliability: observed vs predicted (ECE {_fmt(overall.value('ece'))})",
        xaxis={"title": "mean predicted probability", "range": [0, 1]},
        yaxis={"title": "observed positive rate", "range": [0, 1]},
        height=400,
    )
    left.plotly_chart(figure, width="stretch", key="performance_reliability")
    if overall.confusion is not None:
        right.plotly_chart(
            _confusion(overall.confusion, report.threshold),
            width="stretch",
            key="performance_confusion",
        )
    _reliability_table(bins)


def _confusion(c: Confusion, threshold: float | None) -> go.Figure:
    matrix = go.Figure(
        go.Heatmap(
            z=[[c.tn, c.fp], [c.fn, c.tp]],
            x=["predicted 0", "predicted 1"],
            y=["actual 0", "actual 1"],
            text=[[f"TN {c.tn:,}", f"FP {c.fp:,}"], [f"FN {c.fn:,}", f"TP {c.tp:,}"]],
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="%{y}, %{x}: %{z:,} rows<extra></extra>",
            showscale=False,
        )
    )
    matrix.update_layout(
        **{**PLOT_LAYOUT, "hovermode": "closest"},
        title=f"Confusion matrix at threshold {threshold:g} (labelled rows)",
        yaxis={"autorange": "reversed"},
        height=400,
    )
    return matrix


def _reliability_table(bins: tuple[ReliabilityBin, ...]) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "score bin": f"{b.low:.1f}–{b.high:.1f}",
                    "rows": b.count,
                    "mean predicted": b.mean_predicted,
                    "observed rate": b.observed_rate,
                    "gap": b.observed_rate - b.mean_predicted,
                }
                for b in bins
            ]
        ),
        hide_index=True,
        width="stretch",
        key="performance_reliability_table",
    )
