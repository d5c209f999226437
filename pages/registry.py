"""Registry: every model and version, its inventory entry and lineage, what was live when,
its gate thresholds and the threshold changes that wait for a second admin. Rationales and
metadata written by people are drawn as text (tables and plain text), never as markdown."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import PLOT_LAYOUT, status_badge
from vigil.core.errors import VigilError
from vigil.core.govern.policy import changes as policy
from vigil.core.govern.policy.changes import PolicyChange
from vigil.core.govern.requests import list_requests
from vigil.core.govern.timeline import timeline
from vigil.core.views import policy as policy_view
from vigil.core.views.inventory import InventoryRow, inventory

PAGE = PageSpec(
    title="Registry",
    icon=":material/inventory_2:",
    url_path="registry",
    needs_model=False,
)


def _inventory_table(rows: tuple[InventoryRow, ...]) -> None:
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


def _facts(r: InventoryRow) -> pd.DataFrame:
    """The version's lineage as a table: metadata is people's text, never markdown."""
    return pd.DataFrame(
        {
            "field": ["training data", "trained", "code commit", "previous version",
                      "artifact SHA-256", "owner", "risk tier"],
            "value": [r.training_data_version, str(r.training_date), r.code_commit,
                      r.previous_version or "—", r.artifact_sha256, r.owner, r.risk_tier or "—"],
        }
    )  # fmt: skip


def _lineage(rows: tuple[InventoryRow, ...], model: str) -> None:
    st.subheader(f"Lineage of {model}")
    for r in [r for r in rows if r.model_name == model]:
        alias = f" :blue-badge[{', '.join(r.aliases)}]" if r.aliases else ""
        with st.expander(f"{r.model_version} · {r.status_label}", expanded="champion" in r.aliases):
            st.markdown(f"{status_badge(r.status, r.status_label)}{alias}")
            st.dataframe(_facts(r), hide_index=True, width="stretch")
            for label, text in (("Intended use", r.intended_use), ("Limitations", r.limitations)):
                st.caption(label)
                st.text(text or "—")
            left, right = st.columns(2)
            left.caption("Hyperparameters")
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
            right.caption("Validation metrics")
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
    requests = list_requests(ctx.store, model)
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
                    "rationale": r.request_rationale,
                }
                for r in requests
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if any(r.state == "pending" for r in requests):
        st.caption("Pending requests are decided on the Review page.")


def _change_label(c: PolicyChange) -> str:
    old = "default" if c.old is None else f"{c.old:g}"
    new = "default" if c.new is None else f"{c.new:g}"
    return f"#{c.change_id} {c.key.describe()}: {old} → {new}, proposed by {c.proposed_by}"


def _decide_change(ctx: PageContext, pending: tuple[PolicyChange, ...]) -> None:
    """Confirm or reject a pending change: buttons disabled, with the reason, when a rule
    (four-eyes, a recently granted admin) says no."""
    by_id = {c.change_id: c for c in pending}
    chosen = st.selectbox(
        "Policy change", list(by_id), format_func=lambda i: _change_label(by_id[i]),
        key="registry_policy_change",
    )  # fmt: skip
    if chosen is None:
        return
    rationale = st.text_area("Rationale of your decision", key="registry_policy_rationale")
    decisions = (
        ("Confirm change", policy.can_confirm(ctx.store, ctx.user, chosen), policy.confirm),
        ("Reject change", policy.can_reject(ctx.store, ctx.user, chosen), policy.reject),
    )
    for column, (label, decision, act) in zip(st.columns(2), decisions, strict=True):
        if decision.blocked is not None and decision.blocked.hides:
            continue
        with column:
            clicked = st.button(label, key=f"registry_{label.split()[0].lower()}",
                                disabled=not decision.allowed)  # fmt: skip
            if not decision.allowed:
                st.caption(f":material/block: {decision.reason}")
            if clicked:
                try:
                    st.success(act(ctx.store, ctx.user, chosen, rationale).message)
                except VigilError as err:
                    st.error(str(err))


def _policy(ctx: PageContext, model: str) -> None:
    st.subheader(f"Gate thresholds of {model}")
    rows = policy_view.gate_thresholds(ctx.store, model)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "gate": r.label,
                    "threshold": r.value,
                    "default": r.default,
                    "in force": "yes" if r.trusted else "no: changed outside Vigil, gate fails",
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    pending = policy_view.pending_changes(ctx.store, model)
    if not pending:
        st.caption("No threshold change is waiting for a second admin.")
        return
    st.subheader("Threshold changes waiting for a second admin")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "change": c.change_id,
                    "threshold": c.key.describe(),
                    "from": "default" if c.old is None else c.old,
                    "to": "default" if c.new is None else c.new,
                    "proposed": f"{c.proposed_at:%Y-%m-%d %H:%M} by {c.proposed_by}",
                    "rationale": c.rationale,
                }
                for c in pending
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    _decide_change(ctx, pending)


def render(ctx: PageContext) -> None:
    st.title("Model registry")
    rows = inventory(ctx.store)
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
    _policy(ctx, model)
    _lineage(rows, model)
