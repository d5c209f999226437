"""The Review page's sections around the tabs: the request and the decision taken on it, the
verdict at a glance, the gate checklist in words, the candidate's open alerts and the
inventory facts. Drawing only; every number comes from core, and people's text is drawn as
text, never as markdown."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from vigil.app.ui import day, status_badge, when
from vigil.core.alerts.records import Alert
from vigil.core.govern.gates.results import GateOutcome, GateReport
from vigil.core.govern.gates.specs import label as gate_label
from vigil.core.govern.requests import PromotionRequest, RequestState
from vigil.core.registry.versions import ModelVersion
from vigil.core.views import gates as gate_rows
from vigil.core.views import review as views
from vigil.core.views.words import action as action_words

BADGES = {
    GateOutcome.PASS: ":green-badge[:material/check_circle: Pass]",
    GateOutcome.FAIL: ":red-badge[:material/cancel: Fail]",
    GateOutcome.INCONCLUSIVE: ":orange-badge[:material/help: Cannot tell yet]",
    GateOutcome.NOT_APPLICABLE: ":gray-badge[Does not apply]",
}
VERBS = {
    RequestState.APPROVED: "approved",
    RequestState.REJECTED: "rejected",
    RequestState.WITHDRAWN: "withdrawn",
}


def request_header(model: str, candidate: ModelVersion, request: PromotionRequest) -> None:
    st.markdown(
        f"**{model} {candidate.model_version}** "
        f"{status_badge(candidate.status, candidate.status_label)}"
    )
    st.text(
        f"Request #{request.request_id} by {request.requested_by}, {when(request.requested_at)}"
        f" · registered by {candidate.registered_by}"
    )
    st.caption("Rationale of the request")
    st.text(request.request_rationale)


def _overridden(request: PromotionRequest) -> str:
    return ", ".join(gate_label(g) for g in request.override_gates)


def decision_card(last: views.LastDecision) -> None:
    request, version = last.request, last.version
    verb = VERBS.get(request.state, str(request.state))
    st.subheader(f"Decision on {request.model_name} {request.model_version}")
    st.markdown(
        f"Request #{request.request_id} by **{request.requested_by}** was **{verb}** by "
        f"**{request.decided_by}** ({request.decided_by_role}), {when(request.decided_at)} "
        f"(audit record {request.decision_seq}). {version.model_version} is now "
        f"{status_badge(version.status, version.status_label)}."
    )
    st.caption("Rationale of the decision")
    st.text(request.decision_rationale or "")
    if request.override_by:
        st.caption(
            f"Failed gates overridden by {request.override_by} before the decision: "
            f"{_overridden(request)}. Their rationale:"
        )
        st.text(request.override_rationale or "")


def history_card(model: str, version: ModelVersion, records: list[dict[str, object]]) -> None:
    """A version no request was ever made for (imported history, say): its records in words."""
    st.subheader(f"{model} {version.model_version}")
    st.markdown(
        f"{status_badge(version.status, version.status_label)} · no promotion request on record"
    )
    for r in records:
        at = r["recorded_at"]
        moment = when(at) if isinstance(at, dt.datetime) else "–"
        st.text(f"{action_words(str(r['action']))} by {r['actor']}, {moment}")
        st.caption(str(r["rationale"]))


def facts(candidate: ModelVersion, champion: ModelVersion | None) -> None:
    """Inventory facts side by side, as a table: owners and notes are people's text."""
    sides = [candidate] + ([champion] if champion else [])
    rows = {
        "status": [v.status_label for v in sides],
        "owner": [v.owner for v in sides],
        "risk tier": [v.risk_tier or "–" for v in sides],
        "next review": [day(v.next_review_date) for v in sides],
        "training data": [v.training_data_version for v in sides],
        "code commit": [v.code_commit for v in sides],
        "registered": [f"{day(v.registered_at)} by {v.registered_by}" for v in sides],
    }
    columns = [f"candidate {candidate.model_version}"] + (
        [f"champion {champion.model_version}"] if champion else []
    )
    st.dataframe(pd.DataFrame(rows, index=columns).T, width="stretch")


def verdict(report: GateReport, request: PromotionRequest | None) -> None:
    """The decision's state at a glance: what blocks, what cannot be told yet."""
    failed = [r for r in report.results if r.outcome is GateOutcome.FAIL]
    unclear = [r for r in report.results if r.outcome is GateOutcome.INCONCLUSIVE]
    checked = when(report.checked_at)
    covered = set(request.override_gates) if request else set()
    if not failed:
        st.success(f"All gates pass (checked {checked}).")
    elif {r.gate for r in failed} <= covered and request is not None:
        st.warning(
            f"{len(failed)} failed gate(s) overridden by {request.override_by}, "
            f"{when(request.override_at)}: {', '.join(r.label for r in failed)}. Their rationale:"
        )
        st.text(request.override_rationale or "")
    else:
        st.error(
            f"Approval blocked: {len(failed)} gate(s) fail ({', '.join(r.label for r in failed)}"
            "). An admin may record an override with its rationale; another approver then "
            "decides."
        )
    for r in unclear:
        st.warning(f"{r.label}: cannot tell yet (does not block).")
        st.text(r.detail)


def checklist(report: GateReport) -> None:
    """One line per gate: outcome, the number seen and its threshold, and the detail."""
    st.subheader("Gate checklist")
    st.caption(f"Checked {when(report.checked_at)}; every gate runs again inside the approval.")
    for row in gate_rows.checklist(report):
        badge, what, detail = st.columns([1.1, 2.4, 5.5], vertical_alignment="top")
        badge.markdown(BADGES[row.outcome])
        what.markdown(f"**{row.gate}**")
        what.caption(f"seen {row.observed} · threshold {row.threshold}")
        detail.text(row.detail)


def open_alerts(version: str, alerts: list[Alert]) -> None:
    """The candidate's active alerts, critical first (the open-alerts gate counts these)."""
    st.subheader(f"Open alerts of {version}")
    if not alerts:
        st.caption(f"No alert of {version} is open.")
        return
    critical = sum(a.severity == "critical" for a in alerts)
    st.caption(
        f"{len(alerts)} open, {critical} critical. Critical ones fail the open-alerts gate until "
        "they are resolved or snoozed with a note on the Alerts page."
    )
    frame = pd.DataFrame(
        [
            {"severity": a.severity, "what": a.describe(),
             "window": f"{day(a.window_start)} to {day(a.window_end - dt.timedelta(days=1))}",
             "fired": when(a.fired_at)}
            for a in alerts
        ]
    )  # fmt: skip
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "severity": st.column_config.TextColumn(width="small"),
            "what": st.column_config.TextColumn(width="large"),
        },
    )
