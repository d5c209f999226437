"""Evaluation: each window's verdict against the reports' numbers, no-data windows, the range,
min_age_days, and which versions are checked (live ones, unless asked)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.core.alerts.conftest import DANA, WHY
from vigil.core.alerts import defaults, evaluate, rules
from vigil.core.alerts.evaluate import Outcome
from vigil.core.alerts.rules import Comparison, RuleSpec
from vigil.core.monitor.performance.report import performance_report, validation_metrics
from vigil.core.monitor.performance.results import MIN_LABELS
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.service import service_report
from vigil.core.monitor.windows import calendar_start
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store

MODEL = "credit-risk"
AS_OF = dt.datetime(2026, 11, 23, 23, 0)


def _add(store: Store, spec: RuleSpec) -> rules.AlertRule:
    return rules.add_rule(store, DANA, MODEL, spec, rationale=WHY)


def test_each_window_is_judged_on_the_reports_numbers(bare: Store) -> None:
    defaults.install_default_rules(bare, DANA, MODEL, "1.0")
    report = evaluate.evaluate(bare, MODEL, "1.0", as_of=AS_OF, record=False)
    selection = Selection(MODEL, "1.0", dt.datetime(2026, 8, 26), dt.datetime(2026, 11, 24))
    weekly = {w.start: w for w in performance_report(bare, selection, intervals=False).windows}
    daily = {w.start: w for w in service_report(bare, selection, "day").windows}
    with bare.connect() as con:
        _, validation = validation_metrics(get_version(con, MODEL, "1.0"))
    by_metric: dict[str, list[evaluate.RuleResult]] = {}
    for r in report.results:
        by_metric.setdefault(r.rule.metric, []).append(r)
    for r in by_metric["accuracy"]:
        week = weekly[calendar_start(r.window_start, "week")]
        assert r.threshold == pytest.approx(validation["accuracy"] - 0.05)
        if week.labelled < MIN_LABELS:
            assert r.outcome is Outcome.NO_DATA and r.detail.startswith("too few labels")
        else:
            assert r.value == week.value("accuracy")
            assert r.outcome is (Outcome.FAIL if r.value < r.threshold else Outcome.OK)
    failing = [r.window_start for r in by_metric["accuracy"] if r.failed]
    assert dt.datetime(2026, 10, 12) in failing and min(failing) >= dt.datetime(2026, 9, 28)
    for r in by_metric["latency_p99"]:
        assert r.value == daily[r.window_start].latency_p99
    assert max(r.window_end for r in by_metric["label_coverage"]) <= AS_OF - dt.timedelta(days=35)
    summary = {s.metric: s for s in report.summaries}
    assert summary["accuracy"].outcome is Outcome.FAIL
    assert summary["accuracy"].windows_failed == len(failing)
    assert summary["label_coverage"].outcome is Outcome.OK
    assert summary["demographic_parity_ratio"].detail.startswith("worst: ")
    assert report.outcome is Outcome.FAIL


def test_since_and_until_cut_the_windows(bare: Store) -> None:
    _add(bare, RuleSpec("error_rate", Comparison.ABOVE, 0.5, "day"))
    report = evaluate.evaluate(
        bare, MODEL, "1.0", dt.date(2026, 11, 10), dt.date(2026, 11, 13), record=False
    )
    assert [r.window_start for r in report.results] == [
        dt.datetime(2026, 11, 10),
        dt.datetime(2026, 11, 11),
        dt.datetime(2026, 11, 12),
    ]
    assert report.outcome is Outcome.OK


def test_a_rule_with_nothing_to_judge_is_no_data(bare: Store) -> None:
    """Labels arrive weeks later: the last days have too few to judge accuracy."""
    _add(bare, RuleSpec("accuracy", Comparison.BELOW, 0.0, "day"))
    report = evaluate.evaluate(
        bare, MODEL, "1.0", dt.date(2026, 11, 22), dt.date(2026, 11, 24), record=False
    )
    assert [r.outcome for r in report.results] == [Outcome.NO_DATA, Outcome.NO_DATA]
    (summary,) = report.summaries
    assert summary.outcome is Outcome.NO_DATA and summary.windows_evaluated == 0
    assert report.outcome is Outcome.NO_DATA and not report.failed


def test_no_rule_at_all_is_no_data(bare: Store) -> None:
    report = evaluate.evaluate(bare, MODEL, record=False)
    assert report.summaries == () and report.outcome is Outcome.NO_DATA


def test_versions_no_longer_live_are_left_out_unless_asked(bare: Store) -> None:
    _add(bare, RuleSpec("error_rate", Comparison.ABOVE, 0.5, "week"))
    assert evaluate.evaluate(bare, MODEL, record=False).versions == ("1.0", "1.1")
    with bare.transaction() as con:
        con.execute("UPDATE model_versions SET status = 'rejected' WHERE model_version = '1.1'")
    live = evaluate.evaluate(bare, MODEL, record=False)
    assert live.versions == ("1.0",)
    assert live.skipped == ("1.1: rejected, no longer live",)
    assert evaluate.evaluate(bare, MODEL, record=False, all_versions=True).versions == (
        "1.0",
        "1.1",
    )
    assert evaluate.evaluate(bare, MODEL, "1.1", record=False).versions == ("1.1",)


def test_a_relative_rule_without_a_validation_value_has_no_data(bare: Store) -> None:
    _add(bare, RuleSpec("ece", Comparison.ABOVE, 0.1, "month", relative_to="validation"))
    report = evaluate.evaluate(bare, MODEL, "1.0", record=False)
    with bare.connect() as con:
        _, validation = validation_metrics(get_version(con, MODEL, "1.0"))
    assert "ece" not in validation
    assert {r.outcome for r in report.results} == {Outcome.NO_DATA}
    assert report.results[0].detail == "the version declares no validation value for ece"


def test_a_scoped_fairness_rule_is_relative_to_that_attributes_validation_value(
    bare: Store,
) -> None:
    spec = RuleSpec(
        "demographic_parity_ratio", Comparison.BELOW, -0.1, "month", relative_to="validation",
        attribute="sex",
    )  # fmt: skip
    _add(bare, spec)
    report = evaluate.evaluate(bare, MODEL, "1.0", record=False)
    with bare.connect() as con:
        _, validation = validation_metrics(get_version(con, MODEL, "1.0"))
    expected = validation["demographic_parity_ratio_sex"] - 0.1
    assert [r.threshold for r in report.results] == [pytest.approx(expected)] * 4
    assert {r.outcome for r in report.results} <= {Outcome.OK, Outcome.FAIL}


def test_a_rule_on_a_missing_attribute_says_so(bare: Store) -> None:
    with bare.transaction() as con:  # a rule stored before the version lost the attribute
        con.execute(
            "INSERT INTO alert_rules (rule_id, model_name, metric, comparison, threshold, "
            "granularity, severity, enabled, attribute, created_by, created_at) VALUES "
            "(nextval('alert_rule_seq'), ?, 'demographic_parity_ratio', '<', 0.8, 'month', "
            "'warning', TRUE, 'housing', 'dana', now())",
            [MODEL],
        )
    report = evaluate.evaluate(bare, MODEL, "1.0", record=False)
    assert {r.outcome for r in report.results} == {Outcome.NO_DATA}
    assert report.results[0].detail.startswith("1.0 has no sensitive attribute 'housing'")
