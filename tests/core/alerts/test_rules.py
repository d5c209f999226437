"""Alert rules: who may edit them, the rationale every edit needs, the audit trail, what is
refused, the default set, and the migration of the old per-attribute metric names."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.core.alerts.conftest import ADAM, DANA, RITA, VIC, WHY
from vigil.core.alerts import defaults, evaluate, rules
from vigil.core.alerts.rules import Comparison, RuleSpec, Severity
from vigil.core.errors import AlertError, PermissionDenied, VigilError
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.govern.policy import changes as policy
from vigil.core.store.connection import Store
from vigil.core.store.schema import m003_alerts, m009_alert_actions

MODEL = "credit-risk"


def _actions(store: Store) -> list[tuple[str, str, str]]:
    with store.connect() as con:
        return [(r["action"], r["actor"], r["rationale"]) for r in audit.read_records(con)]


@pytest.mark.parametrize("user", [VIC, RITA])
def test_only_analysts_and_admins_edit_rules(bare: Store, user: User) -> None:
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.05, "day")
    with pytest.raises(PermissionDenied) as err:
        rules.add_rule(bare, user, MODEL, spec, rationale=WHY)
    assert str(err.value) == (
        f"{user.username} is {dict(viewer='a viewer', approver='an approver')[user.role]} and "
        "cannot edit alert rules of credit-risk; it needs one of: analyst, admin."
    )
    rule = rules.add_rule(bare, ADAM, MODEL, spec, rationale=WHY)
    with pytest.raises(PermissionDenied):
        rules.set_rule_enabled(bare, user, rule.rule_id, False, rationale=WHY)
    assert rules.list_rules(bare, MODEL) == (rule,)


@pytest.mark.parametrize("rationale", ["", "   "])
def test_every_edit_needs_a_rationale(bare: Store, rationale: str) -> None:
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.05, "day")
    with pytest.raises(AlertError) as err:
        rules.add_rule(bare, DANA, MODEL, spec, rationale=rationale)
    assert str(err.value).startswith("Say why (a rationale)")
    rule = rules.add_rule(bare, DANA, MODEL, spec, rationale=WHY)
    with pytest.raises(AlertError):
        rules.update_rule(bare, DANA, rule.rule_id, {"threshold": 0.5}, rationale=rationale)
    with pytest.raises(AlertError):
        rules.set_rule_enabled(bare, DANA, rule.rule_id, False, rationale=rationale)
    assert rules.list_rules(bare, MODEL) == (rule,)


def test_default_rules_and_every_edit_are_audited(bare: Store) -> None:
    installed = defaults.install_default_rules(bare, DANA, MODEL, "1.0")
    assert [r.describe() for r in rules.list_rules(bare, MODEL)] == [
        "roc_auc < validation − 0.05 per week",
        "accuracy < validation − 0.05 per week",
        "error_rate > 0.02 per day",
        "latency_p99 > 500 per day",
        "label_coverage < 0.5 per week, windows older than 35 days",
        "drifted_features > 0 per week",
        "prediction_drift > 1 per week",
        "demographic_parity_ratio < 0.8 on every sensitive attribute and intersection per week",
    ]
    assert [r.severity for r in installed][-1] is Severity.CRITICAL
    assert defaults.install_default_rules(bare, DANA, MODEL, "1.0") == []
    edited = rules.update_rule(
        bare, ADAM, installed[2].rule_id, {"granularity": "week"}, rationale="Days are noisy."
    )
    assert edited.granularity == "week" and edited.updated_by == "adam"
    rules.set_rule_enabled(bare, DANA, installed[3].rule_id, False, rationale="Known slow week.")
    assert _actions(bare)[-10:] == [
        *[("add_alert_rule", "dana", "Default alert rules for a newly monitored model.")] * 8,
        ("edit_alert_rule", "adam", "Days are noisy."),
        ("disable_alert_rule", "dana", "Known slow week."),
    ]
    with bare.connect() as con:
        assert audit.verify(con).valid
        record = audit.read_records(con)[-2]
    evidence = record["evidence"]
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    assert evidence["changes"] == {"granularity": ["day", "week"]}
    assert evidence["before"] == "error_rate > 0.02 per day"
    assert evidence["after"] == "error_rate > 0.02 per week"


def _error_rule(store: Store) -> rules.AlertRule:
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.02, "day")
    return rules.add_rule(store, DANA, MODEL, spec, rationale=WHY)


def test_a_threshold_that_tightens_applies_at_once(bare: Store) -> None:
    rule = _error_rule(bare)
    outcome = rules.set_threshold(bare, DANA, rule.rule_id, 0.01, rationale="Errors cost money.")
    assert outcome.message == (
        f"The threshold of alert rule {rule.rule_id} of credit-risk is now 0.01 (was 0.02)."
    )
    assert rules.list_rules(bare, MODEL)[0].threshold == 0.01
    assert _actions(bare)[-1] == ("set_alert_threshold", "dana", "Errors cost money.")
    report = evaluate.evaluate(bare, MODEL, "1.0", record=False)
    assert {r.threshold for r in report.results} == {0.01}


def test_a_threshold_that_loosens_waits_for_a_second_admin(bare: Store) -> None:
    rule = _error_rule(bare)
    outcome = rules.set_threshold(bare, DANA, rule.rule_id, 0.05, rationale="Too many alerts.")
    assert "loosens the policy: it waits for a second admin" in outcome.message
    assert rules.list_rules(bare, MODEL)[0].threshold == 0.02  # nothing changed yet
    (waiting,) = rules.pending_thresholds(bare, MODEL)
    assert (waiting.key.name, waiting.new, waiting.proposed_by) == (str(rule.rule_id), 0.05, "dana")
    with pytest.raises(PermissionDenied):  # an analyst cannot confirm
        policy.confirm(bare, DANA, waiting.change_id, "Fine by me.")
    policy.confirm(bare, ADAM, waiting.change_id, "Reviewed the error budget.")
    assert rules.list_rules(bare, MODEL)[0].threshold == 0.05
    assert rules.pending_thresholds(bare, MODEL) == ()
    assert _actions(bare)[-2:] == [
        ("propose_alert_threshold", "dana", "Too many alerts."),
        ("set_alert_threshold", "adam", "Reviewed the error budget."),
    ]


def test_an_admin_cannot_confirm_their_own_loosening(bare: Store) -> None:
    rule = _error_rule(bare)
    rules.set_threshold(bare, ADAM, rule.rule_id, 0.05, rationale="Too many alerts.")
    (waiting,) = rules.pending_thresholds(bare, MODEL)
    with pytest.raises(VigilError) as err:
        policy.confirm(bare, ADAM, waiting.change_id, "Mine.")
    assert str(err.value).startswith("Four-eyes: you (adam) proposed policy change")
    assert rules.list_rules(bare, MODEL)[0].threshold == 0.02


def test_a_threshold_is_not_an_ordinary_edit(bare: Store) -> None:
    rule = _error_rule(bare)
    with pytest.raises(AlertError) as err:
        rules.update_rule(bare, ADAM, rule.rule_id, {"threshold": 0.5}, rationale=WHY)
    assert str(err.value).startswith("A rule's threshold is policy: change it with set_threshold")


def test_a_stale_session_changes_nothing(bare: Store) -> None:
    with bare.transaction() as con:
        con.execute("UPDATE users SET role = 'viewer' WHERE username = 'dana'")
    spec = RuleSpec("error_rate", Comparison.ABOVE, 0.05, "day")
    with pytest.raises(PermissionDenied) as err:
        rules.add_rule(bare, DANA, MODEL, spec, rationale=WHY)
    assert str(err.value) == (
        "The role of dana changed from analyst to viewer since signing in. Nothing was changed."
    )
    assert rules.list_rules(bare, MODEL) == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            RuleSpec("rmse", Comparison.ABOVE, 1.0, "week"),
            "Metric 'rmse' does not apply to a binary_classification model; choose one of: ",
        ),
        (RuleSpec("roc_auc", "=", 0.7, "week"), "Comparison '=' is not one of < <= > >=."),  # type: ignore[arg-type]
        (
            RuleSpec("roc_auc", Comparison.BELOW, float("nan"), "week"),
            "The threshold must be a finite number, not nan.",
        ),
        (
            RuleSpec("roc_auc", Comparison.BELOW, 0.7, "hour"),
            "Window granularity 'hour' is not one of day, week, month.",
        ),
        (
            RuleSpec("roc_auc", Comparison.BELOW, 0.7, "week", "urgent"),  # type: ignore[arg-type]
            "Severity 'urgent' is not one of info, warning, critical.",
        ),
        (
            RuleSpec("nonsense", Comparison.BELOW, 0.7, "week"),
            "Unknown metric 'nonsense'; rules can watch: ",
        ),
        (
            RuleSpec("roc_auc", Comparison.BELOW, 0.7, "week", attribute="sex"),
            "Metric 'roc_auc' is not measured per sensitive attribute; leave the attribute empty.",
        ),
        (
            RuleSpec("demographic_parity_ratio", Comparison.BELOW, 0.8, "week", attribute="job"),
            "'job' is not a sensitive attribute of credit-risk; choose one of: sex, age, sex × age.",
        ),
        (
            RuleSpec("error_rate", Comparison.ABOVE, 0.1, "day", min_age_days=-1),
            "min_age_days must be 0 or more, not -1.",
        ),
    ],
)
def test_malformed_rules_are_refused(bare: Store, spec: RuleSpec, message: str) -> None:
    before = _actions(bare)
    with pytest.raises(AlertError) as err:
        rules.add_rule(bare, DANA, MODEL, spec, rationale=WHY)
    assert str(err.value).startswith(message)
    assert rules.list_rules(bare, MODEL) == ()
    assert _actions(bare) == before


def test_an_attribute_is_stored_by_its_report_name(bare: Store) -> None:
    spec = RuleSpec(
        "demographic_parity_ratio", Comparison.BELOW, 0.8, "week", attribute="sex_x_age"
    )
    rule = rules.add_rule(bare, DANA, MODEL, spec, rationale=WHY)
    assert rule.attribute == "sex × age"
    assert rule.describe() == "demographic_parity_ratio < 0.8 on sex × age per week"
    assert rules.list_rules(bare, MODEL)[0].attribute == "sex × age"


def test_an_edit_cannot_touch_authorship(bare: Store) -> None:
    rule = rules.add_rule(
        bare, DANA, MODEL, RuleSpec("error_rate", Comparison.ABOVE, 0.1, "day"), rationale=WHY
    )
    with pytest.raises(AlertError) as err:
        rules.update_rule(bare, ADAM, rule.rule_id, {"created_by": "adam"}, rationale=WHY)
    assert str(err.value).startswith("Cannot change created_by of a rule; editable: metric,")


def test_unknown_rule_id(bare: Store) -> None:
    with pytest.raises(AlertError) as err:
        rules.set_rule_enabled(bare, DANA, 99, False, rationale=WHY)
    assert str(err.value) == "Alert rule 99 does not exist; list rules with `vigil rules list`."


def test_migration_9_scopes_old_per_attribute_metric_names() -> None:
    con = duckdb.connect()
    con.execute(m003_alerts.SQL)
    for metric in (
        "demographic_parity_ratio_sex_x_age",
        "equalized_odds_difference_age",
        "roc_auc",
    ):
        con.execute(
            "INSERT INTO alert_rules (rule_id, model_name, metric, comparison, threshold, "
            "granularity, severity, created_by, created_at) VALUES "
            "(nextval('alert_rule_seq'), 'm', ?, '<', 0.8, 'week', 'warning', 'x', now())",
            [metric],
        )
    con.execute(m009_alert_actions.SQL)
    assert con.execute("SELECT metric, attribute FROM alert_rules ORDER BY rule_id").fetchall() == [
        ("demographic_parity_ratio", "sex × age"),
        ("equalized_odds_difference", "age"),
        ("roc_auc", None),
    ]
