"""Drift: which features and predictions moved away from the reference, in which windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, selection_caption, verdict_banner
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import ColumnDrift, DriftReport, DriftStatus
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import unit_words
from vigil.core.stats import drift_tests as stattests
from vigil.core.stats.psi import PSI_EPSILON
from vigil.core.views.monitoring_status import drift_line
from vigil.pages.drift_detail import columns_of, detail_section, fmt
from vigil.pages.text import plain

PAGE = PageSpec(title="Drift", icon=":material/ssid_chart:", url_path="drift")

SCORE_CAP = 3.0  # heat-map colours saturate at three times the threshold
HOW_DECIDED = f"""
**Default test per column** (decided once per version by the size of the reference, so a
feature keeps one test across all windows; like Evidently):
numeric — Kolmogorov–Smirnov when the reference has at most {stattests.SMALL_REFERENCE:,}
rows, else Wasserstein distance divided by the reference's standard deviation (drift above
0.1); categorical — chi-squared test of homogeneity for small references, else
Jensen–Shannon distance (drift above 0.1).

**p-values** are corrected for testing many features in every window (Bonferroni): a
feature drifts when p < {stattests.FAMILY_ALPHA} ÷ number of features, so a window of a
model that has not changed shows a false alarm about once in
{round(1 / stattests.FAMILY_ALPHA)} windows, not every other day.

**No verdict** when a window has no rows ("no data"), when a column is entirely missing
("no data"), or when fewer than {stattests.MIN_ROWS} values are present on either side
("too few rows"). PSI is shown for every column on the reference's decile bins (or its
categories) plus one bin for missing values, so a column that starts arriving empty moves it
(empty bins count as a share of {PSI_EPSILON}).

The **dataset** drifts when more than the dataset threshold of its tested features drift.
Thresholds can be changed per model (drift settings). Numbers come from stored daily
profiles; with a segment, the reference is restricted to the same segment and both sides
are computed from the raw log on the fly.
"""


def _reference_choice(sel: Selection, version: str) -> Selection | None:
    choice = st.radio(
        "Compare with",
        ["reference", "window"],
        format_func={
            "reference": f"Reference data of version {version}",
            "window": "A window of this version's logs",
        }.get,
        horizontal=True,
        key="drift_reference_kind",
    )
    if choice == "reference":
        return None
    default = (sel.start.date(), min(sel.start.date() + dt.timedelta(days=6), sel.end.date()))
    picked = st.date_input(
        "Reference window (UTC, inclusive)", value=default, key="drift_ref_range"
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.caption("Pick the last day of the reference window.")
        st.stop()
    start, end = picked
    return Selection(
        sel.model_name,
        version,
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
        sel.segment,
    )


def _hover(column: ColumnDrift) -> str:
    if column.statistic is None:
        return f"{column.status} ({column.current_n} values)"
    p = "" if column.p_value is None else f"<br>p-value {column.p_value:.3g}"
    return (
        f"{column.status}<br>{column.test_label}<br>statistic {column.statistic:.4g}{p}"
        f"<br>threshold {column.threshold:.3g}<br>{column.current_n:,} values"
    )


def _heatmap(report: DriftReport) -> Any:
    names = [c.feature for c in columns_of(report.overall)]
    labels = [w.window.label for w in report.windows]
    z, text = [], []
    for name in names:
        row_z, row_text = [], []
        for window in report.windows:
            column = window.column(name)
            score = column.score
            row_z.append(None if score is None else min(score, SCORE_CAP))
            row_text.append(_hover(column))
        z.append(row_z)
        text.append(row_text)
    figure = go.Figure(
        go.Heatmap(
            x=labels,
            y=names,
            z=z,
            customdata=text,
            zmin=0,
            zmax=SCORE_CAP,
            colorscale=[
                [0.0, "#f7fbff"],
                [1 / SCORE_CAP - 0.001, "#9ecae1"],
                [1 / SCORE_CAP, "#fdae6b"],
                [1.0, "#a50f15"],
            ],
            colorbar={
                "title": "drift / threshold",
                "tickvals": [0, 1, 2, 3],
                "ticktext": ["0", "1 (threshold)", "2", "≥ 3"],
            },
            hovertemplate="<b>%{y}</b> · %{x}<br>%{customdata}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        **{**PLOT_LAYOUT, "hovermode": "closest"},
        title="Drift score per feature and window (1 = the test's threshold; blank = no verdict)",
        height=max(320, 28 * len(names) + 140),
        yaxis={"autorange": "reversed"},
        xaxis={"title": "window (UTC)", "type": "category"},
    )
    return st.plotly_chart(
        figure,
        width="stretch",
        on_select="rerun",
        selection_mode="points",
        key="drift_heatmap",
    )


def _apply_click(event: Any, report: DriftReport) -> None:
    """A clicked cell drives the same selectboxes keyboard users and tests use."""
    try:
        points = event.selection.points if event else []
    except AttributeError:
        points = []
    if not points:
        return
    point = points[0]
    feature, window = point.get("y"), point.get("x")
    if st.session_state.get("drift_last_click") == (feature, window):
        return  # the selection persists across reruns; apply each click once
    st.session_state["drift_last_click"] = (feature, window)
    names = [c.feature for c in columns_of(report.overall)]
    windows = [w.window.label for w in report.windows]
    if feature in names and window in windows:
        st.session_state["drift_feature"] = feature
        st.session_state["drift_window"] = window


def _ranking(report: DriftReport) -> None:
    st.subheader("Features ranked by drift (whole range)")
    windows_drifted = {
        c.feature: sum(1 for w in report.windows if w.column(c.feature).drifted)
        for c in columns_of(report.overall)
    }
    rows = [
        {
            "feature": c.feature,
            "kind": c.kind.word,
            "status": c.status,
            "test": c.test,
            "statistic": c.statistic,
            "p-value": c.p_value,
            "threshold": c.threshold,
            "drift / threshold": c.score,
            "PSI": c.psi,
            "windows drifted": f"{windows_drifted[c.feature]} of {len(report.windows)}",
            "reference n": c.reference_n,
            "current n": c.current_n,
            "missing": c.current_nulls,
        }
        for c in sorted(report.overall.features, key=lambda c: -(c.score or 0))
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"p-value": st.column_config.NumberColumn(format="%.3g")},
        key="drift_ranking",
    )


def _prediction_rows(report: DriftReport) -> pd.DataFrame:
    """Per window: the score's drift and, for binary classifiers, the share predicted positive."""
    rows = []
    for w in report.windows:
        score = w.column("prediction")
        row = {
            "window": w.window.label,
            "predictions": score.current_n,
            "mean score": score.current_mean,
            "status": score.status,
            "test": score.test,
            "statistic": score.statistic,
            "p-value": score.p_value,
        }
        try:
            cls = w.column("predicted_class")
        except KeyError:
            cls = None
        if cls is not None and cls.current_n:
            positive = dict(zip(cls.bins, cls.current_counts, strict=True)).get("positive", 0.0)
            row["positive share"] = positive / cls.current_n
            row["class status"] = cls.status
        rows.append(row)
    return pd.DataFrame(rows)


def _prediction(report: DriftReport) -> None:
    st.subheader("Prediction drift")
    frame = _prediction_rows(report)
    overall = report.overall.column("prediction")
    figure = go.Figure()
    figure.add_scatter(
        x=frame["window"],
        y=frame["mean score"],
        mode="lines+markers",
        name="mean score",
        hovertemplate="%{y:.3f}<extra>mean score</extra>",
    )
    if overall.reference_mean is not None:
        figure.add_hline(
            y=overall.reference_mean,
            line_dash="dash",
            annotation_text=f"reference mean {overall.reference_mean:.3f}",
        )
    drifted = frame[frame["status"] == DriftStatus.DRIFT]
    figure.add_scatter(
        x=drifted["window"],
        y=drifted["mean score"],
        mode="markers",
        marker={"size": 12, "color": "#a50f15", "symbol": "x"},
        name="score distribution drifted",
        hoverinfo="skip",
    )
    if "positive share" in frame:
        figure.add_scatter(
            x=frame["window"],
            y=frame["positive share"],
            mode="lines",
            name="positive share",
            line={"dash": "dot"},
            hovertemplate="%{y:.1%}<extra>predicted positive</extra>",
        )
    figure.update_layout(
        **PLOT_LAYOUT,
        title="Prediction score per window (mean, 0–1) and share predicted positive",
        yaxis={"title": "score / share"},
        xaxis={"title": "window (UTC)", "type": "category"},
    )
    st.plotly_chart(figure, width="stretch", key="drift_prediction_chart")
    st.markdown(
        f"Whole range: score distribution **{overall.status}** ({overall.test_label}, "
        f"statistic {fmt(overall.statistic)}, p-value {fmt(overall.p_value, 3)})."
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="drift_prediction_table",
        column_config={
            "p-value": st.column_config.NumberColumn(format="%.3g"),
            "positive share": st.column_config.NumberColumn(format="percent"),
        },
    )


def _multivariate(report: DriftReport) -> None:
    st.subheader("Can a model tell current rows from reference rows? (all features together)")
    mv = report.multivariate
    if mv is None:
        return
    if mv.auc is None:
        st.info(f"Too few rows to train the domain classifier ({mv.current_n} current rows).")
        return
    verdict = "can" if mv.drifted else "cannot reliably"
    st.metric("Domain classifier ROC AUC", f"{mv.auc:.3f}", help="0.5: indistinguishable")
    st.markdown(
        f"A classifier trained to tell current rows from reference rows {verdict} do it: "
        f"cross-validated ROC AUC {mv.auc:.3f} ± {mv.auc_std:.3f} over {mv.folds} folds, "
        f"on {mv.current_n:,} rows per side; drift above {mv.threshold}."
    )


def render(ctx: PageContext) -> None:
    st.title("Drift")
    st.caption(selection_caption(ctx))
    if ctx.selection is None:
        st.info("This version has no logged traffic yet: nothing to compare.")
        return
    assert ctx.version is not None  # PAGE.needs_model: the navigation guarantees a version
    reference = _reference_choice(ctx.selection, ctx.version.model_version)
    with st.expander("How drift is decided"):
        st.markdown(HOW_DECIDED)
    with st.spinner("Comparing with the reference…"):
        report: DriftReport = cached(
            drift_report,
            ctx.store,
            ctx.selection,
            granularity=ctx.granularity,
            reference=reference,
        )
    dataset = report.overall.dataset
    windows_drifted = sum(1 for w in report.windows if w.dataset.drifted)
    line = drift_line(report)  # the Overview's line, from this page's own report
    verdict_banner(line.level, f"{line.headline}. {line.detail}")
    st.caption(f"Whole range: {dataset.sentence()}")
    st.caption(
        f"Compared with {plain(report.reference_label)}. Dataset drift in {windows_drifted} of "
        f"{len(report.windows)} windows ({unit_words(ctx.granularity)}). {report.overall.rows:,} predictions."
    )
    event = _heatmap(report)
    _apply_click(event, report)
    detail_section(report)
    _ranking(report)
    _prediction(report)
    _multivariate(report)
