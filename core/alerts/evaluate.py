"""Evaluating a model's rules: every enabled rule on every window of every live version.

A window gets one of three outcomes: OK, FAIL, or NO DATA (too few labels, no traffic, no
validation value to be relative to...). A rule's verdict on a version sums its windows up:
FAIL if any window fails, else OK if any passes, else NO DATA. Versions that are no longer
live (archived, rolled back, rejected) are left out unless asked for: their alerts describe
a past that no pipeline should fail on today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

import duckdb

from vigil.core.alerts import metrics, records
from vigil.core.alerts.rules import VALIDATION, AlertRule, list_rules_con
from vigil.core.monitor.performance.report import validation_metrics
from vigil.core.monitor.selection import Selection, data_range
from vigil.core.monitor.windows import Window, calendar_start, calendar_windows
from vigil.core.registry.versions import ModelVersion, get_version, list_versions, model_tables
from vigil.core.store.connection import Store

RETIRED_STATUSES = frozenset({"archived", "rolled_back", "rejected"})


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "fail"
    NO_DATA = "no data"


@dataclass(frozen=True)
class RuleResult:
    """One rule on one version's window."""

    rule: AlertRule
    model_version: str
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | None
    threshold: float | None  # effective: after adding the validation value
    outcome: Outcome
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class RuleSummary:
    """One rule on one version over every evaluated window: the line `vigil check` prints.
    The value shown is the latest failing window's, else the latest evaluated one's."""

    rule_id: int
    rule: str
    metric: str
    model_version: str
    severity: str
    outcome: Outcome
    value: float | None
    threshold: float | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    windows_evaluated: int
    windows_failed: int
    detail: str


@dataclass(frozen=True)
class AlertReport:
    model_name: str
    versions: tuple[str, ...]
    since: dt.datetime | None
    until: dt.datetime | None
    as_of: dt.datetime | None
    results: tuple[RuleResult, ...]
    summaries: tuple[RuleSummary, ...]
    fired: int = 0  # alerts opened (or reopened) by this evaluation
    resolved: int = 0
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def outcome(self) -> Outcome:
        """FAIL if any rule fails; NO DATA if nothing was judged or a rule could not be;
        OK only when every rule was judged and passed."""
        if any(s.outcome is Outcome.FAIL for s in self.summaries):
            return Outcome.FAIL
        if not self.summaries or any(s.outcome is Outcome.NO_DATA for s in self.summaries):
            return Outcome.NO_DATA
        return Outcome.OK

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.failed)


def _day(moment: dt.datetime | dt.date | None) -> dt.datetime | None:
    if moment is None or isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment, dt.time())


def versions_to_check(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str | None, all_versions: bool
) -> tuple[list[ModelVersion], list[str]]:
    """The named version; else every version with traffic that is still live (or every one
    with traffic when `all_versions`). Also returns why others were left out."""
    if version is not None:
        return [get_version(con, model_name, version)], []
    model_tables(con, model_name)
    chosen, skipped = [], []
    for v in list_versions(con, model_name):
        if not all_versions and v.status in RETIRED_STATUSES:
            skipped.append(f"{v.model_version}: {v.status_label.lower()}, no longer live")
        elif data_range(con, model_name, v.model_version) is None:
            skipped.append(f"{v.model_version}: no traffic")
        else:
            chosen.append(v)
    return chosen, skipped


def _validation_name(rule: AlertRule) -> str:
    """How validation metrics name the rule's metric: per attribute for a scoped fairness rule
    ("demographic_parity_ratio_sex", "…_sex_x_age")."""
    if rule.attribute is None:
        return rule.metric
    return f"{rule.metric}_{rule.attribute.replace(' × ', '_x_')}"


def _judge(
    rule: AlertRule, value: metrics.WindowValue, validation: dict[str, float]
) -> tuple[float | None, Outcome, str]:
    """(effective threshold, outcome, detail) of one window."""
    threshold: float | None = rule.threshold
    if rule.relative_to == VALIDATION:
        name = _validation_name(rule)
        base = validation.get(name)
        if base is None:
            return None, Outcome.NO_DATA, f"the version declares no validation value for {name}"
        threshold = base + rule.threshold
    if value.value is None:
        return threshold, Outcome.NO_DATA, value.note or "no value"
    assert threshold is not None
    failed = rule.comparison.holds(value.value, threshold)
    return threshold, Outcome.FAIL if failed else Outcome.OK, value.note


def _rule_on_version(
    reports: metrics.Reports,
    rule: AlertRule,
    version: ModelVersion,
    selection: Selection,
    windows: list[Window],
) -> list[RuleResult]:
    metric = metrics.BY_NAME[rule.metric]
    series = metric.compute.per_window(reports, selection, rule.granularity, rule.attribute)
    _, validation = validation_metrics(version)
    out = []
    for window in windows:
        value = series.at(calendar_start(window.start, rule.granularity))
        threshold, outcome, detail = _judge(rule, value, validation)
        out.append(
            RuleResult(
                rule, version.model_version, window.start, window.end, value.value, threshold,
                outcome, detail,
            )
        )  # fmt: skip
    return out


def _bounds(
    traffic: tuple[dt.datetime, dt.datetime], since: dt.datetime | None, until: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """Whole UTC days from the first to the last day with traffic, cut to [since, until)."""
    start = dt.datetime.combine(traffic[0].date(), dt.time())
    end = dt.datetime.combine(traffic[1].date(), dt.time()) + dt.timedelta(days=1)
    return max(start, since or start), min(end, until or end)


def evaluate(
    store: Store,
    model_name: str,
    version: str | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    *,
    as_of: dt.datetime | None = None,
    record: bool = True,
    all_versions: bool = False,
) -> AlertReport:
    """Evaluate every enabled rule on every window in [since, until) (default: all traffic)
    of `version` (default: every live version with traffic), and record fired and resolved
    alerts. `as_of` (default: the latest traffic) dates rules' min_age_days."""
    since, until = _day(since), _day(until)
    with store.connect() as con:
        rules = list_rules_con(con, model_name, enabled_only=True)
        versions, skipped = versions_to_check(con, model_name, version, all_versions)
        traffic = {v.model_version: data_range(con, model_name, v.model_version) for v in versions}
    as_of = as_of or max((t[1] for t in traffic.values() if t), default=None)
    reports = metrics.Reports(store)
    results: list[RuleResult] = []
    judged: list[ModelVersion] = []
    for v in versions:
        bounds = traffic[v.model_version]
        if bounds is None:
            skipped.append(f"{v.model_version}: no traffic")
            continue
        start, end = _bounds(bounds, since, until)
        if start >= end:
            skipped.append(f"{v.model_version}: no traffic in the range")
            continue
        judged.append(v)
        selection = Selection(model_name, v.model_version, start, end)
        with store.connect() as con:
            cut = {g: calendar_windows(con, g, start, end) for g in {r.granularity for r in rules}}
        for rule in rules:
            metric = metrics.BY_NAME.get(rule.metric)
            if metric is None or not metric.applies_to(v.task):
                skipped.append(f"rule {rule.rule_id}: {rule.metric} does not apply to {v.task}")
                continue
            windows = cut[rule.granularity]
            if rule.min_age_days and as_of is not None:
                cutoff = as_of - dt.timedelta(days=rule.min_age_days)
                windows = [w for w in windows if w.end <= cutoff]
            results += _rule_on_version(reports, rule, v, selection, windows)
    fired, resolved = records.record(store, model_name, results) if record else (0, 0)
    return AlertReport(
        model_name=model_name,
        versions=tuple(v.model_version for v in judged),
        since=since,
        until=until,
        as_of=as_of,
        results=tuple(results),
        summaries=tuple(_summaries(results, rules, judged)),
        fired=fired,
        resolved=resolved,
        skipped=tuple(skipped),
    )


def _summaries(
    results: list[RuleResult], rules: list[AlertRule], versions: list[ModelVersion]
) -> list[RuleSummary]:
    out = []
    for v in versions:
        for rule in rules:
            mine = [
                r
                for r in results
                if r.rule.rule_id == rule.rule_id and r.model_version == v.model_version
            ]
            if not mine:
                continue
            failed = [r for r in mine if r.failed]
            judged = [r for r in mine if r.outcome is not Outcome.NO_DATA]
            outcome = Outcome.FAIL if failed else Outcome.OK if judged else Outcome.NO_DATA
            shown = failed[-1] if failed else judged[-1] if judged else mine[-1]
            out.append(
                RuleSummary(
                    rule_id=rule.rule_id,
                    rule=rule.describe(),
                    metric=rule.metric,
                    model_version=v.model_version,
                    severity=rule.severity.value,
                    outcome=outcome,
                    value=shown.value,
                    threshold=shown.threshold,
                    window_start=shown.window_start,
                    window_end=shown.window_end,
                    windows_evaluated=len(judged),
                    windows_failed=len(failed),
                    detail=shown.detail,
                )
            )
    return out


def refresh_after_ingest(store: Store, model_name: str) -> AlertReport:
    """Re-evaluate the model's rules after new logs or labels arrived (call after ingest)."""
    return evaluate(store, model_name)
