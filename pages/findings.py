"""Findings: the register of validation and monitoring findings, opening one, updating its
plan, and closing it with evidence and a second person. Open high findings block promotion."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.errors import VigilError
from vigil.core.evidence import finding_actions as actions
from vigil.core.evidence import findings
from vigil.core.evidence.common import CONTRIBUTOR_ROLES, RISK_ROLES
from vigil.core.evidence.findings import Finding, FindingSource, FindingStatus, Severity
from vigil.core.evidence.inventory import entries

PAGE = PageSpec(title="Findings", icon=":material/report:", url_path="findings", needs_model=False)
FLASH = "findings_flash"
ALL = "All models"
SHOW: dict[str, Callable[[Finding], bool]] = {
    "Open": lambda f: f.is_open,
    "Closed": lambda f: not f.is_open,
    "All": lambda f: True,
}


def _table(items: list[Finding], today: dt.date) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "finding": f.finding_id,
                "model": f.model_name,
                "version": f.model_version or "",
                "severity": f.severity.value,
                "status": f.status.label,
                "blocks promotion": "yes" if f.blocks_promotion else "",
                "title": f.title,
                "owner": f.owner,
                "due": f.due_date,
                "overdue": "yes" if f.overdue(today) else "",
                "source": f.source.value,
                "opened": f"{f.opened_at:%Y-%m-%d} by {f.opened_by}",
                "closed": f"{f.closed_at:%Y-%m-%d} by {f.closed_by}" if f.closed_at else "",
            }
            for f in items
        ]
    )


def _act(action: Callable[[], Finding], message: str) -> None:
    try:
        action()
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = message
    st.rerun()


def _open_form(ctx: PageContext, models: list[str]) -> None:
    with st.form("findings_open", clear_on_submit=False):
        left, middle, right = st.columns(3)
        model = left.selectbox("Model", models, key="findings_new_model")
        severity = middle.selectbox(
            "Severity", [s.value for s in Severity], key="findings_new_severity"
        )
        source = right.selectbox(
            "Found by", [s.value for s in FindingSource], key="findings_new_source"
        )
        title = st.text_input("Title", key="findings_new_title")
        description = st.text_area("What was found", key="findings_new_description")
        left, right = st.columns(2)
        owner = left.text_input("Owner of the remediation", key="findings_new_owner")
        due = right.date_input("Due date", dt.date.today() + dt.timedelta(days=90))
        plan = st.text_area("Remediation plan", key="findings_new_plan")
        if st.form_submit_button("Open finding", type="primary"):
            _act(
                lambda: actions.open_finding(
                    ctx.store,
                    ctx.user,
                    model,
                    title=title,
                    description=description,
                    severity=severity,
                    source=source,
                    owner=owner,
                    remediation_plan=plan,
                    due_date=due,
                ),
                "Finding opened.",
            )


def _details(finding: Finding) -> None:
    st.text(f"#{finding.finding_id} {finding.title}")
    st.dataframe(
        pd.DataFrame(
            {
                "field": [
                    "What was found",
                    "Remediation plan",
                    "Closure evidence",
                    "Closure proposed by",
                    "Closure confirmed by",
                    "Closure rationale",
                ],
                "value": [
                    finding.description,
                    finding.remediation_plan,
                    finding.closure_evidence or "",
                    finding.closure_proposed_by or "",
                    finding.closed_by or "",
                    finding.closure_rationale or "",
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        key="findings_detail",
    )


def _actions(ctx: PageContext, f: Finding) -> None:
    if not f.is_open or ctx.user.role not in CONTRIBUTOR_ROLES:
        return
    rv = f.row_version
    with st.form("findings_update"):
        plan = st.text_area("Remediation plan", f.remediation_plan)
        left, middle, right = st.columns(3)
        owner = left.text_input("Owner", f.owner)
        due = middle.date_input("Due date", f.due_date)
        levels = [s.value for s in Severity]
        severity = right.selectbox("Severity", levels, index=levels.index(f.severity.value))
        why = st.text_input("Rationale for the change", key="findings_update_why")
        if st.form_submit_button("Update finding"):
            new = {"remediation_plan": plan, "owner": owner, "due_date": due, "severity": severity}
            changes = {k: v for k, v in new.items() if v != getattr(f, k)}
            _act(
                lambda: actions.update_finding(
                    ctx.store, ctx.user, f.finding_id, changes, why, expected_row_version=rv
                ),
                "Finding updated.",
            )
    if f.status is FindingStatus.OPEN:
        with st.form("findings_propose"):
            evidence = st.text_area(
                "Evidence of the remediation (at least 20 characters)", key="findings_evidence"
            )
            if st.form_submit_button("Propose closure"):
                _act(
                    lambda: actions.propose_closure(
                        ctx.store, ctx.user, f.finding_id, evidence, expected_row_version=rv
                    ),
                    "Closure proposed: a second person confirms it.",
                )
        return
    decision = actions.can_close(ctx.user, f)
    if not decision.allowed:
        st.info(decision.reason)
        return
    with st.form("findings_close"):
        why = st.text_input("Your rationale", key="findings_close_why")
        left, right = st.columns(2)
        if left.form_submit_button("Confirm closure", type="primary"):
            _act(
                lambda: actions.close_finding(
                    ctx.store, ctx.user, f.finding_id, why, expected_row_version=rv
                ),
                "Finding closed.",
            )
        if ctx.user.role in RISK_ROLES and right.form_submit_button("Reject closure"):
            _act(
                lambda: actions.reject_closure(
                    ctx.store, ctx.user, f.finding_id, why, expected_row_version=rv
                ),
                "Closure rejected.",
            )


def render(ctx: PageContext) -> None:
    st.title("Findings")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    models = [e.model_name for e in entries(ctx.store)]
    if not models:
        st.info("No model is registered yet. Register one with `vigil register`.")
        return
    today = dt.datetime.now(dt.UTC).date()
    left, right = st.columns(2)
    model = left.selectbox("Model", [ALL, *models], key="findings_model")
    show = right.radio("Show", list(SHOW), horizontal=True, key="findings_show")
    every = findings.list_findings(ctx.store, None if model == ALL else model)
    items = [f for f in every if SHOW[show](f)]
    blocking = [f for f in every if f.blocks_promotion]
    left, middle, right = st.columns(3)
    left.metric("Open findings", sum(f.is_open for f in every))
    middle.metric("Open high (block promotion)", len(blocking))
    right.metric("Overdue", sum(f.overdue(today) for f in every))
    if items:
        st.dataframe(_table(items, today), hide_index=True, width="stretch", key="findings_table")
        chosen = st.selectbox(
            "Finding",
            [f.finding_id for f in items],
            key="findings_pick",
            format_func=lambda i: f"#{i}",
        )
        finding = next(f for f in items if f.finding_id == chosen)
        _details(finding)
        _actions(ctx, finding)
    else:
        st.caption("No finding matches.")
    if ctx.user.role in CONTRIBUTOR_ROLES:
        with st.expander("Open a finding"):
            _open_form(ctx, models)
