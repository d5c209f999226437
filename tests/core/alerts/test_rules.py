"""Alert rules: who may edit them, the rationale every edit needs, the audit trail, what is
refused, the default set, and the migration of the old per-attribute metric names."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.core.alerts.conftest import ADAM, DANA, RITA, VIC, WHY
from vigil.core.alerts import rules
from vigil.core.alerts.rules import Comparison, RuleSpec, Severity
from vigil.core.errors import AlertError, PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User
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
    installed = rules.install_default_rules(bare, DANA, MODEL, "1.0")
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
    assert rules.install_default_rules(bare, DANA, MODEL, "1.0") == []
    edited = rules.update_rule(
        bare, ADAM, installed[2].rule_id, {"threshold": 0.03}, rationale="Noise at 2 %."
    )
    assert edited.threshold == 0.03 and edited.updated_by == "adam"
    rules.set_rule_enabled(bare, DANA, installed[3].rule_id, False, rationale="Known slow week.")
    assert _actions(bare)[-10:] == [
        *[("add_alert_rule", "dana", "Default alert rules for a newly monitored model.")] * 8,
        ("edit_alert_rule", "adam", "Noise at 2 %."),
        ("disable_alert_rule", "dana", "Known slow week."),
    ]
    with bare.connect() as con:
        assert audit.verify(con).valid
        record = audit.read_records(con)[-2]
    evidence = record["evidence"]
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    assert evidence["changes"] == {"threshold": [0.02, 0.03]}
    assert evidence["before"] == "error_rate > 0.02 per day"
    assert evidence["after"] == "error_rate > 0.03 per day"


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
