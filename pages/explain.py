"""Explanations: why one prediction came out as it did, which features the model leans on,
and whether that changed since the reference data (SHAP from the registered ONNX artifact)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, selection_caption
from vigil.core.explain import attribution
from vigil.core.explain.attribution import AttributionDrift, GlobalImportance, LocalExplanation
from vigil.core.explain.explainer import Explainer
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store

PAGE = PageSpec(title="Explanations", icon=":material/lightbulb:", url_path="explain")

SPACE = {
    "log_odds": "log-odds of a favourable outcome",
    "probability": "probability",
    "raw": "model score",
}


@st.cache_resource(show_spinner="Preparing the explainer…", max_entries=8)
def _explainer(
    store: Store, model: str, version: str, sha256: str, _version: ModelVersion
) -> Explainer:
    """One explainer per artifact for the whole server (core also keeps a small LRU)."""
    return attribution.get_explainer(store, _version)


def _waterfall(result: LocalExplanation) -> go.Figure:
    space = SPACE[result.output_space]
    labels = [f"{c.feature} = {c.value}" for c in result.contributions]
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(labels), "total"],
            y=["base value (average over reference)", *labels, "model output"],
            x=[result.base_value, *(c.contribution for c in result.contributions), 0],
            base=0,
            increasing={"marker": {"color": "#2e7d32"}},
            decreasing={"marker": {"color": "#c62828"}},
            totals={"marker": {"color": "#1976d2"}},
            hovertemplate="%{y}: %{x:+.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Prediction {result.prediction_id}: contributions in {space}",
        xaxis_title=space,
        yaxis={"autorange": "reversed"},
        height=120 + 32 * len(labels),
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    return figure


def _local(ctx: PageContext) -> None:
    st.subheader("One prediction")
    recent = cached(attribution.recent_predictions, ctx.store, ctx.selection, 50)
    left, right = st.columns([1, 2])
    typed = left.text_input(
        "Prediction id", key="explain_prediction_id", placeholder="e.g. cr-20261101-0001-v1.0"
    )
    picked = right.selectbox(
        "…or one of the latest predictions in the range",
        [r.prediction_id for r in recent],
        format_func=lambda pid: next(
            f"{r.prediction_id} · {r.served_at:%Y-%m-%d %H:%M} · score {r.prediction:.3f}"
            for r in recent
            if r.prediction_id == pid
        ),
        key="explain_recent",
    )
    with st.expander(f"Latest {len(recent)} predictions in the range"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Prediction id": r.prediction_id,
                        "Served at (UTC)": r.served_at,
                        "Score": r.prediction,
                        "Label": r.label,
                    }
                    for r in recent
                ]
            ),
            hide_index=True,
            use_container_width=True,
        )
    prediction_id = typed.strip() or picked
    if not prediction_id:
        st.info("No predictions in this range to explain.")
        return
    result: LocalExplanation = cached(
        attribution.explain_prediction,
        ctx.store,
        ctx.model_name,
        prediction_id,
        model_version=None if typed.strip() else ctx.version.model_version,
    )
    cols = st.columns(4)
    cols[0].metric("Base value", f"{result.base_value:+.3f}", help=SPACE[result.output_space])
    cols[1].metric("Model output", f"{result.output_value:+.3f}", help=SPACE[result.output_space])
    if result.probability is not None:
        cols[2].metric(
            "Probability",
            f"{result.probability:.3f}",
            delta=f"{result.probability - result.base_probability:+.3f} vs base",
        )
    cols[3].metric("Label", "not yet" if result.label is None else f"{result.label:g}")
    st.caption(
        f"{result.method.replace('_', ' ')} · version {result.model_version} · served "
        f"{result.served_at:%Y-%m-%d %H:%M} UTC · computed in {result.elapsed_ms:.0f} ms. "
        "Base value + contributions = model output."
    )
    if result.note:
        st.warning(result.note)
    chart, table = st.columns([3, 2])
    chart.plotly_chart(_waterfall(result), use_container_width=True)
    table.dataframe(
        pd.DataFrame(
            [
                {"Feature": c.feature, "Value": c.value, "Contribution": c.contribution}
                for c in result.contributions
            ]
        ),
        hide_index=True,
        use_container_width=True,
        column_config={"Contribution": st.column_config.NumberColumn(format="%+.4f")},
    )


def _beeswarm(result: GlobalImportance) -> go.Figure:
    figure = go.Figure()
    rng = np.random.default_rng(0)  # fixed jitter: the same chart on every rerun
    n = len(result.features)
    for rank, feature in enumerate(result.features):
        values = np.array(result.shap_values[rank])
        y = (n - 1 - rank) + rng.uniform(-0.3, 0.3, len(values))
        colour = list(result.colour[rank])
        text = not colour
        figure.add_scatter(
            x=values,
            y=y,
            mode="markers",
            name=feature,
            showlegend=False,
            marker={
                "size": 5,
                "color": "#9e9e9e" if text else colour,
                "colorscale": "RdBu_r",
                "cmin": 0,
                "cmax": 1,
                "showscale": rank == 0,
                "colorbar": {
                    "title": "feature value",
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                },
            },
            customdata=list(result.feature_values[rank]),
            hovertemplate=feature + " = %{customdata}<br>SHAP %{x:+.4f}<extra></extra>",
        )
    figure.update_layout(
        title=f"SHAP value per sampled prediction ({SPACE[result.output_space]})",
        xaxis_title=f"SHAP value ({SPACE[result.output_space]})",
        yaxis={"tickvals": list(range(n)), "ticktext": list(reversed(result.features))},
        height=120 + 36 * n,
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    return figure


def _global(ctx: PageContext) -> None:
    st.subheader("Which features the model leans on")
    result: GlobalImportance = cached(attribution.global_importance, ctx.store, ctx.selection)
    st.caption(
        f"Mean |SHAP| over a seeded sample of {result.rows} predictions in the range "
        f"({result.method.replace('_', ' ')}, {SPACE[result.output_space]}). In the swarm, "
        "numeric features are coloured by value (blue low, red high); text features are grey."
    )
    if not result.complete:
        st.warning(
            f"The explainer's time budget ran out: only {result.rows} predictions are explained."
        )
    bar = go.Figure(
        go.Bar(
            x=list(result.mean_abs),
            y=list(result.features),
            orientation="h",
            customdata=list(result.shares),
            hovertemplate="%{y}: %{x:.4f} (%{customdata:.0%} of the total)<extra></extra>",
        )
    )
    bar.update_layout(
        title="Global importance: mean |SHAP| per feature",
        xaxis_title=f"mean |SHAP| ({SPACE[result.output_space]})",
        yaxis={"autorange": "reversed"},
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    left, right = st.columns(2)
    left.plotly_chart(bar, use_container_width=True)
    right.plotly_chart(_beeswarm(result), use_container_width=True)
    st.dataframe(
        pd.DataFrame(
            {
                "Feature": result.features,
                "Mean |SHAP|": result.mean_abs,
                "Share": result.shares,
            }
        ),
        hide_index=True,
        use_container_width=True,
        column_config={
            "Mean |SHAP|": st.column_config.NumberColumn(format="%.4f"),
            "Share": st.column_config.NumberColumn(format="percent"),
        },
    )


def _drift(ctx: PageContext) -> None:
    st.subheader("Attribution drift")
    drift: AttributionDrift = cached(
        attribution.attribution_drift, ctx.store, ctx.selection, granularity=ctx.granularity
    )
    st.caption(
        "Per window, how far the shares of mean |SHAP| moved from the reference data's: "
        "½ Σ |share now − share in reference| (0 = same reliance on features, 1 = entirely "
        f"different). Warning above {drift.threshold}. Reference sample: "
        f"{drift.reference_rows} rows."
    )
    frame = pd.DataFrame(
        [
            {
                "Window start": w.start,
                "Rows explained": w.rows,
                "Distance": w.distance,
                "Status": w.status,
                "Largest rank changes": ", ".join(
                    f"{f} {'↑' if s > 0 else '↓'}{abs(s)}" for f, s in w.top_rank_changes
                ),
            }
            for w in drift.windows
        ]
    )
    figure = go.Figure()
    figure.add_scatter(
        x=frame["Window start"],
        y=frame["Distance"],
        mode="lines+markers",
        name="distance",
        customdata=frame["Largest rank changes"],
        hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}<br>%{customdata}<extra></extra>",
    )
    figure.add_hline(
        y=drift.threshold, line_dash="dash", line_color="#c62828", annotation_text="warning"
    )
    figure.update_layout(
        title="Distance of feature importance from the reference, per window",
        yaxis_title="normalised L1 distance (0–1)",
        xaxis_title="window start (UTC)",
        **PLOT_LAYOUT,
    )
    st.plotly_chart(figure, use_container_width=True)
    share = pd.DataFrame(
        {"Feature": drift.features, "Reference mean |SHAP|": drift.reference_mean_abs}
    )
    for w in drift.windows:
        if w.mean_abs:
            share[f"{w.start:%Y-%m-%d}"] = w.mean_abs
    with st.expander("Numbers per window"):
        st.dataframe(frame, hide_index=True, use_container_width=True)
        st.dataframe(share, hide_index=True, use_container_width=True)


def render(ctx: PageContext) -> None:
    st.title("Explanations")
    if ctx.selection is None:
        st.info("This version has no logged traffic yet: nothing to explain.")
        return
    st.caption(selection_caption(ctx))
    version = ctx.version
    explainer = _explainer(
        ctx.store, version.model_name, version.model_version, version.artifact_sha256, version
    )
    if explainer.method == "permutation":
        st.info(
            "This model is not a tree ensemble TreeSHAP can read "
            f"({explainer.reason}); explanations use the slower permutation explainer."
        )
    _local(ctx)
    _global(ctx)
    _drift(ctx)
