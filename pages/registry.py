"""Registry: every model and version, its inventory entry and lineage, and what was live when."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, status_badge
from vigil.core.govern import workflow as governance
from vigil.core.govern.timeline import timeline

PAGE = PageSpec(
    title="Registry",
    icon=":material/inventory_2:",
    url_path="registry",
    needs_model=False,
)


def _inventory_table(rows: tuple[governance.InventoryRow, ...]) -> None:
    st.subheader("Model inventory")
    frame = pd.DataFrame(
        [
            {
                "model": r.model_name,
                "version": r.model_version,
                "status": r.status_label,
                "aliases": ", ".join(r.aliases),
                "owner": r.owner,
                "risk tier": r.risk_tier,
                "next review": r.next_review_date,
                "review": "⚠ overdue" if r.review_overdue else "ok",
                "training data": r.training_data_version,
                "code commit": r.code_commit,
                "registered": f"{r.registered_at:%Y-%m-%d} by {r.registered_by}",
            }
            for r in rows
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    overdue = [f"{r.model_name} {r.model_version}" for r in rows if r.review_overdue]
    if overdue:
        st.warning(f"Review overdue: {', '.join(overdue)}. Review the model and record a new date.")


def _lineage(rows: tuple[governance.InventoryRow, ...], model: str) -> None:
    st.subheader(f"Lineage of {model}")
    for r in [r for r in rows if r.model_name == model]:
        alias = f" :blue-badge[{', '.join(r.aliases)}]" if r.aliases else ""
        with st.expander(f"{r.model_version} · {r.status_label}", expanded="champion" in r.aliases):
            st.markdown(
                f"{status_badge(r.status, r.status_label)}{alias}  \n"
                f"**Training data:** {r.training_data_version} (trained {r.training_date})  \n"
                f"**Code commit:** `{r.code_commit}` · **previous version:** "
                f"{r.previous_version or '—'}  \n"
                f"**Artifact SHA-256:** `{r.artifact_sha256}`  \n"
                f"**Intended use:** {r.intended_use or '—'}  \n"
                f"**Limitations:** {r.limitations or '—'}"
            )
            left, right = st.columns(2)
            left.markdown("**Hyperparameters**")
            left.dataframe(
                pd.DataFrame(
                    {
                        "parameter": list(r.hyperparameters),
                        "value": [str(v) for v in r.hyperparameters.values()],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
            right.markdown("**Validation metrics**")
            right.dataframe(
                pd.DataFrame(
                    [
                        {"data set": data_set, "metric": name, "value": value}
                        for data_set, metrics in r.validation_metrics.items()
                        for name, value in metrics.items()
                    ]
                ),
                hide_index=True,
                width="stretch",
            )


def _timeline(ctx: PageContext, model: str) -> None:
    st.subheader(f"What was live when: {model}")
    spells = cached(timeline, ctx.store, model).intervals
    if not spells:
        st.info(f"{model} has never had a champion.")
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = pd.DataFrame(
        [
            {
                "version": i.model_version,
                "live from (UTC)": i.start,
                "live until (UTC)": i.end or now,
                "until": "still live" if i.end is None else f"{i.ended_by} by {i.ended_actor}",
                "started by": f"{i.started_by} by {i.started_actor} (record {i.started_seq})",
            }
            for i in spells
        ]
    )
    figure = px.timeline(
        frame,
        x_start="live from (UTC)",
        x_end="live until (UTC)",
        y="version",
        color="version",
        hover_data={"started by": True, "until": True},
    )
    figure.update_layout(
        title=f"Champion of {model} over time (UTC)",
        xaxis_title="time (UTC)",
        yaxis_title="version",
        **{**PLOT_LAYOUT, "hovermode": "closest"},
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch")
    table = frame.copy()
    table["live until (UTC)"] = [
        "still live" if i.end is None else f"{i.end:%Y-%m-%d %H:%M:%S}" for i in spells
    ]
    right.dataframe(table, hide_index=True, width="stretch")


def _requests(ctx: PageContext, model: str) -> None:
    requests = governance.list_requests(ctx.store, model)
    if not requests:
        return
    st.subheader("Promotion requests")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "request": r.request_id,
                    "version": r.model_version,
                    "state": r.state,
                    "requested": f"{r.requested_at:%Y-%m-%d %H:%M} by {r.requested_by}",
                    "decided": f"{r.decided_at:%Y-%m-%d %H:%M} by {r.decided_by}"
                    if r.decided_at
                    else "",
                    "gate override": f"{', '.join(r.override_gates)} by {r.override_by}"
                    if r.override_by
                    else "",
                }
                for r in requests
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if any(r.state == "pending" for r in requests):
        st.caption("Pending requests are decided on the Review page.")


def render(ctx: PageContext) -> None:
    st.title("Model registry")
    rows = governance.inventory(ctx.store)
    if not rows:
        st.info("No model is registered yet. Register one with `vigil register`.")
        return
    _inventory_table(rows)
    models = sorted({r.model_name for r in rows})
    model = ctx.model_name if ctx.model_name in models else models[0]
    if len(models) > 1:
        model = st.selectbox("Model", models, index=models.index(model), key="registry_model")
    _timeline(ctx, model)
    _requests(ctx, model)
    _lineage(rows, model)
