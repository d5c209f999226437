"""Alert rules per model, the metric registry they draw on, their evaluation per window, and
the fired alerts they leave in the `alerts` table.

A rule: metric, comparison, threshold (absolute, or an offset from the version's validation
metric), window granularity, severity, enabled. Analysts and admins edit rules; every edit is
audited in the same transaction. Metrics come from a registry so later engineers can add
theirs (fairness, drift): `register_metric(name, provider)` where provider(store, selection)
returns a float or None; an optional `windowed` provider computes every window at once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import duckdb

from vigil.core.errors import VigilError
from vigil.core.govern import audit
from vigil.core.govern.auth import User, require
from vigil.core.monitor.performance.report import (
    compute_windows,
    performance_report,
    validation_metrics,
)
from vigil.core.monitor.performance.results import (
    BINARY,
    BINARY_METRICS,
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    REGRESSION,
    REGRESSION_METRICS,
)
from vigil.core.monitor.selection import Selection, data_range
from vigil.core.monitor.service import service_report
from vigil.core.monitor.windows import (
    CALENDAR_GRANULARITIES,
    Window,
    calendar_start,
    calendar_windows,
)
from vigil.core.registry.versions import ModelVersion, get_version, list_versions, model_tables
from vigil.core.store.connection import Store

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda value, threshold: value < threshold,
    "<=": lambda value, threshold: value <= threshold,
    ">": lambda value, threshold: value > threshold,
    ">=": lambda value, threshold: value >= threshold,
}
SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
RELATIVE_TO = ("validation",)
EXIT_RULES_FAILED = 3


class AlertRuleError(VigilError):
    """An alert rule is malformed or does not exist."""


# ---------------------------------------------------------------- the metric registry

WindowValue = tuple[float | None, str]  # (value, why it is None or "" when present)
SelectionProvider = Callable[[Store, Selection], float | None]
WindowedProvider = Callable[[Store, Selection, str], dict[dt.datetime, WindowValue]]


@dataclass(frozen=True)
class MetricSpec:
    """A metric rules can watch. `tasks` None: any model task."""

    name: str
    label: str
    unit: str
    higher_is_better: bool
    source: str
    provider: SelectionProvider
    windowed: WindowedProvider | None = None
    tasks: tuple[str, ...] | None = None

    def applies_to(self, task: str) -> bool:
        return self.tasks is None or task in self.tasks


_REGISTRY: dict[str, MetricSpec] = {}


def register_metric(
    name: str,
    provider: SelectionProvider,
    *,
    label: str | None = None,
    unit: str = "",
    higher_is_better: bool = True,
    source: str = "custom",
    windowed: WindowedProvider | None = None,
    tasks: tuple[str, ...] | None = None,
    replace_existing: bool = False,
) -> MetricSpec:
    """Make `name` available to alert rules. provider(store, selection) -> float | None is
    called once per window (selection = that window); give `windowed` to compute all windows
    of a selection in one pass instead."""
    if name in _REGISTRY and not replace_existing:
        raise AlertRuleError(f"A metric named '{name}' is already registered.")
    spec = MetricSpec(
        name=name,
        label=label or name,
        unit=unit,
        higher_is_better=higher_is_better,
        source=source,
        provider=provider,
        windowed=windowed,
        tasks=tasks,
    )
    _REGISTRY[name] = spec
    return spec


def metric_spec(name: str) -> MetricSpec:
    _load_optional_metrics()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise AlertRuleError(
            f"Unknown metric '{name}'; rules can watch: {', '.join(sorted(_REGISTRY))}."
        ) from None


def available_metrics(task: str | None = None) -> tuple[MetricSpec, ...]:
    _load_optional_metrics()
    return tuple(spec for spec in _REGISTRY.values() if task is None or spec.applies_to(task))


# Built-in providers: one performance / service report per (version, granularity) computes
# every window's value; the per-selection forms answer for one range.


def _performance_windows(store: Store, selection: Selection, granularity: str):
    return {
        w.start: w
        for w in performance_report(store, selection, granularity, intervals=False).windows
    }


def _overall_performance(store: Store, selection: Selection):
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        return compute_windows(con, version, selection, None, intervals=False)[0]


def _performance_value(window, metric: str) -> WindowValue:
    if metric == "label_coverage":
        value = window.coverage.value
        return value, "" if value is not None else "no predictions"
    if window.labelled < window.min_labels:
        return None, f"too few labels ({window.labelled} < {window.min_labels})"
    value = window.value(metric)
    return value, "" if value is not None else "not defined for this window"


def _performance_provider(metric: str) -> tuple[SelectionProvider, WindowedProvider]:
    def one(store: Store, selection: Selection) -> float | None:
        return _performance_value(_overall_performance(store, selection), metric)[0]

    def many(
        store: Store, selection: Selection, granularity: str
    ) -> dict[dt.datetime, WindowValue]:
        return {
            start: _performance_value(w, metric)
            for start, w in _performance_windows(store, selection, granularity).items()
        }

    return one, many


SERVICE_FIELDS = {
    "error_rate": ("Error rate", "share", False, lambda w: w.error_rate.value),
    "latency_p50": ("Latency p50", "ms", False, lambda w: w.latency_p50),
    "latency_p95": ("Latency p95", "ms", False, lambda w: w.latency_p95),
    "latency_p99": ("Latency p99", "ms", False, lambda w: w.latency_p99),
    "throughput": ("Throughput", "predictions per hour", True, lambda w: w.per_hour),
    "predictions": ("Predictions", "predictions per window", True, lambda w: w.predictions),
}


def _service_provider(metric: str) -> tuple[SelectionProvider, WindowedProvider]:
    getter = SERVICE_FIELDS[metric][3]

    def one(store: Store, selection: Selection) -> float | None:
        return getter(service_report(store, selection, "day").overall)

    def many(
        store: Store, selection: Selection, granularity: str
    ) -> dict[dt.datetime, WindowValue]:
        out = {}
        for w in service_report(store, selection, granularity).windows:
            value = getter(w) if w.predictions else None
            out[calendar_start(w.start, granularity)] = (
                value,
                "" if value is not None else "no traffic in this window",
            )
        return out

    return one, many


def _register_builtins() -> None:
    for name in (*BINARY_METRICS, *REGRESSION_METRICS):
        one, many = _performance_provider(name)
        task = BINARY if name in BINARY_METRICS else REGRESSION
        register_metric(
            name,
            one,
            label=METRIC_LABELS[name],
            higher_is_better=HIGHER_IS_BETTER[name],
            source="performance",
            windowed=many,
            tasks=(task,),
            replace_existing=True,
        )
    one, many = _performance_provider("label_coverage")
    register_metric(
        "label_coverage",
        one,
        label="Label coverage",
        unit="share",
        source="performance",
        windowed=many,
        tasks=(BINARY, REGRESSION),
        replace_existing=True,
    )
    for name, (label, unit, higher, _) in SERVICE_FIELDS.items():
        one, many = _service_provider(name)
        register_metric(
            name,
            one,
            label=label,
            unit=unit,
            higher_is_better=higher,
            source="service",
            windowed=many,
            replace_existing=True,
        )


_register_builtins()


def _drift_value(window: Any, metric: str) -> WindowValue:
    if metric == "share_drifted_features":
        value = window.dataset.share
        return value, "" if value is not None else window.dataset.status
    scores = [c.score for c in window.prediction if c.score is not None]
    if not scores:
        return None, "no prediction drift verdict"
    return max(scores), ""


def _drift_provider(metric: str) -> tuple[SelectionProvider, WindowedProvider]:
    def report(store: Store, selection: Selection, granularity: str) -> Any:
        from vigil.core.monitor.drift import drift_report

        return drift_report(store, selection, granularity=granularity, multivariate=False)

    def one(store: Store, selection: Selection) -> float | None:
        return _drift_value(report(store, selection, "month").overall, metric)[0]

    def many(
        store: Store, selection: Selection, granularity: str
    ) -> dict[dt.datetime, WindowValue]:
        return {
            calendar_start(w.window.start, granularity): _drift_value(w, metric)
            for w in report(store, selection, granularity).windows
        }

    return one, many


DRIFT_METRICS = {
    "share_drifted_features": ("Share of drifted features", "share"),
    "prediction_drift": ("Prediction drift (score ÷ threshold; > 1 is drift)", "ratio"),
}
_optional_loaded = False


def _load_optional_metrics() -> None:
    """Drift and fairness metrics, registered on first use: those modules are optional here and
    import heavier libraries than alerts needs."""
    global _optional_loaded
    if _optional_loaded:
        return
    _optional_loaded = True
    try:
        import vigil.core.monitor.drift  # noqa: F401
    except ImportError:
        pass
    else:
        for name, (label, unit) in DRIFT_METRICS.items():
            if name not in _REGISTRY:
                one, many = _drift_provider(name)
                register_metric(
                    name,
                    one,
                    label=label,
                    unit=unit,
                    higher_is_better=False,
                    source="drift",
                    windowed=many,
                )
    from vigil.core.monitor import fairness

    for spec in fairness.alert_metrics():
        if spec["name"] not in _REGISTRY:
            register_metric(**spec)


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class AlertRule:
    rule_id: int
    model_name: str
    metric: str
    comparison: str
    threshold: float
    granularity: str
    severity: str
    enabled: bool
    relative_to: str | None = None
    min_age_days: int = 0
    description: str | None = None
    created_by: str = ""
    created_at: dt.datetime | None = None
    updated_by: str | None = None
    updated_at: dt.datetime | None = None

    def describe(self) -> str:
        """E.g. 'roc_auc < validation − 0.05 per week' or 'error_rate > 0.01 per day'."""
        if self.relative_to == "validation":
            sign = "+" if self.threshold >= 0 else "−"
            target = f"validation {sign} {abs(self.threshold):g}"
        else:
            target = f"{self.threshold:g}"
        age = f", windows older than {self.min_age_days} days" if self.min_age_days else ""
        return f"{self.metric} {self.comparison} {target} per {self.granularity}{age}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RuleSpec:
    """A rule before it is stored (no id, no authorship)."""

    metric: str
    comparison: str
    threshold: float
    granularity: str
    severity: str = "warning"
    relative_to: str | None = None
    min_age_days: int = 0
    enabled: bool = True
    description: str | None = None


RULE_COLUMNS = (
    "rule_id",
    "model_name",
    "metric",
    "comparison",
    "threshold",
    "granularity",
    "severity",
    "enabled",
    "relative_to",
    "min_age_days",
    "description",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
)


def _validate(spec: RuleSpec, task: str) -> None:
    metric = metric_spec(spec.metric)
    if not metric.applies_to(task):
        raise AlertRuleError(
            f"Metric '{spec.metric}' does not apply to a {task} model; choose one of: "
            f"{', '.join(m.name for m in available_metrics(task))}."
        )
    if spec.comparison not in COMPARISONS:
        raise AlertRuleError(
            f"Comparison '{spec.comparison}' is not one of {' '.join(COMPARISONS)}."
        )
    if not isinstance(spec.threshold, int | float) or not math.isfinite(spec.threshold):
        raise AlertRuleError(f"The threshold must be a finite number, not {spec.threshold!r}.")
    if spec.granularity not in CALENDAR_GRANULARITIES:
        raise AlertRuleError(
            f"Window granularity '{spec.granularity}' is not one of "
            f"{', '.join(CALENDAR_GRANULARITIES)}."
        )
    if spec.severity not in SEVERITIES:
        raise AlertRuleError(f"Severity '{spec.severity}' is not one of {', '.join(SEVERITIES)}.")
    if spec.relative_to is not None and spec.relative_to not in RELATIVE_TO:
        raise AlertRuleError(
            f"relative_to must be empty (an absolute threshold) or 'validation', not "
            f"'{spec.relative_to}'."
        )
    if spec.min_age_days < 0:
        raise AlertRuleError(f"min_age_days must be 0 or more, not {spec.min_age_days}.")


def _rows_to_rules(cursor: duckdb.DuckDBPyConnection) -> list[AlertRule]:
    return [AlertRule(**dict(zip(RULE_COLUMNS, row, strict=True))) for row in cursor.fetchall()]


def list_rules_con(
    con: duckdb.DuckDBPyConnection, model_name: str, *, enabled_only: bool = False
) -> list[AlertRule]:
    where = "model_name = ?" + (" AND enabled" if enabled_only else "")
    return _rows_to_rules(
        con.execute(
            f"SELECT {', '.join(RULE_COLUMNS)} FROM alert_rules WHERE {where} ORDER BY rule_id",
            [model_name],
        )
    )


def list_rules(store: Store, model_name: str) -> tuple[AlertRule, ...]:
    with store.connect() as con:
        model_tables(con, model_name)
        return tuple(list_rules_con(con, model_name))


def get_rule(con: duckdb.DuckDBPyConnection, rule_id: int) -> AlertRule:
    rules = _rows_to_rules(
        con.execute(
            f"SELECT {', '.join(RULE_COLUMNS)} FROM alert_rules WHERE rule_id = ?", [rule_id]
        )
    )
    if not rules:
        raise AlertRuleError(
            f"Alert rule {rule_id} does not exist; list rules with `vigil rules list`."
        )
    return rules[0]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _insert_rule(
    con: duckdb.DuckDBPyConnection, model_name: str, spec: RuleSpec, user: User
) -> AlertRule:
    _validate(spec, model_tables(con, model_name).task)
    rule_id = con.execute("SELECT nextval('alert_rule_seq')").fetchone()[0]
    rule = AlertRule(
        rule_id=int(rule_id),
        model_name=model_name,
        metric=spec.metric,
        comparison=spec.comparison,
        threshold=float(spec.threshold),
        granularity=spec.granularity,
        severity=spec.severity,
        enabled=spec.enabled,
        relative_to=spec.relative_to,
        min_age_days=int(spec.min_age_days),
        description=spec.description,
        created_by=user.username,
        created_at=_now(),
    )
    values = rule.to_dict()
    con.execute(
        f"INSERT INTO alert_rules ({', '.join(RULE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(RULE_COLUMNS))})",
        [values[c] for c in RULE_COLUMNS],
    )
    audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action="add_alert_rule",
        model_name=model_name,
        rationale=spec.description or f"Added alert rule: {rule.describe()}.",
        evidence={"rule": _evidence(rule)},
    )
    return rule


def _evidence(rule: AlertRule) -> dict[str, Any]:
    return {k: v for k, v in rule.to_dict().items() if k not in ("created_at", "updated_at")}


def add_rule(store: Store, user: User, model_name: str, spec: RuleSpec) -> AlertRule:
    """Store a new rule for the model (analysts and admins), audited in the same transaction."""
    require(user, "edit_rules", f"edit alert rules of {model_name}")
    with store.transaction() as con:
        return _insert_rule(con, model_name, spec, user)


EDITABLE = (
    "metric",
    "comparison",
    "threshold",
    "granularity",
    "severity",
    "relative_to",
    "min_age_days",
    "enabled",
    "description",
)


def update_rule(store: Store, user: User, rule_id: int, **changes: Any) -> AlertRule:
    """Change fields of a rule (see EDITABLE). Disabling a rule resolves its open alerts."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise AlertRuleError(
            f"Cannot change {', '.join(unknown)} of a rule; editable: {', '.join(EDITABLE)}."
        )
    with store.transaction() as con:
        before = get_rule(con, rule_id)
        require(user, "edit_rules", f"edit alert rules of {before.model_name}")
        after = replace(before, **changes, updated_by=user.username, updated_at=_now())
        _validate(
            RuleSpec(**{k: getattr(after, k) for k in EDITABLE}),
            model_tables(con, before.model_name).task,
        )
        sets = ", ".join(f"{c} = ?" for c in (*EDITABLE, "updated_by", "updated_at"))
        con.execute(
            f"UPDATE alert_rules SET {sets} WHERE rule_id = ?",
            [*(getattr(after, c) for c in (*EDITABLE, "updated_by", "updated_at")), rule_id],
        )
        changed = {k: [getattr(before, k), getattr(after, k)] for k in changes}
        if before.enabled and not after.enabled:
            action = "disable_alert_rule"
        elif not before.enabled and after.enabled:
            action = "enable_alert_rule"
        else:
            action = "edit_alert_rule"
        if action == "disable_alert_rule" or set(changes) - {"enabled", "description"}:
            # The old verdicts no longer describe this rule: close them; the next evaluation
            # fires again whatever still fails.
            con.execute(
                "UPDATE alerts SET resolved_at = ? WHERE rule_id = ? AND resolved_at IS NULL",
                [_now(), rule_id],
            )
        audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action=action,
            model_name=before.model_name,
            rationale=f"Rule {rule_id} ({before.describe()}) → {after.describe()}"
            + ("" if after.enabled else " (disabled)"),
            evidence={"rule_id": rule_id, "changes": changed},
        )
        return after


def set_rule_enabled(store: Store, user: User, rule_id: int, enabled: bool) -> AlertRule:
    return update_rule(store, user, rule_id, enabled=enabled)


def default_rules(version: ModelVersion) -> list[RuleSpec]:
    """A sensible starting set for a model, depending on its task and validation metrics."""
    _, validation = validation_metrics(version)
    rules: list[RuleSpec] = []
    if version.task == BINARY:
        for metric, severity in (("roc_auc", "critical"), ("accuracy", "warning")):
            if metric in validation:
                rules.append(
                    RuleSpec(
                        metric,
                        "<",
                        -0.05,
                        "week",
                        severity,
                        relative_to="validation",
                        description=f"{METRIC_LABELS[metric]} more than 0.05 below validation.",
                    )
                )
    elif version.task == REGRESSION and "rmse" in validation:
        rules.append(
            RuleSpec(
                "rmse",
                ">",
                0.1 * validation["rmse"],
                "week",
                "critical",
                relative_to="validation",
                description="RMSE more than 10 % above validation.",
            )
        )
    rules += [
        # 2 %: with a few hundred predictions a day, 1 % is within day-to-day noise.
        RuleSpec("error_rate", ">", 0.02, "day", "warning", description="More than 2 % errors."),
        RuleSpec("latency_p99", ">", 500.0, "day", "warning", description="p99 latency > 500 ms."),
        RuleSpec(
            "label_coverage",
            "<",
            0.5,
            "week",
            "warning",
            min_age_days=35,
            description="Fewer than half the predictions labelled 35 days on.",
        ),
    ]
    return rules


def install_default_rules(
    store: Store, user: User, model_name: str, model_version: str
) -> list[AlertRule]:
    """Add default_rules(version) for the model unless it already has rules; audited."""
    require(user, "edit_rules", f"edit alert rules of {model_name}")
    with store.transaction() as con:
        if list_rules_con(con, model_name):
            return []
        version = get_version(con, model_name, model_version)
        return [_insert_rule(con, model_name, spec, user) for spec in default_rules(version)]


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class RuleResult:
    """One rule on one version's window."""

    rule: AlertRule
    model_version: str
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | None
    threshold: float | None  # effective (after adding the validation value)
    status: str  # "ok" | "fail" | "no data"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule.rule_id,
            "rule": self.rule.describe(),
            "metric": self.rule.metric,
            "comparison": self.rule.comparison,
            "model_version": self.model_version,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "value": self.value,
            "threshold": self.threshold,
            "severity": self.rule.severity,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RuleSummary:
    """One rule on one version over every evaluated window: the verdict `vigil check` prints."""

    rule: AlertRule
    model_version: str
    status: str  # "fail" if any window fails, else "ok" if any window passes, else "no data"
    windows_evaluated: int
    windows_failed: int
    shown: RuleResult | None  # the latest failing window, else the latest evaluated one

    def to_dict(self) -> dict[str, Any]:
        shown = self.shown
        return {
            "rule_id": self.rule.rule_id,
            "rule": self.rule.describe(),
            "metric": self.rule.metric,
            "model_version": self.model_version,
            "severity": self.rule.severity,
            "status": self.status,
            "value": None if shown is None else shown.value,
            "threshold": None if shown is None else shown.threshold,
            "window_start": None if shown is None else shown.window_start,
            "window_end": None if shown is None else shown.window_end,
            "windows_evaluated": self.windows_evaluated,
            "windows_failed": self.windows_failed,
            "detail": "" if shown is None else shown.detail,
        }


@dataclass(frozen=True)
class AlertReport:
    model_name: str
    versions: tuple[str, ...]
    since: dt.datetime | None
    as_of: dt.datetime | None
    results: tuple[RuleResult, ...]
    summaries: tuple[RuleSummary, ...]
    fired: int = 0  # alerts newly opened by this evaluation
    resolved: int = 0
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return any(s.status == "fail" for s in self.summaries)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.status == "fail")


def _versions_to_check(
    con: duckdb.DuckDBPyConnection, model_name: str, version: str | None
) -> list[ModelVersion]:
    if version is not None:
        return [get_version(con, model_name, version)]
    model_tables(con, model_name)
    return [
        v for v in list_versions(con, model_name) if data_range(con, model_name, v.model_version)
    ]


def _evaluate_window(
    rule: AlertRule, value: float | None, note: str, validation: dict[str, float]
) -> tuple[float | None, str, str]:
    """(effective threshold, status, detail)."""
    threshold: float | None = rule.threshold
    if rule.relative_to == "validation":
        base = validation.get(rule.metric)
        if base is None:
            return None, "no data", f"the version declares no validation value for {rule.metric}"
        threshold = base + rule.threshold
    if value is None:
        return threshold, "no data", note or "no value"
    failed = COMPARISONS[rule.comparison](value, threshold)
    return threshold, "fail" if failed else "ok", ""


def evaluate(
    store: Store,
    model_name: str,
    version: str | None = None,
    since: dt.datetime | dt.date | None = None,
    *,
    as_of: dt.datetime | None = None,
    record: bool = True,
) -> AlertReport:
    """Evaluate every enabled rule of the model on every window since `since` (default: all
    traffic) of `version` (default: every version with traffic), and record fired and
    resolved alerts. `as_of` (default: the latest traffic) dates min_age_days."""
    if isinstance(since, dt.date) and not isinstance(since, dt.datetime):
        since = dt.datetime.combine(since, dt.time())
    _load_optional_metrics()
    with store.connect() as con:
        rules = list_rules_con(con, model_name, enabled_only=True)
        versions = _versions_to_check(con, model_name, version)
        ranges = {v.model_version: data_range(con, model_name, v.model_version) for v in versions}
    results: list[RuleResult] = []
    skipped: list[str] = []
    memo: dict[tuple[str, str, str], dict[dt.datetime, WindowValue]] = {}
    latest = max((r[1] for r in ranges.values() if r), default=None)
    as_of = as_of or latest
    for v in versions:
        bounds = ranges[v.model_version]
        if bounds is None:
            skipped.append(f"{v.model_version}: no traffic")
            continue
        start = dt.datetime.combine(bounds[0].date(), dt.time())
        if since is not None:
            start = max(start, since)
        end = dt.datetime.combine(bounds[1].date(), dt.time()) + dt.timedelta(days=1)
        if start >= end:
            skipped.append(f"{v.model_version}: no traffic since {since:%Y-%m-%d}")
            continue
        selection = Selection(model_name, v.model_version, start, end)
        _, validation = validation_metrics(v)
        for rule in rules:
            spec = _REGISTRY.get(rule.metric)
            if spec is None or not spec.applies_to(v.task):
                skipped.append(f"rule {rule.rule_id}: metric {rule.metric} unavailable")
                continue
            with store.connect() as con:
                windows = calendar_windows(con, rule.granularity, start, end)
            if rule.min_age_days and as_of is not None:
                cutoff = as_of - dt.timedelta(days=rule.min_age_days)
                windows = [w for w in windows if w.end <= cutoff]
            values = _window_values(store, spec, selection, rule.granularity, windows, memo)
            for window in windows:
                value, note = values.get(calendar_start(window.start, rule.granularity), (None, ""))
                threshold, status, detail = _evaluate_window(rule, value, note, validation)
                results.append(
                    RuleResult(
                        rule=rule,
                        model_version=v.model_version,
                        window_start=window.start,
                        window_end=window.end,
                        value=value,
                        threshold=threshold,
                        status=status,
                        detail=detail or note,
                    )
                )
    summaries = _summaries(results, rules, versions)
    fired = resolved = 0
    if record:
        fired, resolved = _record(store, model_name, results)
    return AlertReport(
        model_name=model_name,
        versions=tuple(v.model_version for v in versions),
        since=since,
        as_of=as_of,
        results=tuple(results),
        summaries=tuple(summaries),
        fired=fired,
        resolved=resolved,
        skipped=tuple(skipped),
    )


def _window_values(
    store: Store,
    spec: MetricSpec,
    selection: Selection,
    granularity: str,
    windows: list[Window],
    memo: dict[tuple[str, str, str], dict[dt.datetime, WindowValue]],
) -> dict[dt.datetime, WindowValue]:
    if spec.windowed is not None:
        key = (spec.name, selection.model_version, granularity)
        if key not in memo:
            memo[key] = spec.windowed(store, selection, granularity)
        return memo[key]
    out = {}
    for window in windows:
        window_selection = replace(selection, start=window.start, end=window.end)
        value = spec.provider(store, window_selection)
        out[calendar_start(window.start, granularity)] = (
            value,
            "" if value is not None else "no value",
        )
    return out


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
            failed = [r for r in mine if r.status == "fail"]
            evaluated = [r for r in mine if r.status != "no data"]
            status = "fail" if failed else "ok" if evaluated else "no data"
            shown = failed[-1] if failed else evaluated[-1] if evaluated else mine[-1]
            out.append(
                RuleSummary(rule, v.model_version, status, len(evaluated), len(failed), shown)
            )
    return out


def _record(store: Store, model_name: str, results: list[RuleResult]) -> tuple[int, int]:
    """Open an alert for each newly failing window; resolve open ones that now pass."""
    now = _now()
    fired = resolved = 0
    with store.transaction() as con:
        existing = {
            (r[0], r[1], r[2]): (r[3], r[4])
            for r in con.execute(
                "SELECT rule_id, model_version, window_start, alert_id, resolved_at FROM alerts "
                "WHERE model_name = ?",
                [model_name],
            ).fetchall()
        }
        for r in results:
            key = (r.rule.rule_id, r.model_version, r.window_start)
            found = existing.get(key)
            if r.status == "fail":
                if found is None:
                    con.execute(
                        "INSERT INTO alerts VALUES (nextval('alert_seq'), ?, ?, ?, ?, ?, ?, ?, ?, "
                        "?, ?, ?, ?, ?, NULL)",
                        [
                            r.rule.rule_id,
                            model_name,
                            r.model_version,
                            r.rule.metric,
                            r.rule.comparison,
                            r.threshold,
                            r.value,
                            r.rule.granularity,
                            r.window_start,
                            r.window_end,
                            r.rule.severity,
                            now,
                            now,
                        ],
                    )
                    fired += 1
                else:
                    reopened = found[1] is not None
                    con.execute(
                        "UPDATE alerts SET value = ?, threshold = ?, severity = ?, last_seen_at = ?, "
                        "resolved_at = NULL, fired_at = CASE WHEN ? THEN ? ELSE fired_at END "
                        "WHERE alert_id = ?",
                        [r.value, r.threshold, r.rule.severity, now, reopened, now, found[0]],
                    )
                    fired += int(reopened)
            elif r.status == "ok" and found is not None and found[1] is None:
                con.execute(
                    "UPDATE alerts SET resolved_at = ?, last_seen_at = ? WHERE alert_id = ?",
                    [now, now, found[0]],
                )
                resolved += 1
    return fired, resolved


def refresh_after_ingest(store: Store, model_name: str) -> AlertReport:
    """Re-evaluate the model's rules after new logs or labels arrived (call after ingest)."""
    return evaluate(store, model_name)


# ---------------------------------------------------------------- stored alerts


@dataclass(frozen=True)
class Alert:
    alert_id: int
    rule_id: int
    model_name: str
    model_version: str
    metric: str
    comparison: str
    threshold: float
    value: float
    granularity: str
    window_start: dt.datetime
    window_end: dt.datetime
    severity: str
    fired_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.resolved_at is None

    def describe(self) -> str:
        label = _REGISTRY[self.metric].label if self.metric in _REGISTRY else self.metric
        return (
            f"{label} {self.value:.4g} {self.comparison} {self.threshold:.4g} in the "
            f"{self.granularity} from {self.window_start:%Y-%m-%d} ({self.model_name} "
            f"{self.model_version})"
        )


ALERT_COLUMNS = tuple(Alert.__dataclass_fields__)


def list_alerts(
    store: Store, model_name: str, *, active_only: bool = False, limit: int = 500
) -> tuple[Alert, ...]:
    """Stored alerts, most severe and newest window first."""
    where = "model_name = ?" + (" AND resolved_at IS NULL" if active_only else "")
    with store.connect() as con:
        rows = con.execute(
            f"""
            SELECT {", ".join(ALERT_COLUMNS)} FROM alerts WHERE {where}
            ORDER BY resolved_at IS NULL DESC,
                     CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                     window_start DESC, alert_id
            LIMIT ?
            """,
            [model_name, int(limit)],
        ).fetchall()
    return tuple(Alert(*row) for row in rows)


def overview_status(store: Store, model_name: str) -> list[Alert]:
    """Active (unresolved) alerts of the model for the Overview page, most severe first."""
    return list(list_alerts(store, model_name, active_only=True))
