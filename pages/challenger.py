"""Drawing the champion-vs-challenger comparison on live traffic (Review and Performance pages):
the verdict in the live challenger gate's own words, a table of each metric with its interval
and test, and the difference against the margin as a chart. Drawing only."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.charts import layout
from vigil.app.context import PageContext
from vigil.app.ui import day
from vigil.core.errors import VigilError
from vigil.core.govern import actions, rules
from vigil.core.govern.gates.live import LiveComparison, MetricComparison, describe
from vigil.core.stats.comparison import ComparisonVerdict
from vigil.core.views.challenger import challenger_view

VERDICT_WORDS = {
    ComparisonVerdict.PASS: "not worse beyond the margin",
    ComparisonVerdict.FAIL: "worse beyond the margin",
    ComparisonVerdict.INCONCLUSIVE: "cannot tell yet",
}


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.2g}"


def _row(live: LiveComparison, m: MetricComparison) -> dict[str, str]:
    c = m.decision.comparison
    verdict = VERDICT_WORDS[m.decision.verdict]
    if m.labels_needed:
        verdict += f" (about {m.labels_needed:,} more labels)"
    if c is None:
        return {
            "metric": m.label, f"candidate {live.candidate}": "–",
            f"champion {live.champion}": "–", "difference": "–", "95 % interval": "–",
            "test": m.too_few or "–", "p-value": "–", "verdict": verdict,
        }  # fmt: skip
    return {
        "metric": m.label,
        f"candidate {live.candidate}": f"{c.candidate:.3f}",
        f"champion {live.champion}": f"{c.champion:.3f}",
        "difference": f"{c.difference:+.3f}",
        "95 % interval": f"{c.ci_low:+.3f} to {c.ci_high:+.3f}",
        "test": c.method,
        "p-value": _p(c.p_value),
        "verdict": verdict,
    }


def table(live: LiveComparison) -> pd.DataFrame:
    return pd.DataFrame([_row(live, m) for m in live.metrics])


def _chart(live: LiveComparison) -> go.Figure | None:
    """Each metric's gain (positive: the candidate is better) with its 95 % interval, beside
    zero and the margin the gate allows."""
    shown = [m for m in live.metrics if m.decision.comparison is not None]
    if not shown:
        return None
    figure = go.Figure()
    gains = [m.decision.comparison.gain for m in shown if m.decision.comparison is not None]
    figure.add_scatter(
        x=[g[0] for g in gains],
        y=[m.label for m in shown],
        mode="markers",
        marker={"size": 11, "color": "#1f4e8c"},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [g[2] - g[0] for g in gains],
            "arrayminus": [g[0] - g[1] for g in gains],
        },
        name="candidate − champion (95 % interval)",
        hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
    )
    figure.add_scatter(
        x=[-m.decision.margin for m in shown],
        y=[m.label for m in shown],
        mode="markers",
        marker={"symbol": "line-ns-open", "size": 22, "color": "#cf222e", "line": {"width": 3}},
        name="worst loss allowed (margin)",
        hovertemplate="margin: %{x:+.3f}<extra></extra>",
    )
    figure.add_vline(x=0, line_color="#57606a", line_dash="dot")
    figure.update_layout(
        **layout("Candidate − champion (right of 0: the candidate is better)", hovermode="closest"),
        xaxis_title="difference in the metric",
        height=140 + 60 * len(shown),
    )
    return figure


def draw(live: LiveComparison) -> None:
    """The comparison: its verdict in words, the numbers, and the chart."""
    sentence = describe(live)
    if live.verdict is ComparisonVerdict.FAIL:
        st.error(sentence)
    elif live.verdict is ComparisonVerdict.PASS:
        st.success(sentence)
    else:
        st.warning(sentence)
    how = (
        f"Paired: {live.pairs:,} requests scored by both versions (matched by "
        f"{live.pairing.value}), {live.labelled:,} of them labelled."
        if live.paired
        else f"Unpaired: {live.candidate} answered {live.candidate_rows:,} requests and "
        f"{live.champion} {live.champion_rows:,} others over the same days."
    )
    last = day(live.end - dt.timedelta(days=1))
    st.caption(f"{how} Window: {day(live.start)} to {last} (UTC).")
    st.table(table(live))
    figure = _chart(live)
    if figure is not None:
        st.plotly_chart(figure, width="stretch")


def _request(ctx: PageContext, model: str, candidate: str, evidence: str) -> None:
    """Request promotion of the challenger with the comparison as the rationale's start."""
    decision = rules.can_request_promotion(ctx.store, ctx.user, model, candidate)
    if not decision.allowed:
        st.caption(f"Request promotion of {candidate}: {decision.reason}")
        return
    with st.form("challenger_request"):
        rationale = st.text_area(
            f"Rationale for promoting {candidate}",
            value=f"Live comparison with the champion: {evidence}",
            key="challenger_rationale",
            help="Goes into the audit record with the gates' results. Add what you checked.",
        )
        if not st.form_submit_button(f"Request promotion of {candidate}"):
            return
    try:
        outcome, _ = actions.request_promotion(ctx.store, ctx.user, model, candidate, rationale)
    except VigilError as err:
        st.error(str(err))
        return
    st.success(f"{outcome.message} Reviewers see it on the Review page.")


def section(ctx: PageContext) -> None:
    """The Performance page's champion-vs-challenger section, fed by live (shadow, canary or
    A/B) traffic: the live challenger gate's own comparison, so page and gate agree."""
    assert ctx.model_name is not None and ctx.version is not None
    st.subheader("Champion against challenger on live traffic")
    view = cached(challenger_view, ctx.store, ctx.model_name, ctx.version.model_version)
    if view.live is None:
        st.info(view.summary)
        return
    draw(view.live)
    if view.candidate is not None and view.candidate != view.champion:
        _request(ctx, ctx.model_name, view.candidate, view.summary)
