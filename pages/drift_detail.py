"""The Drift page's detail section: one feature in one window, reference against current."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.ui import PLOT_LAYOUT
from vigil.core.monitor.drift.results import ColumnDrift, DriftReport, WindowDrift
from vigil.core.stats.drift_tests import ColumnKind

WHOLE = "Whole range"


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def columns_of(window: WindowDrift) -> list[ColumnDrift]:
    return [*window.features, *window.prediction]


def detail_section(report: DriftReport) -> None:
    st.subheader("Reference vs current")
    names = [c.feature for c in columns_of(report.overall)]
    windows = [WHOLE, *(w.window.label for w in report.windows)]
    if st.session_state.get("drift_feature") not in names:
        ranked = sorted(report.overall.features, key=lambda c: -(c.score or 0))
        st.session_state["drift_feature"] = ranked[0].feature if ranked else names[0]
    if st.session_state.get("drift_window") not in windows:
        st.session_state["drift_window"] = WHOLE
    left, right = st.columns(2)
    feature = left.selectbox("Feature", names, key="drift_feature")
    window_label = right.selectbox("Window", windows, key="drift_window")
    window = (
        report.overall
        if window_label == WHOLE
        else next(w for w in report.windows if w.window.label == window_label)
    )
    column = window.column(feature)
    table = _bins_table(column)
    chart, numbers = st.columns([3, 2])
    chart.plotly_chart(
        _histogram(table, report.reference_label, window_label, column),
        width="stretch",
        key="drift_histogram",
    )
    with numbers:
        _facts(column)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "reference share": st.column_config.NumberColumn(format="percent"),
            "current share": st.column_config.NumberColumn(format="percent"),
        },
        key="drift_bins",
    )


def _bins_table(column: ColumnDrift) -> pd.DataFrame:
    """Rows and shares per bin (or category) on each side."""
    ref_total = sum(column.reference_counts) or 1
    cur_total = sum(column.current_counts) or 1
    return pd.DataFrame(
        {
            "bin" if column.kind == ColumnKind.NUMERIC else "category": list(column.bins),
            "reference rows": [int(v) for v in column.reference_counts],
            "reference share": [v / ref_total for v in column.reference_counts],
            "current rows": [int(v) for v in column.current_counts],
            "current share": [v / cur_total for v in column.current_counts],
        }
    )


def _histogram(
    table: pd.DataFrame, reference_label: str, window_label: str, column: ColumnDrift
) -> go.Figure:
    feature = column.feature
    figure = go.Figure()
    first = table.columns[0]
    figure.add_bar(
        x=table[first],
        y=table["reference share"],
        name=reference_label,
        opacity=0.6,
        hovertemplate="%{y:.1%} of reference rows<extra></extra>",
    )
    figure.add_bar(
        x=table[first],
        y=table["current share"],
        name=window_label,
        opacity=0.6,
        hovertemplate="%{y:.1%} of current rows<extra></extra>",
    )
    unit = "reference decile bins" if column.kind == ColumnKind.NUMERIC else "categories"
    figure.update_layout(
        **PLOT_LAYOUT,
        barmode="overlay",
        title=f"{feature}: share of rows per bin ({unit})",
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        xaxis={"title": feature, "type": "category"},
    )
    return figure


def _facts(column: ColumnDrift) -> None:
    st.markdown(f"**{column.test_label}** · status **{column.status}**")
    facts = {
        "statistic": fmt(column.statistic),
        "p-value": fmt(column.p_value, 3),
        "threshold": fmt(column.threshold, 3),
        "PSI": fmt(column.psi),
        "reference values": f"{column.reference_n:,}",
        "current values": f"{column.current_n:,}",
        "current missing": f"{column.current_nulls:,}",
    }
    if column.kind == ColumnKind.NUMERIC:
        facts["reference mean ± std"] = (
            f"{fmt(column.reference_mean)} ± {fmt(column.reference_std)}"
        )
        facts["current mean ± std"] = f"{fmt(column.current_mean)} ± {fmt(column.current_std)}"
    st.dataframe(pd.DataFrame({"value": facts}), width="stretch", key="drift_facts")
