"""Concept drift: performance falls while the inputs hold steady, or calibration moves away
from the baseline's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from vigil.core.errors import VigilError
from vigil.core.monitor.drift.report import drift_report
from vigil.core.monitor.performance.baseline import Baseline, baseline_scores, default_baseline
from vigil.core.monitor.performance.bootstrap import ece_from_scores
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.performance.results import (
    BINARY,
    DEFAULT_MARGIN,
    HIGHER_IS_BETTER,
    MIN_LABELS,
    PerformanceError,
    WindowPerformance,
)
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import Windowing
from vigil.core.registry.versions import get_version
from vigil.core.store.connection import Store


class InputDriftSource(StrEnum):
    """Whether a window's input drift verdict was known (from the drift report) or not."""

    DRIFT_REPORT = "from the drift report"
    UNKNOWN = "input drift unknown"


class ConceptVerdict(StrEnum):
    TOO_FEW_LABELS = "too few labels"
    STABLE = "stable"
    CONCEPT_DRIFT = "concept drift"
    WITH_INPUT_DRIFT = "performance drop with input drift"
    INPUT_DRIFT_UNKNOWN = "possible concept drift (input drift unknown)"


@dataclass(frozen=True)
class ConceptWindow:
    start: dt.datetime
    labelled: int
    metric_value: float | None
    validation_value: float | None
    performance_drop: bool
    ece: float | None
    baseline_ece: float | None
    calibration_shift: bool  # ECE grew by more than the margin over the baseline
    input_drift: bool | None  # None: input drift unknown
    verdict: ConceptVerdict


@dataclass(frozen=True)
class ConceptDriftReport:
    selection: Selection
    granularity: str
    metric: str
    margin: float
    validation_set: str | None
    baseline: Baseline
    baseline_ece: float | None
    input_drift_source: InputDriftSource
    windows: tuple[ConceptWindow, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> tuple[ConceptWindow, ...]:
        return tuple(w for w in self.windows if w.verdict == ConceptVerdict.CONCEPT_DRIFT)


def input_drift_by_window(
    store: Store, selection: Selection, granularity: str
) -> dict[dt.datetime, bool] | None:
    """Per window (keyed by calendar window start): did any input feature drift? None when
    drift cannot be computed (e.g. no reference data).

    "Inputs held steady" must mean no feature moved: the dataset verdict (share of drifted
    features above 50 %) would call a window with two strongly drifted features steady and
    blame the drop on the concept."""
    try:
        report = drift_report(store, selection, granularity=granularity, multivariate=False)
    except VigilError:  # e.g. no reference profile: the verdict is unknown, not an error here
        return None
    windowing = Windowing.of(granularity)
    return {
        windowing.key(window.window): window.dataset.drifted_count > 0
        for window in report.windows
        if window.dataset.share is not None
    }


def _verdict(window: WindowPerformance, drop: bool, drifted: bool | None) -> ConceptVerdict:
    if not window.enough_labels:
        return ConceptVerdict.TOO_FEW_LABELS
    if not drop:
        return ConceptVerdict.STABLE
    if drifted is None:
        return ConceptVerdict.INPUT_DRIFT_UNKNOWN
    return ConceptVerdict.WITH_INPUT_DRIFT if drifted else ConceptVerdict.CONCEPT_DRIFT


def _concept_window(
    w: WindowPerformance,
    metric: str,
    reference_value: float | None,
    baseline_ece: float | None,
    margin: float,
    input_drift: dict[dt.datetime, bool] | None,
) -> ConceptWindow:
    value = w.value(metric)
    higher = HIGHER_IS_BETTER[metric]
    drop = (
        w.enough_labels
        and value is not None
        and reference_value is not None
        and (value < reference_value - margin if higher else value > reference_value + margin)
    )
    ece = w.value("ece")
    shift = (
        w.enough_labels
        and ece is not None
        and baseline_ece is not None
        and ece > baseline_ece + margin
    )
    assert w.start is not None  # per-window results always have a start
    drifted = None if input_drift is None else input_drift.get(w.start)
    return ConceptWindow(
        start=w.start,
        labelled=w.labelled,
        metric_value=value,
        validation_value=reference_value,
        performance_drop=bool(drop),
        ece=ece,
        baseline_ece=baseline_ece,
        calibration_shift=bool(shift),
        input_drift=drifted,
        verdict=_verdict(w, bool(drop), drifted),
    )


def concept_drift(
    store: Store,
    selection: Selection,
    granularity: str = "week",
    *,
    metric: str = "accuracy",
    margin: float = DEFAULT_MARGIN,
    min_labels: int = MIN_LABELS,
    input_drift: dict[dt.datetime, bool] | None = None,
    baseline: Baseline | None = None,
) -> ConceptDriftReport:
    """Windows where `metric` falls below validation by more than `margin` while the inputs did
    not drift, and where calibration (ECE) moved away from the baseline's."""
    report = performance_report(
        store, selection, granularity, min_labels=min_labels, margin=margin, intervals=False
    )
    if metric not in report.metric_names:
        raise PerformanceError(
            f"'{metric}' is not a performance metric of a {report.task} model; choose one of "
            f"{', '.join(report.metric_names)}."
        )
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        if baseline is None:
            baseline = default_baseline(con, version, selection.segment)
        baseline_ece = None
        if version.task == BINARY:
            scores, pos, neg = baseline_scores(con, version, baseline, selection.segment)
            baseline_ece = ece_from_scores(scores=scores, positives=pos, negatives=neg)
    if input_drift is None:
        input_drift = input_drift_by_window(store, selection, granularity)
    reference_value = report.validation_value(metric)
    return ConceptDriftReport(
        selection=selection,
        granularity=granularity,
        metric=metric,
        margin=margin,
        validation_set=report.validation_set,
        baseline=baseline,
        baseline_ece=baseline_ece,
        input_drift_source=(
            InputDriftSource.UNKNOWN if input_drift is None else InputDriftSource.DRIFT_REPORT
        ),
        windows=tuple(
            _concept_window(w, metric, reference_value, baseline_ece, margin, input_drift)
            for w in report.windows
        ),
    )
