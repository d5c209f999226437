"""Realised model performance per window once labels arrive, with intervals, label coverage
and calibration, against the version's validation metrics."""

from __future__ import annotations

import datetime as dt
import math

import duckdb

from vigil.core.monitor.performance import metrics as sql
from vigil.core.monitor.performance.bootstrap import bootstrap_binary, ece_from_bins
from vigil.core.monitor.performance.results import (
    BINARY,
    BINARY_METRICS,
    DEFAULT_MARGIN,
    MIN_LABELS,
    PRIMARY_METRIC,
    REGRESSION,
    REGRESSION_METRICS,
    Confusion,
    PerformanceError,
    PerformanceReport,
    PerformanceStatus,
    ReliabilityBin,
    WindowPerformance,
)
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import WHOLE_RANGE_KEY, Granularity, Window, Windowing
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats.intervals import Estimate, IntervalMethod, normal_half_width, wilson
from vigil.core.store.connection import Store


def validation_metrics(version: ModelVersion) -> tuple[str | None, dict[str, float]]:
    """The version's validation metrics: the 'holdout' set if declared, else the first one."""
    sets = version.validation_metrics or {}
    if not sets:
        return None, {}
    name = "holdout" if "holdout" in sets else next(iter(sets))
    return name, {k: float(v) for k, v in sets[name].items() if isinstance(v, int | float)}


def decision_threshold(version: ModelVersion) -> float:
    return 0.5 if version.decision_threshold is None else version.decision_threshold


def _status(
    labelled: int,
    min_labels: int,
    value: float | None,
    reference: float | None,
    margin: float,
    higher_is_better: bool,
) -> PerformanceStatus:
    if labelled < min_labels:
        return PerformanceStatus.TOO_FEW_LABELS
    if value is None or reference is None:
        return PerformanceStatus.OK
    worse = value < reference - margin if higher_is_better else value > reference + margin
    return PerformanceStatus.BELOW_VALIDATION if worse else PerformanceStatus.OK


class _Windows:
    """What every window of one computation shares: its task, label rule and validation."""

    def __init__(
        self, task: str, whole: bool, min_labels: int, margin: float, validation: dict[str, float]
    ) -> None:
        self.task, self.whole = task, whole
        self.min_labels, self.margin, self.validation = min_labels, margin, validation

    def build(
        self,
        key: dt.datetime,
        coverage: tuple[int, int],
        metrics: dict[str, Estimate],
        confusion: Confusion | None = None,
        reliability: tuple[ReliabilityBin, ...] = (),
    ) -> WindowPerformance:
        """One window's result, with its status against the task's primary validation metric."""
        names = BINARY_METRICS if self.task == BINARY else REGRESSION_METRICS
        primary = PRIMARY_METRIC[self.task]
        predictions, labelled = coverage
        return WindowPerformance(
            start=None if self.whole else key,
            predictions=predictions,
            labelled=labelled,
            coverage=wilson(labelled, predictions),
            metrics=tuple((m, metrics.get(m, Estimate(None))) for m in names),
            confusion=confusion,
            reliability=reliability,
            min_labels=self.min_labels,
            status=_status(
                labelled,
                self.min_labels,
                metrics.get(primary, Estimate(None)).value,
                self.validation.get(primary),
                self.margin,
                self.task == BINARY,
            ),
        )


def _binary_metrics(
    s: sql.BinaryCounts, bins: list[ReliabilityBin], boot: dict[str, Estimate]
) -> tuple[dict[str, Estimate], Confusion]:
    tp, fp = s.tp, s.fp
    fn, tn = s.p - tp, s.q - fp
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None
    point = {
        "roc_auc": s.auc,
        "f1": f1,
        "log_loss": s.log_loss,
        "brier": s.brier,
        "ece": ece_from_bins(bins),
    }
    metrics = {
        "accuracy": wilson(tp + tn, s.n),
        "precision": wilson(tp, tp + fp),
        "recall": wilson(tp, s.p),
    }
    for name, value in point.items():
        b = boot.get(name, Estimate(None))
        metrics[name] = Estimate(value, b.low, b.high, b.method)
    return metrics, Confusion(tp, fp, tn, fn)


def _binary_windows(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    key_sql: str,
    threshold: float,
    coverage: dict[dt.datetime, tuple[int, int]],
    shape: _Windows,
    intervals: bool,
) -> list[WindowPerformance]:
    counts = sql.binary_counts(con, selection, key_sql, threshold)
    bins = sql.reliability_bins(con, selection, key_sql)
    cells = sql.score_table(con, selection, key_sql) if intervals else {}
    out = []
    for w, cover in coverage.items():
        s = counts.get(w)
        if s is None:
            out.append(shape.build(w, cover, {}, reliability=tuple(bins.get(w, []))))
            continue
        boot = {}
        if intervals:
            scores, positives, negatives = cells[w]
            boot = bootstrap_binary(
                scores=scores, positives=positives, negatives=negatives, threshold=threshold
            )
        metrics, confusion = _binary_metrics(s, bins.get(w, []), boot)
        out.append(shape.build(w, cover, metrics, confusion, tuple(bins.get(w, []))))
    return out


def _regression_metrics(s: sql.RegressionSums) -> dict[str, Estimate]:
    half_mae = normal_half_width(s.mae_sd, s.n)
    half_mse = normal_half_width(s.mse_sd, s.n)
    return {
        "mae": Estimate(
            s.mae,
            None if half_mae is None else max(0.0, s.mae - half_mae),
            None if half_mae is None else s.mae + half_mae,
            IntervalMethod.NORMAL,
        ),
        "rmse": Estimate(
            math.sqrt(s.mse),
            None if half_mse is None else math.sqrt(max(0.0, s.mse - half_mse)),
            None if half_mse is None else math.sqrt(s.mse + half_mse),
            IntervalMethod.NORMAL,
        ),
        "r2": Estimate(1 - s.ss_res / s.ss_tot if s.ss_tot and s.ss_tot > 0 else None),
    }


def compute_windows(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    granularity: Granularity | None,
    *,
    min_labels: int = MIN_LABELS,
    margin: float = DEFAULT_MARGIN,
    intervals: bool = True,
) -> list[WindowPerformance]:
    """Per-window performance on an open connection (granularity None: the whole selection);
    intervals=False skips the bootstrap (alert rules need point values only)."""
    windowing = Windowing.of(granularity)
    key_sql = windowing.key_sql("l.served_at", _listed(con, windowing, selection))
    _, validation = validation_metrics(version)
    coverage = sql.coverage(con, selection, key_sql)
    if windowing.whole and not coverage:
        coverage = {WHOLE_RANGE_KEY: (0, 0)}
    shape = _Windows(version.task, windowing.whole, min_labels, margin, validation)
    if version.task == BINARY:
        threshold = decision_threshold(version)
        return _binary_windows(con, selection, key_sql, threshold, coverage, shape, intervals)
    if version.task == REGRESSION:
        sums = sql.regression_sums(con, selection, key_sql)
        return [
            shape.build(w, cover, _regression_metrics(sums[w]) if w in sums else {})
            for w, cover in coverage.items()
        ]
    raise PerformanceError(
        f"{version.model_name} {version.model_version} is a {version.task} model; performance "
        "is computed for binary_classification and regression models."
    )


def _listed(
    con: duckdb.DuckDBPyConnection, windowing: Windowing, selection: Selection
) -> list[Window]:
    """The windows a key needs listed (windows of N predictions); none otherwise."""
    return windowing.windows(con, selection) if windowing.every is not None else []


def performance_report(
    store: Store,
    selection: Selection,
    granularity: Granularity = "week",
    *,
    min_labels: int = MIN_LABELS,
    margin: float = DEFAULT_MARGIN,
    intervals: bool = True,
) -> PerformanceReport:
    """Realised performance per window and over the whole selection."""
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        windows, overall = (
            compute_windows(
                con,
                version,
                selection,
                g,
                min_labels=min_labels,
                margin=margin,
                intervals=intervals,
            )
            for g in (granularity, None)
        )
    set_name, validation = validation_metrics(version)
    return PerformanceReport(
        selection=selection,
        task=version.task,
        granularity=str(granularity),
        threshold=decision_threshold(version) if version.task == BINARY else None,
        min_labels=min_labels,
        margin=margin,
        validation_set=set_name,
        validation=tuple(sorted(validation.items())),
        windows=tuple(windows),
        overall=overall[0],
    )
