"""Review: a pending promotion beside the champion, its gate checklist, and the decision.

After a decision the page shows that decision (who, when, why) instead of a comparison.
Rationales and inventory text written by people are drawn as text, never as markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import when
from vigil.core.alerts.records import overview_status
from vigil.core.errors import VigilError
from vigil.core.govern import actions, rules, signoff
from vigil.core.govern.decisions import Blocked, Decision
from vigil.core.govern.gates.checks import check_gates
from vigil.core.govern.gates.results import GateReport
from vigil.core.govern.requests import PromotionRequest, RequestState, list_requests
from vigil.core.registry.versions import ModelVersion, Status
from vigil.core.views import review as views
from vigil.core.views.words import action as action_words
from vigil.pages import review_sections as sections
from vigil.pages import review_tabs as tabs

PAGE = PageSpec(title="Review", icon=":material/gavel:", url_path="review")

PENDING = "review_pending_action"  # the action whose confirmation dialog is open
FLASH = "review_flash"  # the last action's outcome, shown once after the rerun
RATIONALE = "review_rationale"
OVERRIDE_RATIONALE = "review_override_rationale"
CLEAR = "review_clear_rationale"
DECIDED = "review_decided"  # (model, version) of the last action here: its decision is shown


@dataclass(frozen=True)
class Action:
    """A button the page may draw: its label, the rule's decision, what confirming does."""

    label: str
    decision: Decision
    pending: dict[str, Any]
    key: str


# --- confirmation dialog -----------------------------------------------------------------


def _close_dialog() -> None:
    st.session_state.pop(PENDING, None)


def _describe(pending: dict[str, Any]) -> str:
    model, version = pending["model"], pending["version"]
    champion = pending.get("champion")
    return {
        "request": f"Request promotion of **{model} {version}**. Gates run now and are "
        "stored with the request; an approver who is not you decides.",
        "approve": f"Approve **{model} {version}** and make it the champion"
        + (f"; **{champion}** will be archived." if champion else "."),
        "reject": f"Reject the promotion of **{model} {version}**.",
        "override": f"Record an override of the failed gates of **{model} {version}**. "
        "Another approver must still approve it.",
        "withdraw": f"Withdraw your promotion request for **{model} {version}**; it goes back "
        "to registered.",
        "rollback": f"Roll **{model}** back from **{champion}** to **{pending.get('target')}**.",
    }[pending["action"]]


DECISIONS: dict[str, Callable[..., actions.Outcome]] = {
    "approve": actions.approve,
    "reject": actions.reject,
    "override": actions.override,
    "withdraw": actions.withdraw,
}


def _perform(ctx: PageContext, pending: dict[str, Any]) -> actions.Outcome:
    model, version, action = pending["model"], pending["version"], pending["action"]
    rationale = st.session_state.get(RATIONALE, "")
    if action == "request":
        return actions.request_promotion(ctx.store, ctx.user, model, version, rationale)[0]
    if action == "rollback":
        return actions.rollback(ctx.store, ctx.user, model, rationale)
    if action == "override":
        rationale = st.session_state.get(OVERRIDE_RATIONALE, "")
    return DECISIONS[action](
        ctx.store,
        ctx.user,
        model,
        version,
        rationale,
        expected_row_version=pending.get("row_version"),
    )


@st.dialog("Please confirm", on_dismiss=_close_dialog)
def _confirm(ctx: PageContext) -> None:
    pending = st.session_state[PENDING]
    st.markdown(_describe(pending))
    if pending["action"] == "override":
        st.text_area("Override rationale", key=OVERRIDE_RATIONALE)
        st.caption("Why the failed gates are acceptable; recorded as its own audit record.")
    else:
        rationale = st.session_state.get(RATIONALE, "").strip()
        if rationale:
            st.caption("Rationale")
            st.text(rationale)
        else:
            st.markdown(":red[No rationale written.]")
    st.caption(f"Recorded in the audit log as {ctx.user.username} ({ctx.user.role}).")
    left, right = st.columns(2)
    confirmed = left.button("Confirm", type="primary", key="review_confirm")
    cancelled = right.button("Cancel", key="review_cancel")
    if cancelled:
        _close_dialog()
        st.rerun()
    if confirmed:
        try:
            outcome = _perform(ctx, pending)
        except VigilError as err:
            st.error(str(err))  # the dialog stays open, Cancel included
            return
        st.session_state[FLASH] = outcome.message
        st.session_state[DECIDED] = (outcome.model_name, outcome.model_version)
        st.session_state[CLEAR] = True
        _close_dialog()
        st.rerun()


def _button(action: Action) -> None:
    """Disabled with the reason when a rule blocks it (hidden ones are never passed here)."""
    decision = action.decision
    clicked = st.button(
        action.label,
        key=action.key,
        disabled=not decision.allowed,
        help=None if decision.allowed or decision.blocked is Blocked.GATES else decision.reason,
        type="primary" if action.label in ("Approve", "Request promotion") else "secondary",
    )
    if decision.blocked is Blocked.GATES:
        st.caption(
            ":material/block: Failed gates block it until an admin records an override with "
            "its rationale (see the verdict and the checklist)."
        )
    elif not decision.allowed:
        st.caption(f":material/block: {decision.reason}")
    if clicked:
        st.session_state[PENDING] = action.pending


# --- what is under review ------------------------------------------------------------------


def _comparison(
    ctx: PageContext,
    model: str,
    candidate: ModelVersion,
    champion: ModelVersion | None,
    request: PromotionRequest | None,
) -> GateReport:
    report = cached(check_gates, ctx.store, model, candidate.model_version)
    if champion is not None and champion.model_version == candidate.model_version:
        champion = None
    champ_label = f"champion {champion.model_version}" if champion else "no champion yet"
    st.subheader(f"Candidate {candidate.model_version} beside {champ_label}")
    sections.verdict(report, request)
    sections.facts(candidate, champion)
    window = cached(views.review_window, ctx.store, model)
    versions = [candidate.model_version] + ([champion.model_version] if champion else [])
    names = ["Live traffic", "Fairness", "Drift", "Validation", "Explanations"]
    live, fair, drift, valid, explain = st.tabs(names)
    with live:
        tabs.live(ctx, model, versions, window, report)
    with fair:
        tabs.fairness(ctx, model, candidate, champion, window, report)
    with drift:
        tabs.drift(report)
    with valid:
        tabs.validation(candidate, champion)
    with explain:
        tabs.explanations(ctx, model, candidate, champion, window)
    alerts = cached(overview_status, ctx.store, model, candidate.model_version)
    sections.open_alerts(candidate.model_version, alerts)
    sections.checklist(report)
    return report


# --- the decision buttons ----------------------------------------------------------------


def _request_actions(
    ctx: PageContext,
    model: str,
    version: str,
    request: PromotionRequest,
    report: GateReport | None,
    base: dict[str, Any],
) -> list[Action]:
    pending = {**base, "version": version, "row_version": request.row_version}
    override = rules.can_override(ctx.store, ctx.user, model, version, report=report)
    found = [
        Action(
            "Approve",
            rules.can_approve(ctx.store, ctx.user, model, version, report=report),
            {**pending, "action": "approve"},
            "review_approve",
        ),
        Action(
            "Reject",
            rules.can_reject(ctx.store, ctx.user, model, version),
            {**pending, "action": "reject"},
            "review_reject",
        ),
        Action(
            "Withdraw",
            rules.can_withdraw(ctx.store, ctx.user, model, version),
            {**pending, "action": "withdraw"},
            "review_withdraw",
        ),
    ]
    if override.allowed or override.blocked is Blocked.FOUR_EYES:
        found.append(
            Action("Override gates", override, {**pending, "action": "override"}, "review_override")
        )
    return found


def _actions(
    ctx: PageContext,
    model: str,
    request: PromotionRequest | None,
    report: GateReport | None,
    champion_name: str | None,
) -> None:
    base = {"model": model, "champion": champion_name}
    found = [] if request is None else _request_actions(
        ctx, model, request.model_version, request, report, base
    )  # fmt: skip
    # the sidebar's version may be put up for promotion while another request is pending
    if ctx.version is not None and ctx.version.status is not Status.PENDING_APPROVAL:
        version = ctx.version.model_version
        decision = rules.can_request_promotion(ctx.store, ctx.user, model, version)
        if decision.allowed or decision.blocked is Blocked.ROLE:
            pending = {**base, "version": version, "action": "request"}
            found.append(Action("Request promotion", decision, pending, "review_request_promotion"))
    if champion_name is not None:
        target = views.next_rollback_target(ctx.store, model)
        pending = {**base, "version": champion_name, "target": target, "action": "rollback"}
        found.append(
            Action("Roll back", rules.can_rollback(ctx.store, ctx.user, model), pending,
                   "review_rollback")
        )  # fmt: skip
    visible = [a for a in found if not (a.decision.blocked and a.decision.blocked.hides)]
    st.subheader("Decision")
    if not visible:
        st.caption(
            f"You are signed in as {ctx.user.username} ({ctx.user.role}): you can see "
            "everything here and change nothing."
        )
        return
    st.text_area(
        "Rationale", key=RATIONALE, placeholder="Why — recorded in the audit log with the evidence."
    )
    for column, action in zip(st.columns(len(visible)), visible, strict=True):
        with column:
            _button(action)


# --- page --------------------------------------------------------------------------------


def _signoff_downloads(ctx: PageContext, model: str) -> None:
    records = views.decisions(ctx.store, model)
    if not records:
        return
    st.subheader("Sign-off reports")
    labels = {
        r["seq"]: f"#{r['seq']} · {action_words(r['action'])} · {r['model_version']} · "
        f"{r['actor']}, {when(r['recorded_at'])}"
        for r in records
    }
    seq = st.selectbox(
        "Decision record", list(labels), format_func=lambda s: labels[s], key="review_signoff_seq"
    )
    st.download_button(
        "Download sign-off report (HTML)",
        data=signoff.build_report(ctx.store, int(seq)),
        file_name=f"signoff-{model}-record-{seq}.html",
        mime="text/html",
        key="review_signoff_download",
    )


def _choose_request(
    ctx: PageContext, model: str, pending: tuple[PromotionRequest, ...]
) -> PromotionRequest | None:
    if not pending:
        return None
    by_version = {r.model_version: r for r in pending}
    options = list(by_version)
    # The sidebar's version if it is pending, else the newest request. Set through session
    # state (not `index=`): when the list of requests changes, the two would disagree and
    # the box would show one request while the page reviews another.
    if st.session_state.get("review_request") not in options:
        sidebar = ctx.version.model_version if ctx.version else None
        st.session_state["review_request"] = sidebar if sidebar in by_version else options[0]
    chosen = st.selectbox(
        "Pending request",
        options,
        key="review_request",
        format_func=lambda v: (
            f"{model} {v} — request #{by_version[v].request_id} by {by_version[v].requested_by}"
        ),
    )
    return by_version[chosen]


def _champion(ctx: PageContext, model: str) -> ModelVersion | None:
    found = [
        v for v in cached(views.model_versions, ctx.store, model) if v.status is Status.PRODUCTION
    ]
    return found[0] if found else None


def _after_decision(ctx: PageContext, model: str, champion: ModelVersion | None) -> None:
    """With nothing pending: the decision just taken here (else the sidebar version's last
    one); a version never put up is shown beside the champion, ready to be requested."""
    decided = st.session_state.get(DECIDED)
    focus = decided[1] if decided and decided[0] == model else None
    if focus is None and ctx.version is not None:
        focus = ctx.version.model_version
    if focus is None:
        return
    last = views.last_decision(ctx.store, model, focus)
    if last is not None:
        sections.decision_card(last)
        return
    version = views.model_version(ctx.store, model, focus)
    if version.status in rules.REQUESTABLE:
        _comparison(ctx, model, version, champion, None)
        return
    sections.history_card(model, version, views.version_records(ctx.store, model, focus)[:5])


def render(ctx: PageContext) -> None:
    if st.session_state.pop(CLEAR, False):
        st.session_state[RATIONALE] = ""
        st.session_state.pop(OVERRIDE_RATIONALE, None)
    st.title("Review and sign-off")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    model = ctx.model_name or ""
    champion = _champion(ctx, model)
    champion_name = champion.model_version if champion else None
    request = _choose_request(ctx, model, list_requests(ctx.store, model, RequestState.PENDING))
    report = None
    if request is not None:
        candidate = views.model_version(ctx.store, model, request.model_version)
        sections.request_header(model, candidate, request)
        report = _comparison(ctx, model, candidate, champion, request)
    else:
        st.info(
            f"No pending promotion request for {model}; the champion is "
            f"{champion_name or 'not set'}."
        )
    if request is None:
        _after_decision(ctx, model, champion)
    _actions(ctx, model, request, report, champion_name)
    if st.session_state.get(PENDING):
        _confirm(ctx)
    _signoff_downloads(ctx, model)
