"""Alerts: the model's rules (editable by analysts and admins) and the alerts they fired."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.app.ui import selection_caption
from vigil.core.alerts import engine as alerts
from vigil.core.alerts.engine import Alert, AlertRule, RuleSpec
from vigil.core.errors import VigilError

PAGE = PageSpec(title="Alerts", icon=":material/notifications:", url_path="alerts")

SEVERITY_BADGE = {
    "critical": ":red-badge[critical]",
    "warning": ":orange-badge[warning]",
    "info": ":gray-badge[info]",
}
NO_RELATIVE = "absolute threshold"
RELATIVE = "offset from the validation value"


def _alerts_table(items: tuple[Alert, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "severity": a.severity,
                "alert": a.describe(),
                "version": a.model_version,
                "metric": a.metric,
                "value": a.value,
                "threshold": a.threshold,
                "window start": a.window_start,
                "window end": a.window_end,
                "rule": a.rule_id,
                "fired at": a.fired_at,
                "resolved at": a.resolved_at,
            }
            for a in items
        ]
    )


def _rules_table(rules: tuple[AlertRule, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rule": r.rule_id,
                "condition": r.describe(),
                "severity": r.severity,
                "enabled": r.enabled,
                "description": r.description or "",
                "created by": r.created_by,
                "updated by": r.updated_by or "",
            }
            for r in rules
        ]
    )


def _active(ctx: PageContext) -> None:
    st.subheader("Active alerts")
    if ctx.user.can("edit_rules") and st.button(
        "Evaluate rules now", key="alerts_evaluate", help="Runs every enabled rule on all windows"
    ):
        report = alerts.evaluate(ctx.store, ctx.model_name)
        st.success(
            f"Evaluated {len(report.summaries)} rule checks: {report.fired} new alert(s), "
            f"{report.resolved} resolved."
        )
    active = alerts.list_alerts(ctx.store, ctx.model_name, active_only=True)
    if not active:
        st.success("No active alerts.")
    else:
        for alert in active[:5]:
            st.markdown(f"{SEVERITY_BADGE.get(alert.severity, alert.severity)} {alert.describe()}")
        if len(active) > 5:
            st.caption(f"… and {len(active) - 5} more in the table.")
        st.dataframe(_alerts_table(active), hide_index=True, width="stretch", key="alerts_active")
    resolved = tuple(a for a in alerts.list_alerts(ctx.store, ctx.model_name) if not a.active)
    if resolved:
        with st.expander(f"Resolved alerts ({len(resolved)})"):
            st.dataframe(_alerts_table(resolved), hide_index=True, width="stretch")


def _spec_form(ctx: PageContext, key: str, rule: AlertRule | None) -> RuleSpec | None:
    """The add / edit form; returns the spec when submitted."""
    metrics = [m.name for m in alerts.available_metrics(ctx.version.task)]
    labels = {m.name: f"{m.label} ({m.name})" for m in alerts.available_metrics()}
    with st.form(key):
        left, middle, right = st.columns(3)
        metric = left.selectbox(
            "Metric",
            metrics,
            index=metrics.index(rule.metric) if rule and rule.metric in metrics else 0,
            format_func=lambda m: labels.get(m, m),
        )
        comparison = middle.selectbox(
            "Comparison",
            list(alerts.COMPARISONS),
            index=list(alerts.COMPARISONS).index(rule.comparison) if rule else 0,
        )
        threshold = right.number_input(
            "Threshold",
            value=float(rule.threshold) if rule else 0.0,
            format="%.4f",
            help="With 'offset from the validation value', e.g. -0.05 means 0.05 below it.",
        )
        left, middle, right = st.columns(3)
        relative = left.radio(
            "Threshold is",
            [NO_RELATIVE, RELATIVE],
            index=1 if rule and rule.relative_to else 0,
        )
        granularity = middle.selectbox(
            "Window",
            ["day", "week", "month"],
            index=["day", "week", "month"].index(rule.granularity) if rule else 1,
        )
        severity = right.selectbox(
            "Severity",
            list(alerts.SEVERITIES),
            index=list(alerts.SEVERITIES).index(rule.severity) if rule else 1,
        )
        min_age = st.number_input(
            "Only windows older than (days)",
            min_value=0,
            value=int(rule.min_age_days) if rule else 0,
            help="For label coverage: labels need time to arrive.",
        )
        description = st.text_input("Description", value=(rule.description or "") if rule else "")
        submitted = st.form_submit_button("Save rule" if rule else "Add rule", type="primary")
    if not submitted:
        return None
    return RuleSpec(
        metric=metric,
        comparison=comparison,
        threshold=float(threshold),
        granularity=granularity,
        severity=severity,
        relative_to="validation" if relative == RELATIVE else None,
        min_age_days=int(min_age),
        description=description.strip() or None,
    )


def _editor(ctx: PageContext, rules: tuple[AlertRule, ...]) -> None:
    add, edit = st.tabs(["Add a rule", "Edit or disable a rule"])
    with add:
        spec = _spec_form(ctx, "alerts_add_form", None)
        if spec is not None:
            try:
                rule = alerts.add_rule(ctx.store, ctx.user, ctx.model_name, spec)
            except VigilError as err:
                st.error(str(err))
            else:
                st.success(f"Added rule {rule.rule_id}: {rule.describe()}.")
                st.rerun()
    with edit:
        if not rules:
            st.caption("No rules yet.")
            return
        by_id = {r.rule_id: r for r in rules}
        chosen = st.selectbox(
            "Rule",
            list(by_id),
            format_func=lambda i: (
                f"#{i} {by_id[i].describe()}" + ("" if by_id[i].enabled else " (disabled)")
            ),
            key="alerts_edit_rule",
        )
        rule = by_id[chosen]
        toggle = "Enable rule" if not rule.enabled else "Disable rule"
        if st.button(toggle, key="alerts_toggle"):
            try:
                alerts.set_rule_enabled(ctx.store, ctx.user, rule.rule_id, not rule.enabled)
            except VigilError as err:
                st.error(str(err))
            else:
                st.rerun()
        spec = _spec_form(ctx, f"alerts_edit_form_{rule.rule_id}", rule)
        if spec is not None:
            changes = {
                name: getattr(spec, name)
                for name in alerts.EDITABLE
                if name != "enabled" and getattr(spec, name) != getattr(rule, name)
            }
            if not changes:
                st.info("Nothing changed.")
                return
            try:
                alerts.update_rule(ctx.store, ctx.user, rule.rule_id, **changes)
            except VigilError as err:
                st.error(str(err))
            else:
                st.rerun()


def render(ctx: PageContext) -> None:
    st.title(f"Alerts · {ctx.model_name}")
    st.caption(selection_caption(ctx))
    _active(ctx)
    st.subheader("Rules")
    rules = alerts.list_rules(ctx.store, ctx.model_name)
    if rules:
        st.dataframe(_rules_table(rules), hide_index=True, width="stretch", key="alerts_rules")
    else:
        st.info("This model has no alert rules yet.")
    st.caption(
        "Rules are evaluated per window on every version with traffic, when logs or labels "
        "arrive, and by `vigil check` (exit code 3 when a rule fails). Performance rules need "
        "at least 50 labels in a window; windows with fewer show no verdict."
    )
    if ctx.user.can("edit_rules"):
        _editor(ctx, rules)
    else:
        st.info(
            f"You are signed in as {ctx.user.role_phrase}: rules are read-only for you. Analysts and "
            "admins can add, edit and disable them; every change is recorded in the audit trail."
        )
