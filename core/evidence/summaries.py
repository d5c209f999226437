"""Drift, performance and fairness summaries for the pack, from core.monitor's own reports.

Nothing is recomputed here: each summary picks the numbers a supervisor reads (per feature
verdicts, the headline metric per window against validation, the four-fifths rule per
attribute) out of the report the dashboard draws, so the pack and the pages agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vigil.core.errors import VigilError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.drift.results import DriftReport
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import FairnessReport
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import PerformanceReport
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

GRANULARITY = "week"
HEADLINE = {"binary_classification": "roc_auc", "regression": "rmse"}


@dataclass(frozen=True)
class Point:
    start: dt.datetime
    value: float | None


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    test: str
    statistic: float | None
    p_value: float | None  # the threshold applies to it for p-value tests (chi2, ks)
    threshold: float
    psi: float | None
    status: str


@dataclass(frozen=True)
class DriftSummary:
    verdict: str
    share_threshold: float
    features: tuple[FeatureDrift, ...]
    share_by_window: tuple[Point, ...]  # share of drifted features per week


@dataclass(frozen=True)
class MetricRow:
    metric: str
    value: float | None
    low: float | None
    high: float | None
    validation: float | None


@dataclass(frozen=True)
class PerformanceSummary:
    predictions: int
    labelled: int
    status: str
    headline: str
    metrics: tuple[MetricRow, ...]
    headline_by_window: tuple[Point, ...]


@dataclass(frozen=True)
class GroupRate:
    group: str
    selection_rate: float | None
    ratio: float | None
    status: str


@dataclass(frozen=True)
class AttributeSummary:
    attribute: str
    verdict: str
    demographic_parity_ratio: float | None
    equalized_odds_ratio: float | None
    groups: tuple[GroupRate, ...]
    statements: tuple[str, ...]


@dataclass(frozen=True)
class VersionSummary:
    model_version: str
    start: dt.datetime
    end: dt.datetime
    drift: DriftSummary | None
    performance: PerformanceSummary | None
    fairness: tuple[AttributeSummary, ...]
    notes: tuple[str, ...]  # why a summary is missing, in the report's own words


def drift_summary(report: DriftReport) -> DriftSummary:
    return DriftSummary(
        verdict=report.overall.dataset.sentence(),
        share_threshold=report.overall.dataset.threshold,
        features=tuple(
            FeatureDrift(c.feature, c.test, c.statistic, c.p_value, c.threshold, c.psi, c.status)
            for c in (*report.overall.features, *report.overall.prediction)
        ),
        share_by_window=tuple(Point(w.window.start, w.dataset.share) for w in report.windows),
    )


def performance_summary(report: PerformanceReport) -> PerformanceSummary:
    headline = HEADLINE.get(report.task, report.metric_names[0])
    overall = report.overall
    return PerformanceSummary(
        predictions=overall.predictions,
        labelled=overall.labelled,
        status=overall.status,
        headline=headline,
        metrics=tuple(
            MetricRow(name, e.value, e.low, e.high, report.validation_value(name))
            for name, e in overall.metrics
        ),
        headline_by_window=tuple(
            Point(w.start, w.value(headline) if w.enough_labels else None)
            for w in report.windows
            if w.start is not None
        ),
    )


def fairness_summary(report: FairnessReport) -> tuple[AttributeSummary, ...]:
    return tuple(
        AttributeSummary(
            attribute=item.name,
            verdict=item.verdict,
            demographic_parity_ratio=item.disparities.demographic_parity_ratio,
            equalized_odds_ratio=item.disparities.equalized_odds_ratio,
            groups=tuple(
                GroupRate(g.group, g.selection_rate, g.ratio_to_most_favoured, g.status)
                for g in item.groups
            ),
            statements=item.statements,
        )
        for item in report.attributes
    )


def version_summary(store: Store, selection: Selection) -> VersionSummary:
    """The three summaries of one version over the selection; a failing one becomes a note."""
    notes: list[str] = []
    drift = performance = None
    fairness: tuple[AttributeSummary, ...] = ()
    try:
        drift = drift_summary(
            drift_report(store, selection, granularity=GRANULARITY, multivariate=False)
        )
    except VigilError as err:
        notes.append(f"Drift: {err}")
    try:
        performance = performance_summary(performance_report(store, selection, GRANULARITY))
    except VigilError as err:
        notes.append(f"Performance: {err}")
    try:
        fairness = fairness_summary(fairness_report(store, selection, granularity=GRANULARITY))
    except VigilError as err:
        notes.append(f"Fairness: {err}")
    return VersionSummary(
        selection.model_version,
        selection.start,
        selection.end,
        drift,
        performance,
        fairness,
        tuple(notes),
    )
