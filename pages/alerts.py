"""Alerts: the alerts of the sidebar's version in its range, what people did about them, and
the model's rules (analysts and admins edit both; every change is audited with a note)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import day, selection_caption, when
from vigil.core.alerts import evaluate, metrics, records, rules
from vigil.core.alerts.records import Alert, AlertState
from vigil.core.alerts.rules import AlertRule, Comparison, RuleSpec, Severity
from vigil.core.errors import VigilError

PAGE = PageSpec(title="Alerts", icon=":material/notifications:", url_path="alerts")

FLASH = "alerts_flash"  # a message that survives the rerun after an action
NO_RELATIVE = "absolute threshold"
RELATIVE = "offset from the validation value"
ACTIONS = ("Acknowledge", "Snooze", "Resolve")
GRANULARITIES = ["day", "week", "month"]
TEXT = st.column_config.TextColumn


def _state(alert: Alert) -> str:
    state = alert.state()
    if state is AlertState.ACKNOWLEDGED:
        return f"acknowledged by {alert.acknowledged_by}"
    if state is AlertState.SNOOZED:
        return f"snoozed until {when(alert.snoozed_until)}"
    if state is AlertState.RESOLVED:
        return f"resolved by {alert.resolved_by}" if alert.resolved_by else "resolved: passes now"
    return "open"


def _alerts_table(items: tuple[Alert, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "alert": a.alert_id,
                "severity": a.severity,
                "state": _state(a),
                "what": a.describe(),
                "window": f"{day(a.window_start)} – {day(a.window_end - dt.timedelta(days=1))}",
                "value": a.value,
                "threshold": a.threshold,
                "fired": when(a.fired_at),
                "note": a.note or "",
            }
            for a in items
        ]
    )


ALERT_COLUMNS = {
    "alert": st.column_config.NumberColumn("alert", format="#%d", width="small"),
    "severity": TEXT("severity", width="small"),
    "state": TEXT("state", width="medium"),
    "what": TEXT("what", width="large"),
    "window": TEXT("window", width="medium"),
    "value": st.column_config.NumberColumn("value", format="%.4g", width="small"),
    "threshold": st.column_config.NumberColumn("threshold", format="%.4g", width="small"),
    "fired": TEXT("fired", width="medium"),
    "note": TEXT("note", width="large"),
}


def _in_range(ctx: PageContext) -> tuple[Alert, ...]:
    """The sidebar version's alerts whose window overlaps the sidebar's range."""
    assert ctx.model_name is not None and ctx.version is not None
    sel = ctx.selection
    return records.list_alerts(
        ctx.store, ctx.model_name, version=ctx.version.model_version,
        start=None if sel is None else sel.start, end=None if sel is None else sel.end,
    )  # fmt: skip


def _evaluate_button(ctx: PageContext) -> None:
    assert ctx.model_name is not None and ctx.version is not None
    help_text = "Runs every enabled rule on this version's windows in the selected range."
    if not st.button("Evaluate rules now", key="alerts_evaluate", help=help_text):
        return
    sel = ctx.selection
    report = evaluate.evaluate(
        ctx.store, ctx.model_name, ctx.version.model_version,
        None if sel is None else sel.start, None if sel is None else sel.end,
    )  # fmt: skip
    st.success(
        f"Evaluated {len(report.summaries)} rule checks: {report.fired} new alert(s), "
        f"{report.resolved} resolved."
    )


def _alerts(ctx: PageContext) -> tuple[Alert, ...]:
    """The version's alerts in the range, by state; returns the unresolved ones."""
    assert ctx.version is not None
    st.subheader(f"Alerts of version {ctx.version.model_version} in this range")
    if ctx.user.can("edit_rules"):
        _evaluate_button(ctx)
    found = _in_range(ctx)
    active = tuple(a for a in found if a.state().active)
    snoozed = tuple(a for a in found if a.state() is AlertState.SNOOZED)
    resolved = tuple(a for a in found if a.state() is AlertState.RESOLVED)
    if not active:
        st.success("No active alert in this range.")
    else:
        critical = sum(a.severity == Severity.CRITICAL for a in active)
        st.markdown(
            f"**{len(active)} active alert(s)**"
            + (f", :red-badge[{critical} critical]" if critical else "")
        )
        st.dataframe(
            _alerts_table(active), hide_index=True, width="stretch", key="alerts_active",
            column_config=ALERT_COLUMNS,
        )  # fmt: skip
    for title, items, key in (
        ("Snoozed", snoozed, "alerts_snoozed"),
        ("Resolved", resolved, "alerts_resolved"),
    ):
        if items:
            with st.expander(f"{title} ({len(items)})"):
                st.dataframe(
                    _alerts_table(items), hide_index=True, width="stretch", key=key,
                    column_config=ALERT_COLUMNS,
                )  # fmt: skip
    return (*active, *snoozed)


def _act(ctx: PageContext, alert_id: int, action: str, until: dt.datetime, note: str) -> Alert:
    if action == "Acknowledge":
        return records.acknowledge(ctx.store, ctx.user, alert_id, note=note)
    if action == "Snooze":
        return records.snooze(ctx.store, ctx.user, alert_id, until=until, note=note)
    return records.resolve(ctx.store, ctx.user, alert_id, note=note)


def _handle(ctx: PageContext, unresolved: tuple[Alert, ...]) -> None:
    """Acknowledge, snooze or resolve one alert, with a note for the audit trail."""
    if not unresolved:
        return
    by_id = {a.alert_id: a for a in unresolved}
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = today + dt.timedelta(days=1)
    with st.form("alerts_handle"):
        st.markdown("**Handle an alert**")
        chosen = st.selectbox(
            "Alert", list(by_id), format_func=lambda i: f"#{i} {by_id[i].describe()}"
        )
        action = st.radio("Action", ACTIONS, horizontal=True, key="alerts_action")
        left, right = st.columns(2)
        until_day = left.date_input("Snooze until (UTC)", value=tomorrow, min_value=today)
        until_time = right.time_input("at (UTC)", value=dt.time(9, 0))
        note = st.text_area("Note (kept in the audit trail)", key="alerts_note")
        submitted = st.form_submit_button("Apply", type="primary")
    if not submitted or chosen is None:
        return
    until = dt.datetime.combine(until_day, until_time)
    try:
        alert = _act(ctx, chosen, action, until, note)
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = f"Alert #{alert.alert_id} is now {_state(alert)}."
    st.rerun()


def _rules_table(found: tuple[AlertRule, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rule": r.rule_id,
                "condition": r.describe(),
                "severity": r.severity.value,
                "enabled": r.enabled,
                "description": r.description or "",
                "created by": r.created_by,
                "updated by": r.updated_by or "",
            }
            for r in found
        ]
    )


RULE_COLUMNS = {
    "condition": TEXT("condition", width="large"),
    "description": TEXT("description", width="large"),
}


def _spec_form(ctx: PageContext, key: str, rule: AlertRule | None) -> tuple[RuleSpec, str] | None:
    """The add / edit form; returns the spec and the rationale when submitted."""
    assert ctx.version is not None and ctx.model_name is not None
    names = [m.name for m in metrics.available(ctx.version.task)]
    labels = {m.name: f"{m.label} ({m.name})" for m in metrics.METRICS}
    every = rules.EVERY_ATTRIBUTE
    attributes = [every, *rules.sensitive_attributes(ctx.store, ctx.model_name)]
    comparisons, severities = list(Comparison), list(Severity)
    with st.form(key):
        left, middle, right = st.columns(3)
        metric = left.selectbox(
            "Metric", names, format_func=lambda m: labels.get(m, m),
            index=names.index(rule.metric) if rule and rule.metric in names else 0,
        )  # fmt: skip
        comparison = middle.selectbox(
            "Comparison", comparisons, index=comparisons.index(rule.comparison) if rule else 0
        )
        threshold = right.number_input(
            "Threshold", value=float(rule.threshold) if rule else 0.0, format="%.4f",
            help="With 'offset from the validation value', e.g. -0.05 means 0.05 below it.",
        )  # fmt: skip
        left, middle, right = st.columns(3)
        relative = left.radio(
            "Threshold is", [NO_RELATIVE, RELATIVE], index=1 if rule and rule.relative_to else 0
        )
        granularity = middle.selectbox(
            "Window", GRANULARITIES, index=GRANULARITIES.index(rule.granularity) if rule else 1
        )
        severity = right.selectbox(
            "Severity", severities, index=severities.index(rule.severity) if rule else 1
        )
        left, right = st.columns(2)
        attribute = left.selectbox(
            "Sensitive attribute (fairness metrics)", attributes,
            index=attributes.index(rule.attribute) if rule and rule.attribute in attributes else 0,
            help="Every attribute: the worst of them counts, and the alert names it.",
        )  # fmt: skip
        min_age = right.number_input(
            "Only windows older than (days)", min_value=0,
            value=int(rule.min_age_days) if rule else 0,
            help="For label coverage: labels need time to arrive.",
        )  # fmt: skip
        description = st.text_input("Description", value=(rule.description or "") if rule else "")
        rationale = st.text_area("Why this rule (kept in the audit trail)", key=f"{key}_why")
        submitted = st.form_submit_button("Save rule" if rule else "Add rule", type="primary")
    if not submitted:
        return None
    spec = RuleSpec(
        metric=metric, comparison=Comparison(comparison), threshold=float(threshold),
        granularity=granularity, severity=Severity(severity),
        relative_to="validation" if relative == RELATIVE else None, min_age_days=int(min_age),
        attribute=None if attribute == every else attribute,
        description=description.strip() or None,
    )  # fmt: skip
    return spec, rationale


def _add(ctx: PageContext) -> None:
    assert ctx.model_name is not None
    submitted = _spec_form(ctx, "alerts_add_form", None)
    if submitted is None:
        return
    spec, rationale = submitted
    try:
        rule = rules.add_rule(ctx.store, ctx.user, ctx.model_name, spec, rationale=rationale)
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = f"Added rule {rule.rule_id}: {rule.describe()}."
    st.rerun()


def _toggle(ctx: PageContext, rule: AlertRule) -> None:
    with st.form(f"alerts_toggle_form_{rule.rule_id}"):
        why = st.text_input("Why (kept in the audit trail)", key="alerts_toggle_why")
        label = "Enable rule" if not rule.enabled else "Disable rule"
        if not st.form_submit_button(label, key="alerts_toggle"):
            return
    try:
        rules.set_rule_enabled(ctx.store, ctx.user, rule.rule_id, not rule.enabled, rationale=why)
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = (
        f"Rule {rule.rule_id} {'enabled' if not rule.enabled else 'disabled'}."
    )
    st.rerun()


def _edit(ctx: PageContext, found: tuple[AlertRule, ...]) -> None:
    if not found:
        st.caption("No rules yet.")
        return
    by_id = {r.rule_id: r for r in found}
    chosen = st.selectbox(
        "Rule", list(by_id), key="alerts_edit_rule",
        format_func=lambda i: f"#{i} {by_id[i].describe()}" + ("" if by_id[i].enabled else " (disabled)"),
    )  # fmt: skip
    rule = by_id[chosen]
    _toggle(ctx, rule)
    submitted = _spec_form(ctx, f"alerts_edit_form_{rule.rule_id}", rule)
    if submitted is None:
        return
    spec, rationale = submitted
    changes = {
        name: getattr(spec, name)
        for name in rules.EDITABLE
        if name != "enabled" and getattr(spec, name) != getattr(rule, name)
    }
    threshold = spec.threshold if spec.threshold != rule.threshold else None
    if not changes and threshold is None:
        st.info("Nothing changed.")
        return
    said = [f"Rule {rule.rule_id} saved."]
    try:
        if changes:
            rules.update_rule(ctx.store, ctx.user, rule.rule_id, changes, rationale=rationale)
        if threshold is not None:  # policy: loosening waits for a second admin
            outcome = rules.set_threshold(
                ctx.store, ctx.user, rule.rule_id, threshold, rationale=rationale
            )
            said.append(outcome.message)
    except VigilError as err:
        st.error(str(err))
        return
    st.session_state[FLASH] = " ".join(said)
    st.rerun()


def _pending(ctx: PageContext, found: tuple[AlertRule, ...]) -> None:
    """Threshold changes that loosen a rule wait for a second admin (Policy, or the CLI)."""
    assert ctx.model_name is not None
    waiting = rules.pending_thresholds(ctx.store, ctx.model_name)
    if not waiting:
        return
    in_force = {str(r.rule_id): r.threshold for r in found}
    st.markdown(f"**{len(waiting)} threshold change(s) wait for a second admin**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "change": c.change_id,
                    "rule": int(c.key.name),
                    "threshold now": in_force.get(c.key.name),
                    "asked for": c.new,
                    "by": c.proposed_by,
                    "when": when(c.proposed_at),
                    "why": c.rationale,
                }
                for c in waiting
            ]
        ),
        hide_index=True, width="stretch", column_config={"why": TEXT("why", width="large")},
    )  # fmt: skip
    st.caption(
        "An admin other than the one who asked confirms or rejects it on the Registry page, or "
        "with `vigil policy confirm N`."
    )


def _rules(ctx: PageContext) -> None:
    assert ctx.model_name is not None
    st.subheader("Rules")
    found = rules.list_rules(ctx.store, ctx.model_name)
    if found:
        st.dataframe(
            _rules_table(found), hide_index=True, width="stretch", key="alerts_rules",
            column_config=RULE_COLUMNS,
        )  # fmt: skip
    else:
        st.info("This model has no alert rules yet.")
    _pending(ctx, found)
    st.caption(
        "Rules are evaluated per window on every live version with traffic, when logs or "
        "labels arrive, and by `vigil check` (exit code 3 when a rule fails, 4 when it has no "
        "data). Performance rules need at least 50 labels in a window; windows with fewer "
        "have no verdict. Rules watch every row of a version, whatever the sidebar's segment."
    )
    if not ctx.user.can("edit_rules"):
        st.info(
            f"You are signed in as {ctx.user.role_phrase}: rules and alerts are read-only for "
            "you. Analysts and admins can change them; every change is recorded in the audit "
            "trail."
        )
        return
    add, edit = st.tabs(["Add a rule", "Edit or disable a rule"])
    with add:
        _add(ctx)
    with edit:
        _edit(ctx, found)


def render(ctx: PageContext) -> None:
    st.title(f"Alerts · {ctx.model_name}")
    st.caption(selection_caption(ctx))
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    if ctx.selection is None:
        st.info("This version has no logged traffic yet: its rules have nothing to watch.")
    unresolved = _alerts(ctx)
    if ctx.user.can("edit_rules"):
        _handle(ctx, unresolved)
    _rules(ctx)
