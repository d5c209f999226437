"""Every metric an alert rule can watch, in one explicit table, and how each is computed.

A row says what the metric measures (label, unit), which way is worse, which monitor it
comes from and which tasks it applies to. Its values come from that monitor's own report,
so a rule sees the numbers the pages and the CLI show. One evaluation asks `Reports` for a
report once per (selection, granularity), however many rules read it.

Fairness metrics read every sensitive attribute and every intersection of two: a rule
without an attribute watches the worst of them (and says which one it was); a rule may
also name one attribute ("age", "sex × age").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from vigil.core.errors import AlertError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport, WindowDrift
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import (
    MIN_GROUP_OUTCOMES,
    MIN_GROUP_ROWS,
    AttributeFairness,
    Disparities,
    FairnessError,
    FairnessReport,
)
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import (
    BINARY,
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    REGRESSION,
    PerformanceReport,
    WindowPerformance,
)
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.service import ServiceReport, ServiceWindow, service_report
from vigil.core.monitor.windows import calendar_start
from vigil.core.store.connection import Store


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher is better"
    LOWER_IS_BETTER = "lower is better"


class Source(StrEnum):
    """The monitor whose report a metric is read from."""

    PERFORMANCE = "performance"
    SERVICE = "service"
    DRIFT = "drift"
    FAIRNESS = "fairness"


@dataclass(frozen=True)
class WindowValue:
    """A metric's value in one window; `note` says why it is missing, or what it concerns
    (for a fairness rule over every attribute: the attribute that gave the worst value)."""

    value: float | None
    note: str = ""


WindowValues = dict[dt.datetime, WindowValue]  # keyed by the calendar window's start


@dataclass(frozen=True)
class Series:
    """A metric's values per window; windows absent from `values` take `otherwise`."""

    values: WindowValues
    otherwise: WindowValue = WindowValue(None, "no value")

    def at(self, start: dt.datetime) -> WindowValue:
        return self.values.get(start, self.otherwise)


class Reports:
    """The monitor reports of one evaluation, each computed once and shared by every rule."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._performance: dict[tuple[Selection, str], PerformanceReport] = {}
        self._service: dict[tuple[Selection, str], ServiceReport] = {}
        self._drift: dict[tuple[Selection, str], DriftReport] = {}
        self._fairness: dict[tuple[Selection, str], FairnessReport | str] = {}

    def performance(self, selection: Selection, granularity: str) -> PerformanceReport:
        key = (selection, granularity)
        if key not in self._performance:
            self._performance[key] = performance_report(
                self.store, selection, granularity, intervals=False
            )
        return self._performance[key]

    def service(self, selection: Selection, granularity: str) -> ServiceReport:
        key = (selection, granularity)
        if key not in self._service:
            self._service[key] = service_report(self.store, selection, granularity)
        return self._service[key]

    def drift(self, selection: Selection, granularity: str) -> DriftReport:
        key = (selection, granularity)
        if key not in self._drift:
            self._drift[key] = drift_report(
                self.store, selection, granularity=granularity, multivariate=False
            )
        return self._drift[key]

    def fairness(self, selection: Selection, granularity: str) -> FairnessReport | str:
        """The report, or why there is none (no sensitive attribute, no traffic...)."""
        key = (selection, granularity)
        if key not in self._fairness:
            try:
                self._fairness[key] = fairness_report(
                    self.store, selection, granularity=granularity, resamples=0
                )
            except FairnessError as err:
                self._fairness[key] = str(err)
        return self._fairness[key]


# A metric's computation: its value in every window of a selection, and over the whole of it.
PerWindow = Callable[[Reports, Selection, str, str | None], Series]
WholeSelection = Callable[[Reports, Selection, str | None], WindowValue]


@dataclass(frozen=True)
class Computation:
    per_window: PerWindow
    whole: WholeSelection


@dataclass(frozen=True)
class Metric:
    """One metric rules can watch. `by_attribute`: a rule may name a sensitive attribute."""

    name: str
    label: str
    unit: str
    direction: Direction
    source: Source
    tasks: frozenset[str]
    compute: Computation
    by_attribute: bool = False

    def applies_to(self, task: str) -> bool:
        return task in self.tasks


# ---------------------------------------------------------------- performance


def _performance_value(window: WindowPerformance, metric: str) -> WindowValue:
    if metric == "label_coverage":
        value = window.coverage.value
        return WindowValue(value, "" if value is not None else "no predictions")
    if window.labelled < window.min_labels:
        return WindowValue(None, f"too few labels ({window.labelled} < {window.min_labels})")
    value = window.value(metric)
    return WindowValue(value, "" if value is not None else "not defined for this window")


def _performance(metric: str) -> Computation:
    def per_window(
        reports: Reports, selection: Selection, granularity: str, attribute: str | None
    ) -> Series:
        report = reports.performance(selection, granularity)
        values = {
            calendar_start(w.start, granularity): _performance_value(w, metric)
            for w in report.windows
            if w.start is not None
        }
        return Series(values, WindowValue(None, "no predictions"))

    def whole(reports: Reports, selection: Selection, attribute: str | None) -> WindowValue:
        return _performance_value(reports.performance(selection, "month").overall, metric)

    return Computation(per_window, whole)


def _performance_metric(name: str, tasks: frozenset[str]) -> Metric:
    """A row for a realised-performance metric: label and direction as the monitor has them."""
    direction = Direction.HIGHER_IS_BETTER if HIGHER_IS_BETTER[name] else Direction.LOWER_IS_BETTER
    return Metric(
        name, METRIC_LABELS[name], "", direction, Source.PERFORMANCE, tasks, _performance(name)
    )


# ---------------------------------------------------------------- service


def _service(read: Callable[[ServiceWindow], float | None]) -> Computation:
    def value(window: ServiceWindow) -> WindowValue:
        got = read(window) if window.predictions else None
        return WindowValue(got, "" if got is not None else "no traffic in this window")

    def per_window(
        reports: Reports, selection: Selection, granularity: str, attribute: str | None
    ) -> Series:
        report = reports.service(selection, granularity)
        values = {calendar_start(w.start, granularity): value(w) for w in report.windows}
        return Series(values, WindowValue(None, "no traffic in this window"))

    def whole(reports: Reports, selection: Selection, attribute: str | None) -> WindowValue:
        return value(reports.service(selection, "day").overall)

    return Computation(per_window, whole)


# ---------------------------------------------------------------- drift


def _dataset_share(window: WindowDrift) -> WindowValue:
    share = window.dataset.share
    return WindowValue(share, "" if share is not None else str(window.dataset.status))


def _drifted_features(window: WindowDrift) -> WindowValue:
    if window.dataset.share is None:
        return WindowValue(None, str(window.dataset.status))
    drifted = [c.feature for c in window.features if c.drifted]
    return WindowValue(float(window.dataset.drifted_count), ", ".join(drifted))


def _prediction_drift(window: WindowDrift) -> WindowValue:
    scores = [c.score for c in window.prediction if c.score is not None]
    if not scores:
        return WindowValue(None, "no prediction drift verdict")
    return WindowValue(max(scores))


def _drift(read: Callable[[WindowDrift], WindowValue]) -> Computation:
    def per_window(
        reports: Reports, selection: Selection, granularity: str, attribute: str | None
    ) -> Series:
        report = reports.drift(selection, granularity)
        values = {calendar_start(w.window.start, granularity): read(w) for w in report.windows}
        return Series(values, WindowValue(None, "no data in this window"))

    def whole(reports: Reports, selection: Selection, attribute: str | None) -> WindowValue:
        return read(reports.drift(selection, "month").overall)

    return Computation(per_window, whole)


# ---------------------------------------------------------------- fairness


def _worst(
    items: list[tuple[str, Disparities]], metric: str, attribute: str | None, higher: bool
) -> WindowValue:
    """The metric on one attribute, or the worst over all of them naming which one."""
    if attribute is not None:
        items = [(name, d) for name, d in items if name == attribute]
    values = [(name, getattr(d, metric)) for name, d in items]
    defined = [(name, v) for name, v in values if v is not None]
    if not defined:
        return WindowValue(
            None,
            f"fewer than two groups with {MIN_GROUP_ROWS}+ predictions"
            if metric.startswith("demographic")
            else f"fewer than two groups with {MIN_GROUP_OUTCOMES}+ labelled outcomes each",
        )
    name, value = (min if higher else max)(defined, key=lambda pair: float(pair[1]))
    return WindowValue(float(value), "" if attribute is not None else f"worst: {name}")


def _attributes(report: FairnessReport, attribute: str | None) -> list[AttributeFairness]:
    items = list(report.attributes)
    if attribute is not None and not any(a.name == attribute for a in items):
        raise _NoAttribute(
            f"{report.model_version} has no sensitive attribute '{attribute}' "
            f"(it has: {', '.join(a.name for a in items)})"
        )
    return items


class _NoAttribute(Exception):
    """The version lacks the rule's attribute: the rule has no data on it."""


def _fairness(metric: str, higher: bool) -> Computation:
    def per_window(
        reports: Reports, selection: Selection, granularity: str, attribute: str | None
    ) -> Series:
        report = reports.fairness(selection, granularity)
        if isinstance(report, str):
            return Series({}, WindowValue(None, report))
        try:
            items = _attributes(report, attribute)
        except _NoAttribute as missing:
            return Series({}, WindowValue(None, str(missing)))
        by_window: dict[dt.datetime, list[tuple[str, Disparities]]] = {}
        for item in items:
            for window in item.windows:
                start = calendar_start(window.start, granularity)
                by_window.setdefault(start, []).append((item.name, window.disparities))
        values = {
            start: _worst(found, metric, attribute, higher) for start, found in by_window.items()
        }
        return Series(values, WindowValue(None, "no predictions in this window"))

    def whole(reports: Reports, selection: Selection, attribute: str | None) -> WindowValue:
        report = reports.fairness(selection, "month")
        if isinstance(report, str):
            return WindowValue(None, report)
        try:
            items = _attributes(report, attribute)
        except _NoAttribute as missing:
            return WindowValue(None, str(missing))
        return _worst([(a.name, a.disparities) for a in items], metric, attribute, higher)

    return Computation(per_window, whole)


# ---------------------------------------------------------------- the table

ANY_TASK = frozenset({BINARY, REGRESSION})
BINARY_ONLY = frozenset({BINARY})
REGRESSION_ONLY = frozenset({REGRESSION})
HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER

METRICS: tuple[Metric, ...] = (
    # realised performance, once labels arrive (windows with fewer than 50 labels: no data)
    _performance_metric("roc_auc", BINARY_ONLY),
    _performance_metric("accuracy", BINARY_ONLY),
    _performance_metric("precision", BINARY_ONLY),
    _performance_metric("recall", BINARY_ONLY),
    _performance_metric("f1", BINARY_ONLY),
    _performance_metric("log_loss", BINARY_ONLY),
    _performance_metric("brier", BINARY_ONLY),
    _performance_metric("ece", BINARY_ONLY),
    _performance_metric("mae", REGRESSION_ONLY),
    _performance_metric("rmse", REGRESSION_ONLY),
    _performance_metric("r2", REGRESSION_ONLY),
    Metric(
        "label_coverage", "Label coverage", "share", HIGHER, Source.PERFORMANCE, ANY_TASK,
        _performance("label_coverage"),
    ),
    # service health
    Metric(
        "error_rate", "Error rate", "share", LOWER, Source.SERVICE, ANY_TASK,
        _service(lambda w: w.error_rate.value),
    ),
    Metric(
        "latency_p50", "Latency p50", "ms", LOWER, Source.SERVICE, ANY_TASK,
        _service(lambda w: w.latency_p50),
    ),
    Metric(
        "latency_p95", "Latency p95", "ms", LOWER, Source.SERVICE, ANY_TASK,
        _service(lambda w: w.latency_p95),
    ),
    Metric(
        "latency_p99", "Latency p99", "ms", LOWER, Source.SERVICE, ANY_TASK,
        _service(lambda w: w.latency_p99),
    ),
    Metric(
        "throughput", "Throughput", "predictions per hour", HIGHER, Source.SERVICE, ANY_TASK,
        _service(lambda w: w.per_hour),
    ),
    Metric(
        "predictions", "Predictions", "predictions per window", HIGHER, Source.SERVICE,
        ANY_TASK, _service(lambda w: float(w.predictions)),
    ),
    # drift against the version's reference data
    Metric(
        "drifted_features", "Drifted features", "features", LOWER, Source.DRIFT, ANY_TASK,
        _drift(_drifted_features),
    ),
    Metric(
        "share_drifted_features", "Share of drifted features", "share", LOWER, Source.DRIFT,
        ANY_TASK, _drift(_dataset_share),
    ),
    Metric(
        "prediction_drift", "Prediction drift (score ÷ threshold; > 1 is drift)", "ratio",
        LOWER, Source.DRIFT, ANY_TASK, _drift(_prediction_drift),
    ),
    # fairness over every sensitive attribute and intersection (or one of them)
    Metric(
        "demographic_parity_ratio", "Demographic parity ratio", "ratio", HIGHER,
        Source.FAIRNESS, BINARY_ONLY, _fairness("demographic_parity_ratio", True), True,
    ),
    Metric(
        "demographic_parity_difference", "Demographic parity difference", "difference", LOWER,
        Source.FAIRNESS, BINARY_ONLY, _fairness("demographic_parity_difference", False), True,
    ),
    Metric(
        "equalized_odds_ratio", "Equalized odds ratio", "ratio", HIGHER, Source.FAIRNESS,
        BINARY_ONLY, _fairness("equalized_odds_ratio", True), True,
    ),
    Metric(
        "equalized_odds_difference", "Equalized odds difference", "difference", LOWER,
        Source.FAIRNESS, BINARY_ONLY, _fairness("equalized_odds_difference", False), True,
    ),
)  # fmt: skip
BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    """The row for `name`; an unknown name lists the ones that exist."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise AlertError(
            f"Unknown metric '{name}'; rules can watch: {', '.join(sorted(BY_NAME))}."
        ) from None


def available(task: str | None = None) -> tuple[Metric, ...]:
    """The metrics a rule can watch on a model of `task` (every metric if None)."""
    return tuple(m for m in METRICS if task is None or m.applies_to(task))


def label(name: str) -> str:
    """The metric's label, or the name itself for a metric no longer in the table."""
    return BY_NAME[name].label if name in BY_NAME else name


def value_for_selection(
    store: Store, name: str, selection: Selection, attribute: str | None = None
) -> WindowValue:
    """The metric over a whole selection (one range, no windows)."""
    return metric(name).compute.whole(Reports(store), selection, attribute)
