"""Alert rules: who may edit them, the audit trail, evaluation against the reports' numbers,
fired and resolved alerts, the metric registry, and `vigil check` exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.conftest import DEMO_PASSWORD
from vigil.cli.main import main
from vigil.core.alerts import engine as alerts
from vigil.core.errors import PermissionDenied
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.monitor import service
from vigil.core.monitor.performance.report import performance_report, validation_metrics
from vigil.core.monitor.performance.results import MIN_LABELS
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.monitor.windows import calendar_start
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store


@pytest.fixture
def demo_copy(demo_copy: Store) -> Store:
    """The demo without its default rules and alerts, so each test sets the rules it needs."""
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM alerts")
        con.execute("DELETE FROM alert_rules")
    return demo_copy


DANA, ADAM, VIC, RITA = (
    User("dana", "analyst"),
    User("adam", "admin"),
    User("vic", "viewer"),
    User("rita", "approver"),
)
AS_OF = dt.datetime(2026, 11, 23, 23, 0)


@pytest.fixture
def with_defaults(demo_copy: Store) -> Store:
    alerts.install_default_rules(demo_copy, DANA, "credit-risk", "1.0")
    return demo_copy


def _audit_actions(store: Store) -> list[tuple[str, str]]:
    with store.connect() as con:
        return [(r["action"], r["actor"]) for r in audit.read_records(con)]


def test_migration_creates_the_tables(store: Store) -> None:
    with store.connect() as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert {"alert_rules", "alerts"} <= tables


@pytest.mark.parametrize("user", [VIC, RITA])
def test_only_analysts_and_admins_edit_rules(demo_copy: Store, user: User) -> None:
    spec = alerts.RuleSpec("error_rate", ">", 0.05, "day")
    before = alerts.list_rules(demo_copy, "credit-risk")  # the demo's default rules
    with pytest.raises(PermissionDenied) as err:
        alerts.add_rule(demo_copy, user, "credit-risk", spec)
    assert str(err.value) == (
        f"{user.username} is {dict(viewer='a viewer', approver='an approver')[user.role]} and "
        "cannot edit alert rules of credit-risk; it needs "
        "one of: analyst, admin."
    )
    rule = alerts.add_rule(demo_copy, ADAM, "credit-risk", spec)
    with pytest.raises(PermissionDenied):
        alerts.set_rule_enabled(demo_copy, user, rule.rule_id, False)
    assert alerts.list_rules(demo_copy, "credit-risk") == (*before, rule)


def test_default_rules_and_every_edit_are_audited(with_defaults: Store) -> None:
    rules = alerts.list_rules(with_defaults, "credit-risk")
    assert [r.describe() for r in rules] == [
        "roc_auc < validation − 0.05 per week",
        "accuracy < validation − 0.05 per week",
        "error_rate > 0.02 per day",
        "latency_p99 > 500 per day",
        "label_coverage < 0.5 per week, windows older than 35 days",
    ]
    assert all(r.created_by == "dana" and r.enabled for r in rules)
    assert alerts.install_default_rules(with_defaults, DANA, "credit-risk", "1.0") == []
    edited = alerts.update_rule(with_defaults, ADAM, rules[2].rule_id, threshold=0.03)
    assert edited.threshold == 0.03 and edited.updated_by == "adam"
    alerts.set_rule_enabled(with_defaults, DANA, rules[3].rule_id, False)
    actions = _audit_actions(with_defaults)
    assert actions[-7:] == [
        *[("add_alert_rule", "dana")] * 5,
        ("edit_alert_rule", "adam"),
        ("disable_alert_rule", "dana"),
    ]
    with with_defaults.connect() as con:
        assert audit.verify(con).valid
        last = audit.read_records(con)[-2]
    assert json.loads(last["evidence"]) == {
        "changes": {"threshold": [0.02, 0.03]},
        "rule_id": rules[2].rule_id,
    }
    assert alerts.list_rules(with_defaults, "credit-risk")[3].enabled is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            alerts.RuleSpec("rmse", ">", 1.0, "week"),
            "Metric 'rmse' does not apply to a binary_classification model; choose one of: ",
        ),
        (
            alerts.RuleSpec("roc_auc", "=", 0.7, "week"),
            "Comparison '=' is not one of < <= > >=.",
        ),
        (
            alerts.RuleSpec("roc_auc", "<", float("nan"), "week"),
            "The threshold must be a finite number, not nan.",
        ),
        (
            alerts.RuleSpec("roc_auc", "<", 0.7, "hour"),
            "Window granularity 'hour' is not one of day, week, month.",
        ),
        (
            alerts.RuleSpec("roc_auc", "<", 0.7, "week", "urgent"),
            "Severity 'urgent' is not one of info, warning, critical.",
        ),
        (
            alerts.RuleSpec("nonsense", "<", 0.7, "week"),
            "Unknown metric 'nonsense'; rules can watch: ",
        ),
    ],
)
def test_malformed_rules_are_refused(demo_copy: Store, spec, message: str) -> None:
    with pytest.raises(alerts.AlertRuleError) as err:
        alerts.add_rule(demo_copy, DANA, "credit-risk", spec)
    assert str(err.value).startswith(message)
    assert alerts.list_rules(demo_copy, "credit-risk") == ()


def test_unknown_rule_id(demo_copy: Store) -> None:
    with pytest.raises(alerts.AlertRuleError) as err:
        alerts.set_rule_enabled(demo_copy, DANA, 99, False)
    assert str(err.value) == "Alert rule 99 does not exist; list rules with `vigil rules list`."


def test_evaluation_uses_the_reports_numbers(with_defaults: Store) -> None:
    report = alerts.evaluate(with_defaults, "credit-risk", "1.0", as_of=AS_OF)
    selection = Selection("credit-risk", "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))
    weekly = {w.start: w for w in performance_report(with_defaults, selection).windows}
    daily = {w.start: w for w in service.service_report(with_defaults, selection, "day").windows}
    with with_defaults.connect() as con:
        _, validation = validation_metrics(get_version(con, "credit-risk", "1.0"))
    by_metric: dict[str, list[alerts.RuleResult]] = {}
    for r in report.results:
        by_metric.setdefault(r.rule.metric, []).append(r)
    for r in by_metric["accuracy"]:
        week = weekly[calendar_start(r.window_start, "week")]
        assert r.threshold == pytest.approx(validation["accuracy"] - 0.05)
        if week.labelled < MIN_LABELS:
            assert r.status == "no data" and r.detail.startswith("too few labels")
        else:
            assert r.value == week.value("accuracy")
            assert r.status == ("fail" if r.value < r.threshold else "ok")
    failing = [r.window_start for r in by_metric["accuracy"] if r.status == "fail"]
    assert dt.datetime(2026, 10, 12) in failing and min(failing) >= dt.datetime(2026, 9, 28)
    for r in by_metric["latency_p99"]:
        assert r.value == daily[r.window_start].latency_p99
    coverage_windows = [r.window_end for r in by_metric["label_coverage"]]
    assert max(coverage_windows) <= AS_OF - dt.timedelta(days=35)
    assert all(r.status == "ok" for r in by_metric["label_coverage"])
    summary = {s.rule.metric: s for s in report.summaries}
    assert summary["accuracy"].status == "fail"
    assert summary["label_coverage"].status == "ok"
    assert report.failed
    assert report.fired == len(report.failures) > 0


def test_alerts_are_stored_once_and_resolved(with_defaults: Store) -> None:
    first = alerts.evaluate(with_defaults, "credit-risk", as_of=AS_OF)
    active = alerts.overview_status(with_defaults, "credit-risk")
    assert len(active) == first.fired == len(first.failures)
    assert active[0].severity in ("critical", "warning")
    again = alerts.evaluate(with_defaults, "credit-risk", as_of=AS_OF)
    assert again.fired == 0 and again.resolved == 0
    assert len(alerts.overview_status(with_defaults, "credit-risk")) == len(active)
    accuracy_rule = next(
        r for r in alerts.list_rules(with_defaults, "credit-risk") if r.metric == "accuracy"
    )
    alerts.update_rule(with_defaults, DANA, accuracy_rule.rule_id, threshold=-0.2)
    remaining = alerts.overview_status(with_defaults, "credit-risk")
    assert not any(a.metric == "accuracy" for a in remaining)
    later = alerts.evaluate(with_defaults, "credit-risk", as_of=AS_OF)
    assert later.fired == 0
    stored = alerts.list_alerts(with_defaults, "credit-risk")
    assert any(a.metric == "accuracy" and not a.active for a in stored)
    message = next(a for a in remaining if a.metric == "latency_p99").describe()
    assert message.startswith("Latency p99 ") and "in the day from 2026-09-" in message


def test_a_registered_metric_provider_is_evaluated_per_window(demo_copy: Store) -> None:
    calls: list[Selection] = []

    def selection_rate_gap(store: Store, selection: Selection) -> float | None:
        calls.append(selection)
        return 0.2 if selection.start >= dt.datetime(2026, 11, 1) else 0.05

    alerts.register_metric(
        "test_parity_gap", selection_rate_gap, label="Parity gap", source="fairness",
        higher_is_better=False, replace_existing=True,
    )  # fmt: skip
    try:
        alerts.add_rule(
            demo_copy, DANA, "credit-risk", alerts.RuleSpec("test_parity_gap", ">", 0.1, "month")
        )
        report = alerts.evaluate(demo_copy, "credit-risk", "1.0")
    finally:
        alerts._REGISTRY.pop("test_parity_gap")
    assert [(c.start, c.end) for c in calls] == [
        (dt.datetime(2026, 8, 26), dt.datetime(2026, 9, 1)),
        (dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1)),
        (dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1)),
        (dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 24)),
    ]
    assert [r.status for r in report.results] == ["ok", "ok", "ok", "fail"]


def test_since_limits_the_windows(with_defaults: Store) -> None:
    report = alerts.evaluate(
        with_defaults, "credit-risk", "1.0", dt.date(2026, 11, 10), record=False
    )
    assert min(r.window_start for r in report.results) == dt.datetime(2026, 11, 10)
    assert alerts.list_alerts(with_defaults, "credit-risk") == ()


# ---------------------------------------------------------------- the command line


def test_check_exits_3_when_a_rule_fails(
    with_defaults: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--model", "credit-risk", "--version", "1.0", "--json"]) == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload["failed"] is True
    rows = {row["rule"]: row for row in payload["rules"]}
    accuracy = rows["accuracy < validation − 0.05 per week"]
    assert accuracy["status"] == "fail" and accuracy["severity"] == "warning"
    assert accuracy["value"] < accuracy["threshold"]
    assert set(accuracy) >= {
        "value",
        "threshold",
        "window_start",
        "window_end",
        "severity",
        "status",
    }


def test_check_exits_0_when_every_rule_passes(
    demo_copy: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts.add_rule(
        demo_copy, DANA, "credit-risk", alerts.RuleSpec("latency_p50", ">", 100.0, "week")
    )
    assert main(["check", "--model", "credit-risk"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("OK      warning  v1.0   latency_p50 > 100 per week")
    assert out.splitlines()[-1] == "PASSED: 0 of 2 rule checks failing; 0 new alert(s), 0 resolved."


def test_check_of_an_unknown_model_exits_1(demo_copy: Store, capsys) -> None:
    assert main(["check", "--model", "nope"]) == 1
    assert capsys.readouterr().err.startswith("error: Model 'nope' is not registered")


def test_rules_commands(
    demo_copy: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", DEMO_PASSWORD)
    add = ["rules", "add", "--model", "credit-risk", "--metric", "error_rate", "--comparison",
           ">", "--threshold", "0.02", "--granularity", "day", "--severity", "critical"]  # fmt: skip
    assert main([*add, "--user", "vic"]) == 1
    assert capsys.readouterr().err == (
        "error: vic is a viewer and cannot edit alert rules of credit-risk; it needs one of: "
        "analyst, admin.\n"
    )
    assert main([*add, "--user", "dana"]) == 0
    added = re.fullmatch(
        r"Added #(\d+)   critical error_rate > 0\.02 per day\n", capsys.readouterr().out
    )
    assert added is not None
    rule_id = added.group(1)
    assert main(["rules", "edit", rule_id, "--threshold", "0.03", "--user", "adam"]) == 0
    assert main(["rules", "disable", rule_id, "--user", "dana"]) == 0
    capsys.readouterr()
    assert main(["rules", "list", "--model", "credit-risk", "--json"]) == 0
    (rule,) = json.loads(capsys.readouterr().out)
    assert (rule["threshold"], rule["enabled"], rule["updated_by"]) == (0.03, False, "dana")
    assert main(["rules", "defaults", "--model", "credit-risk", "--user", "dana"]) == 0
    assert capsys.readouterr().out == "credit-risk already has rules; nothing added.\n"


def test_performance_and_service_commands(demo_store: Store, capsys, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    args = ["--model", "credit-risk", "--start", "2026-09-01", "--end", "2026-09-30"]
    assert main(["performance", *args, "--granularity", "month", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    selection = Selection("credit-risk", "1.0", dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1))
    report = performance_report(demo_store, selection, "month")
    assert payload["overall"]["metrics"]["roc_auc"]["value"] == report.overall.value("roc_auc")
    assert payload["overall"]["labelled"] == report.overall.labelled
    assert main(["service", *args, "--segment", "purpose=car", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    car = Selection("credit-risk", "1.0", selection.start, selection.end, Segment("purpose", "car"))
    segment_report = service.service_report(demo_store, car, "week")
    assert payload["overall"]["predictions"] == segment_report.overall.predictions
    assert payload["overall"]["latency_p99_ms"] == segment_report.overall.latency_p99


def test_drift_metrics_come_from_core_drift(demo_copy: Store) -> None:
    drift = pytest.importorskip("vigil.core.monitor.drift")
    alerts.add_rule(
        demo_copy, DANA, "credit-risk", alerts.RuleSpec("share_drifted_features", ">", 0.1, "week")
    )
    report = alerts.evaluate(demo_copy, "credit-risk", "1.0", dt.date(2026, 10, 5), record=False)
    selection = Selection("credit-risk", "1.0", dt.datetime(2026, 10, 5), dt.datetime(2026, 11, 24))
    expected = {
        w.window.start: w.dataset.share
        for w in drift.drift_report(
            demo_copy, selection, granularity="week", multivariate=False
        ).windows
    }
    assert {r.window_start: r.value for r in report.results} == expected
    failing = [r.window_start for r in report.results if r.status == "fail"]
    assert failing and min(failing) >= dt.datetime(2026, 10, 19)  # data drift from 2026-10-25


def test_refresh_after_ingest_evaluates_every_version(with_defaults: Store) -> None:
    report = alerts.refresh_after_ingest(with_defaults, "credit-risk")
    assert report.versions == ("1.0", "1.1")
    assert report.fired == len(alerts.overview_status(with_defaults, "credit-risk")) > 0
    assert alerts.refresh_after_ingest(with_defaults, "credit-risk").fired == 0
