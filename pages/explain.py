"""Explanations: why one prediction came out as it did (in SHAP numbers and in words), which
features the model leans on, and whether that changed since the reference data (SHAP from
the registered ONNX artifact)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, selection_caption, when
from vigil.core.explain import drift as attribution_drift
from vigil.core.explain import importance, local, sampling
from vigil.core.explain.attributions import Explainer, OutputSpace
from vigil.core.explain.drift import AttributionDrift
from vigil.core.explain.importance import GlobalImportance
from vigil.core.explain.local import LocalExplanation, RecentPrediction
from vigil.core.explain.sampling import PredictionNotFound
from vigil.core.registry.versions import ModelVersion
from vigil.core.responsible import reasons
from vigil.core.responsible.reasons import Reason, Reasons
from vigil.core.store.connection import Store

PAGE = PageSpec(title="Explanations", icon=":material/lightbulb:", url_path="explain")

ID_KEY = "explain_prediction_id"
PICK_KEY = "explain_recent"
STATUS_WORDS = {"ok": "OK", "warning": "Warning", "no_data": "No data"}
RATIO = st.column_config.NumberColumn(format="%.3f")
WHEN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")


@st.cache_resource(show_spinner="Preparing the explainer…", max_entries=8)
def _explainer(
    store: Store, model: str, version: str, sha256: str, _version: ModelVersion
) -> Explainer:
    """One explainer per artifact for the whole server (core also keeps a small LRU)."""
    return sampling.get_explainer(store, _version)


def _method(explainer: Explainer) -> None:
    st.info(explainer.method.words)  # begins with the method's name
    if explainer.reason:
        with st.expander("Why Vigil could not read this model's arithmetic exactly"):
            st.text(explainer.reason)


def _waterfall(result: LocalExplanation) -> go.Figure:
    space = result.output_space.words
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
        title=f"Contributions in {space}",
        xaxis_title=space,
        yaxis={"autorange": "reversed"},
        height=140 + 32 * len(labels),
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    return figure


def _picked() -> None:
    """The picker changed: the id box shows the picked id."""
    if st.session_state.get(PICK_KEY):
        st.session_state[ID_KEY] = st.session_state[PICK_KEY]


def _typed(ids: list[str]) -> None:
    """The id box changed: the picker shows that id, or nothing if it is not among them."""
    typed = str(st.session_state.get(ID_KEY) or "").strip()
    st.session_state[PICK_KEY] = typed if typed in ids else None


def _chosen_id(recent: tuple[RecentPrediction, ...]) -> str:
    """The id box and the picker, kept in agreement; returns the id to explain."""
    ids = [r.prediction_id for r in recent]
    state = st.session_state
    if not str(state.get(ID_KEY) or "").strip() and ids:
        state[ID_KEY] = ids[0]
    typed = str(state.get(ID_KEY) or "").strip()
    state[PICK_KEY] = typed if typed in ids else None
    labels = {
        r.prediction_id: f"{r.prediction_id} · {when(r.served_at)} · score "
        + ("–" if r.prediction is None else f"{r.prediction:.3f}")
        for r in recent
    }
    left, right = st.columns([1, 2])
    left.text_input(
        "Prediction id",
        key=ID_KEY,
        on_change=_typed,
        args=(ids,),
        placeholder="e.g. cr-20261101-0001-v1.0",
    )
    right.selectbox(
        "…or one of the latest predictions in the range",
        ids,
        key=PICK_KEY,
        on_change=_picked,
        format_func=labels.__getitem__,
        placeholder="The id typed is not among the latest predictions",
    )
    return str(state.get(ID_KEY) or "").strip()


def _recent_table(recent: tuple[RecentPrediction, ...]) -> None:
    with st.expander(f"Latest {len(recent)} predictions in the range"):
        st.dataframe(
            pd.DataFrame(
                {
                    "Prediction id": [r.prediction_id for r in recent],
                    "Served at (UTC)": [r.served_at for r in recent],
                    "Score": [r.prediction for r in recent],
                    "Label": [r.label for r in recent],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"Served at (UTC)": WHEN, "Score": RATIO},
        )


def _reason_table(items: tuple[Reason, ...], why: Reasons) -> pd.DataFrame:
    effect = "Effect (pp)" if why.output_space != OutputSpace.RAW else "Effect (score)"
    return pd.DataFrame(
        {
            "Reason": [r.text for r in items],
            "Feature": [r.feature for r in items],
            "Value": [r.value for r in items],
            effect: [
                r.contribution if r.probability_change is None else r.probability_change * 100
                for r in items
            ],
        }
    )


def _reasons(why: Reasons) -> None:
    st.markdown("**Reasons in words**")
    st.write(why.decision)
    lowered, raised = st.columns(2)
    for column, title, items in (
        (lowered, "Lowered the score", why.lowered),
        (raised, "Raised the score", why.raised),
    ):
        column.markdown(f"*{title}* (largest first)")
        if not items:
            column.caption("No factor.")
            continue
        column.dataframe(
            _reason_table(items, why),
            hide_index=True,
            width="stretch",
            column_config={
                "Reason": st.column_config.Column(width="medium"),
                "Feature": st.column_config.Column(width="small"),
                "Value": st.column_config.Column(width="small"),
                "Effect (pp)": st.column_config.NumberColumn(
                    format="%+.1f", width="small", help="percentage points of probability"
                ),
                "Effect (score)": st.column_config.NumberColumn(format="%+.4g", width="small"),
            },
        )
    if why.output_space == OutputSpace.LOG_ODDS:
        st.caption(
            "Effect: how far the probability would move without this factor, the others "
            "held: σ(output) − σ(output − contribution). Through the logistic link the "
            "effects do not add up to the total change; the contributions in log-odds do."
        )
    if not why.reasons_declared:
        st.caption(
            "The model's metadata gives no reason texts for some features (reason_lowers, "
            "reason_raises); their names and values stand in."
        )


def _metrics(result: LocalExplanation) -> None:
    cols = st.columns(4)
    space = result.output_space.words
    cols[0].metric("Base value", f"{result.base_value:+.3f}", help=space)
    cols[1].metric("Model output", f"{result.output_value:+.3f}", help=space)
    if result.probability is not None and result.base_probability is not None:
        cols[2].metric(
            "Probability",
            f"{result.probability:.3f}",
            delta=f"{result.probability - result.base_probability:+.3f} vs base",
        )
    cols[3].metric("Label", "not yet" if result.label is None else f"{result.label:g}")
    st.caption(
        f"{result.method.label} · version {result.model_version} · served "
        f"{when(result.served_at)} · computed in {result.elapsed_ms:.0f} ms. "
        "Base value + contributions = model output."
    )


def _local(ctx: PageContext) -> None:
    st.subheader("One prediction")
    if ctx.selection is None or ctx.model_name is None:
        return
    recent = cached(local.recent_predictions, ctx.store, ctx.selection, 50)
    prediction_id = _chosen_id(recent)
    _recent_table(recent)
    if not prediction_id:
        st.info("No predictions in this range to explain.")
        return
    try:
        result, why = cached(reasons.prediction_reasons, ctx.store, ctx.model_name, prediction_id)
    except PredictionNotFound as err:
        st.error(str(err))
        return
    _metrics(result)
    if result.note:
        st.warning(result.note)
    _reasons(why)
    chart, table = st.columns([3, 2])
    chart.plotly_chart(_waterfall(result), width="stretch")
    table.dataframe(
        pd.DataFrame(
            {
                "Feature": [c.feature for c in result.contributions],
                "Value": [c.value for c in result.contributions],
                "Contribution": [c.contribution for c in result.contributions],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"Contribution": st.column_config.NumberColumn(format="%+.4f")},
    )


def _beeswarm(result: GlobalImportance) -> go.Figure:
    figure = go.Figure()
    rng = np.random.default_rng(0)  # fixed jitter: the same chart on every rerun
    n = len(result.features)
    space = result.output_space.words
    for rank, feature in enumerate(result.features):
        values = np.array(result.shap_values[rank])
        y = (n - 1 - rank) + rng.uniform(-0.3, 0.3, len(values))
        colour = list(result.colour[rank])
        figure.add_scatter(
            x=values,
            y=y,
            mode="markers",
            name=feature,
            showlegend=False,
            marker={
                "size": 5,
                "color": colour or "#9e9e9e",
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
        title="SHAP value per sampled prediction",
        xaxis_title=f"SHAP value ({space})",
        yaxis={"tickvals": list(range(n)), "ticktext": list(reversed(result.features))},
        height=140 + 36 * n,
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    return figure


def _global(ctx: PageContext) -> None:
    st.subheader("Which features the model leans on")
    result: GlobalImportance = cached(importance.global_importance, ctx.store, ctx.selection)
    st.caption(
        f"Mean |SHAP| over a seeded sample of {result.rows} predictions in the range "
        f"({result.method.label}, {result.output_space.words}). In the swarm, "
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
        xaxis_title=f"mean |SHAP| ({result.output_space.words})",
        yaxis={"autorange": "reversed"},
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    left, right = st.columns(2)
    left.plotly_chart(bar, width="stretch")
    right.plotly_chart(_beeswarm(result), width="stretch")
    st.dataframe(
        pd.DataFrame(
            {"Feature": result.features, "Mean |SHAP|": result.mean_abs, "Share": result.shares}
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "Mean |SHAP|": st.column_config.NumberColumn(format="%.4f"),
            "Share": st.column_config.NumberColumn(format="percent"),
        },
    )


def _drift(ctx: PageContext) -> None:
    st.subheader("Attribution drift")
    result: AttributionDrift = cached(
        attribution_drift.attribution_drift, ctx.store, ctx.selection, granularity=ctx.granularity
    )
    st.caption(
        "Per window, how far the shares of mean |SHAP| moved from the reference data's: "
        "½ Σ |share now − share in reference| (0 = same reliance on features, 1 = entirely "
        f"different). Warning above {result.threshold}. Reference sample: "
        f"{result.reference_rows} rows."
    )
    frame = pd.DataFrame(
        {
            "Window start (UTC)": [w.start for w in result.windows],
            "Rows explained": [w.rows for w in result.windows],
            "Distance": [w.distance for w in result.windows],
            "Status": [STATUS_WORDS[w.status.value] for w in result.windows],
            "Largest rank changes": [
                ", ".join(f"{f} {'↑' if s > 0 else '↓'}{abs(s)}" for f, s in w.top_rank_changes)
                for w in result.windows
            ],
        }
    )
    figure = go.Figure()
    figure.add_scatter(
        x=frame["Window start (UTC)"],
        y=frame["Distance"],
        mode="lines+markers",
        name="distance",
        customdata=frame["Largest rank changes"],
        hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}<br>%{customdata}<extra></extra>",
    )
    figure.add_hline(
        y=result.threshold, line_dash="dash", line_color="#c62828", annotation_text="warning"
    )
    figure.update_layout(
        title="Distance of feature importance from the reference, per window",
        yaxis_title="normalised L1 distance (0–1)",
        xaxis_title="window start (UTC)",
        **PLOT_LAYOUT,
    )
    st.plotly_chart(figure, width="stretch")
    shares = pd.DataFrame(
        {"Feature": result.features, "Reference mean |SHAP|": result.reference_mean_abs}
    )
    for w in result.windows:
        if w.mean_abs:
            shares[f"{w.start:%Y-%m-%d}"] = w.mean_abs
    with st.expander("Numbers per window"):
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={"Window start (UTC)": WHEN, "Distance": RATIO},
        )
        st.dataframe(shares, hide_index=True, width="stretch")


def render(ctx: PageContext) -> None:
    st.title("Explanations")
    if ctx.selection is None or ctx.version is None:
        st.info("This version has no logged traffic yet: nothing to explain.")
        return
    st.caption(selection_caption(ctx))
    version = ctx.version
    explainer = _explainer(
        ctx.store, version.model_name, version.model_version, version.artifact_sha256, version
    )
    _method(explainer)
    _local(ctx)
    _global(ctx)
    _drift(ctx)
