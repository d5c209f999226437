"""Words for what the store keeps as identifiers: audit actions, gate outcomes, statuses.

Pages, reports and the CLI's text output say "Promotion requested", not `request_promotion`.
An action with no entry here is still shown in words (underscores become spaces), never as
its identifier.
"""

from __future__ import annotations

from vigil.core.registry.versions import Status

ACTIONS: dict[str, str] = {
    "register": "Version registered",
    "request_promotion": "Promotion requested",
    "withdraw": "Request withdrawn",
    "approve": "Promotion approved",
    "reject": "Promotion rejected",
    "override_gates": "Failed gates overridden",
    "promote": "Put live as champion",
    "archive": "Taken out of service (archived)",
    "rollback": "Rolled back",
    "restore": "Put back live as champion",
    "import_deployment": "Deployment history imported",
    "audit_key_introduced": "Audit key introduced",
    "user_add": "User added",
    "user_role": "User role changed",
    "user_disable": "User disabled",
    "user_enable": "User enabled",
    "user_password_reset": "Password reset",
    "add_alert_rule": "Alert rule added",
    "edit_alert_rule": "Alert rule changed",
    "enable_alert_rule": "Alert rule enabled",
    "disable_alert_rule": "Alert rule disabled",
    "acknowledge_alert": "Alert acknowledged",
    "snooze_alert": "Alert snoozed",
    "resolve_alert": "Alert resolved",
    "set_gate_threshold": "Gate threshold set",
    "propose_gate_threshold": "Gate threshold change proposed",
    "set_drift_threshold": "Drift threshold set",
    "reset_drift_threshold": "Drift threshold reset to default",
    "propose_drift_threshold": "Drift threshold change proposed",
    "set_alert_threshold": "Alert threshold set",
    "reset_alert_threshold": "Alert threshold reset to default",
    "propose_alert_threshold": "Alert threshold change proposed",
    "reject_policy_change": "Threshold change rejected",
    "api_key_create": "API key created",
    "api_key_revoke": "API key revoked",
    "route_request": "Challenger route requested",
    "route_approve": "Challenger route approved",
    "route_refuse": "Challenger route refused",
    "route_start": "Challenger route started",
    "route_end": "Challenger route ended",
    "update_inventory": "Inventory entry updated",
    "set_review_cadence": "Review cadence set",
    "set_log_retention": "Log retention set",
    "purge_logs": "Raw logs purged",
    "propose_finding_closure": "Finding closure proposed",
}


def action(name: str | None) -> str:
    """'request_promotion' -> 'Promotion requested'; unknown ones in words all the same."""
    if not name:
        return "–"
    return ACTIONS.get(name) or name.replace("_", " ").capitalize()


def status(value: str | None) -> str:
    """A stored status in words ('Pending approval'); '–' for none."""
    if not value:
        return "–"
    try:
        return Status(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()
