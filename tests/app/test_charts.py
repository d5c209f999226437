"""Charts keep plotly_white as their template, set once as Plotly's default instead of being
named (and validated again) in every figure's layout."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio
import streamlit  # noqa: F401  - as in the app: Streamlit makes its own template the default

from vigil.app.ui import CHART_TEMPLATE, PLOT_LAYOUT, use_chart_template


def _spec(figure: go.Figure) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(pio.to_json(figure, validate=False))
    return parsed


def _bars(layout: dict[str, object]) -> go.Figure:
    figure = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2], name="n"))
    figure.update_layout(**layout, title="Traffic", yaxis_title="predictions")
    return figure


def test_figures_are_the_same_as_with_the_template_named() -> None:
    before = pio.templates.default
    try:
        use_chart_template()  # registers the title template the name refers to
        named = _spec(_bars({**PLOT_LAYOUT, "template": CHART_TEMPLATE}))
        pio.templates.default = "streamlit"
        assert _spec(_bars(PLOT_LAYOUT)) != named  # the attack: without the default it differs
        use_chart_template()
        assert _spec(_bars(PLOT_LAYOUT)) == named
    finally:
        pio.templates.default = before
