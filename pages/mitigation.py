"""Mitigation what-if: on the range's labelled predictions, what selection rates, TPR, FPR
and accuracy other decision rules would have given, and which of them use the sensitive
attribute at decision time. Nothing is deployed; the result downloads as evidence."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, selection_caption
from vigil.core.responsible import mitigation
from vigil.core.responsible.mitigation import MitigationWhatIf, OptionResult
from vigil.core.results import to_jsonable

PAGE = PageSpec(title="Mitigation what-if", icon=":material/balance:", url_path="mitigation")

RULE_WORDS = {
    "pass": "Meets",
    "fail": "Fails",
    "most_favoured": "Highest rate",
    "undefined": "Not judged (too few rows)",
}
COLOURS = ("#1976d2", "#2e7d32", "#ef6c00", "#8e24aa")


def _summary(result: MitigationWhatIf) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Option": [o.title for o in result.options],
            "Uses the attribute at decision time": [
                "Yes" if o.uses_sensitive_attribute else "No" for o in result.options
            ],
            "Threshold": [o.threshold for o in result.options],
            "Accuracy": [o.accuracy for o in result.options],
            "Selection rate": [o.selection_rate for o in result.options],
            "Lowest ÷ highest selection rate": [o.demographic_parity_ratio for o in result.options],
            "Equalized odds difference": [o.equalized_odds_difference for o in result.options],
            "Four-fifths rule": [
                "Not judged"
                if o.meets_four_fifths is None
                else ("Meets" if o.meets_four_fifths else "Fails")
                for o in result.options
            ],
        }
    )


def _groups(option: OptionResult) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Group": [g.group for g in option.groups],
            "Rows": [g.rows for g in option.groups],
            "Selection rate": [g.selection_rate for g in option.groups],
            "TPR": [g.tpr for g in option.groups],
            "FPR": [g.fpr for g in option.groups],
            "Accuracy": [g.accuracy for g in option.groups],
            "Ratio to highest": [g.ratio_to_highest for g in option.groups],
            "Four-fifths rule": [RULE_WORDS[g.four_fifths.value] for g in option.groups],
        }
    )


PERCENT = st.column_config.NumberColumn(format="percent")
RATIO = st.column_config.NumberColumn(format="%.3f")


def _trade_off(result: MitigationWhatIf) -> go.Figure:
    figure = go.Figure()
    figure.add_scatter(
        x=[p.demographic_parity_ratio for p in result.sweep],
        y=[p.accuracy for p in result.sweep],
        customdata=[p.threshold for p in result.sweep],
        mode="lines",
        line={"color": "#9e9e9e"},
        name="one threshold for everyone",
        hovertemplate="threshold %{customdata:.3f}<br>ratio %{x:.3f}<br>accuracy %{y:.1%}"
        "<extra></extra>",
    )
    for colour, option in zip(COLOURS, result.options, strict=False):
        figure.add_scatter(
            x=[option.demographic_parity_ratio],
            y=[option.accuracy],
            mode="markers",
            marker={"size": 12, "color": colour},
            name=option.title,
            hovertemplate="ratio %{x:.3f}<br>accuracy %{y:.1%}<extra></extra>",
        )
    figure.add_vline(x=0.8, line_dash="dash", line_color="#c62828")
    figure.update_layout(
        **{
            **PLOT_LAYOUT,
            "hovermode": "closest",
            "margin": {"t": 30, "b": 10},
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        },
        xaxis_title="lowest ÷ highest selection rate (the four-fifths rule at 0.8, dashed)",
        yaxis_title="accuracy",
        yaxis_tickformat=".0%",
        height=460,
    )
    return figure


def _downloads(result: MitigationWhatIf) -> None:
    stem = f"mitigation-{result.model_name}-{result.model_version}-{result.attribute}"
    left, right = st.columns(2)
    left.download_button(
        "Download as JSON (evidence)",
        json.dumps(to_jsonable(result), indent=2),
        file_name=f"{stem}.json",
        mime="application/json",
    )
    right.download_button(
        "Download as CSV",
        mitigation.to_csv(result),
        file_name=f"{stem}.csv",
        mime="text/csv",
    )


def render(ctx: PageContext) -> None:
    st.title("Mitigation what-if")
    if ctx.selection is None or ctx.version is None:
        st.info("This version has no logged traffic yet: nothing to compare.")
        return
    st.caption(selection_caption(ctx))
    names = [f.name for f in ctx.version.sensitive]
    if not names:
        st.info("This version declares no sensitive attribute in its metadata.")
        return
    attribute = st.selectbox("Sensitive attribute", names, key="mitigation_attribute")
    result: MitigationWhatIf = cached(
        mitigation.mitigation_what_if, ctx.store, ctx.selection, attribute=attribute
    )
    st.info(
        "A what-if on past decisions: nothing is deployed or changed. Each option is applied "
        f"to the same {result.rows:,} labelled predictions of the range."
    )
    st.caption(result.population)
    st.dataframe(
        _summary(result),
        hide_index=True,
        width="stretch",
        column_config={
            "Threshold": RATIO,
            "Accuracy": PERCENT,
            "Selection rate": PERCENT,
            "Lowest ÷ highest selection rate": RATIO,
            "Equalized odds difference": RATIO,
        },
    )
    st.plotly_chart(_trade_off(result), width="stretch")
    st.warning(result.legal_note)
    for option in result.options:
        with st.expander(f"{option.title}: per group"):
            st.text(option.note)
            st.dataframe(
                _groups(option),
                hide_index=True,
                width="stretch",
                column_config={
                    "Selection rate": PERCENT,
                    "TPR": PERCENT,
                    "FPR": PERCENT,
                    "Accuracy": PERCENT,
                    "Ratio to highest": RATIO,
                },
            )
    _downloads(result)
