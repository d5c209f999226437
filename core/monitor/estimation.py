"""Confidence-based performance estimation (CBPE, as in NannyML) for windows whose labels
have not arrived yet.

How: calibrate the model's scores on a labelled baseline with isotonic regression
(core.monitor.performance.baseline: a labelled early production period, or the reference data),
then treat each calibrated score c as the probability that the row is positive. A row
predicted positive (score >= threshold) adds c to the expected true positives and 1 - c to
the expected false positives; a row predicted negative adds c to the expected false
negatives and 1 - c to the expected true negatives. Accuracy, precision, recall and F1
follow from the expected confusion matrix; ROC AUC from the expected ROC curve, i.e. the
tie-aware AUC formula with fractional positives (n·c) and negatives (n·(1 - c)) per score.

Only aggregates leave DuckDB: the baseline's and each window's (score, count) tables.
The estimate is only as good as the assumption that the score–outcome relation of the
baseline still holds: CBPE cannot see concept drift, and pages say so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
from sklearn.isotonic import IsotonicRegression

from vigil.core.errors import VigilError
from vigil.core.monitor.performance.baseline import Baseline, baseline_scores, default_baseline
from vigil.core.monitor.performance.metrics import FloatArray
from vigil.core.monitor.performance.report import decision_threshold, performance_report
from vigil.core.monitor.performance.results import BINARY, MIN_LABELS, WindowPerformance
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.monitor.windows import Granularity, Windowing
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats.intervals import Estimate, wilson
from vigil.core.store.connection import Store

ESTIMATED_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


class EstimationError(VigilError):
    """Performance cannot be estimated (not a binary classifier, or no labelled baseline)."""


@dataclass(frozen=True)
class Calibrator:
    """Isotonic map from raw score to P(positive), fitted on a baseline score table."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, scores: FloatArray) -> FloatArray:
        # IsotonicRegression(out_of_bounds="clip").predict is linear interpolation between its
        # thresholds, clipped at the ends: np.interp does exactly that.
        return np.asarray(np.interp(np.asarray(scores, dtype=float), self.x, self.y), dtype=float)


def fit_calibrator(
    *, scores: FloatArray, positives: FloatArray, negatives: FloatArray
) -> Calibrator:
    """Weighted isotonic regression of outcome on score over the score table's cells."""
    x = np.concatenate([scores, scores])
    y = np.concatenate([np.ones(len(scores)), np.zeros(len(scores))])
    w = np.concatenate([positives, negatives])
    keep = w > 0
    if keep.sum() == 0 or positives.sum() == 0 or negatives.sum() == 0:
        raise EstimationError(
            "The baseline needs labelled rows of both outcomes to calibrate the scores; "
            "ingest labels for it, or choose another baseline."
        )
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(x[keep], y[keep], sample_weight=w[keep])
    return Calibrator(
        tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_)
    )


@dataclass(frozen=True)
class ExpectedConfusion:
    tp: float
    fp: float
    tn: float
    fn: float


def expected_metrics(
    *, scores: FloatArray, counts: FloatArray, calibrated: FloatArray, threshold: float
) -> tuple[ExpectedConfusion, dict[str, float | None]]:
    """CBPE's expected confusion matrix and metrics for one window's (score, count) table.

    `scores` must be distinct and ascending (one row per distinct score)."""
    scores = np.asarray(scores, dtype=float)
    counts = np.asarray(counts, dtype=float)
    exp_pos = counts * calibrated
    exp_neg = counts * (1 - calibrated)
    predicted = scores >= threshold
    tp, fp = float(exp_pos[predicted].sum()), float(exp_neg[predicted].sum())
    fn, tn = float(exp_pos[~predicted].sum()), float(exp_neg[~predicted].sum())
    n = counts.sum()
    total_pos, total_neg = exp_pos.sum(), exp_neg.sum()
    below = np.cumsum(exp_neg) - exp_neg
    auc = (
        float((exp_pos * (below + 0.5 * exp_neg)).sum() / (total_pos * total_neg))
        if total_pos > 0 and total_neg > 0
        else None
    )
    metrics = {
        "roc_auc": auc,
        "accuracy": (tp + tn) / n if n else None,
        "precision": tp / (tp + fp) if tp + fp > 0 else None,
        "recall": tp / (tp + fn) if tp + fn > 0 else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else None,
    }
    return ExpectedConfusion(tp, fp, tn, fn), metrics


@dataclass(frozen=True)
class EstimatedWindow:
    start: dt.datetime
    predictions: int
    labelled: int
    confusion: ExpectedConfusion | None
    estimated: tuple[tuple[str, Estimate], ...]
    realised: tuple[tuple[str, Estimate], ...]  # empty when the window has too few labels

    def estimate(self, name: str) -> float | None:
        return dict(self.estimated).get(name, Estimate(None)).value

    def realised_value(self, name: str) -> float | None:
        return dict(self.realised).get(name, Estimate(None)).value


@dataclass(frozen=True)
class EstimationReport:
    selection: Selection
    granularity: str
    threshold: float
    baseline: Baseline
    baseline_rows: int
    min_labels: int
    windows: tuple[EstimatedWindow, ...]


def _window_score_counts(
    con: duckdb.DuckDBPyConnection, selection: Selection, windowing: Windowing
) -> dict[dt.datetime, tuple[FloatArray, FloatArray]]:
    """Per window: distinct scores (ascending) and how many status-'ok' predictions had each,
    labelled or not."""
    where, params = selection.where("l")
    listed = windowing.windows(con, selection) if windowing.every is not None else []
    frame = con.execute(
        f"""
        SELECT {windowing.key_sql("l.served_at", listed)} AS w, l.prediction AS score,
               count(*) AS n
        FROM {log_table(con, selection.model_name)} AS l
        WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
        GROUP BY ALL ORDER BY w, score
        """,
        params,
    ).df()
    out = {}
    for w, part in frame.groupby("w", sort=True):
        out[w.to_pydatetime()] = (part["score"].to_numpy(float), part["n"].to_numpy(float))
    return out


def calibrator_for(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    baseline: Baseline,
    selection: Selection,
) -> tuple[Calibrator, int]:
    scores, pos, neg = baseline_scores(con, version, baseline, selection.segment)
    return fit_calibrator(scores=scores, positives=pos, negatives=neg), int(pos.sum() + neg.sum())


def _estimated_window(
    start: dt.datetime,
    scores: FloatArray,
    counts: FloatArray,
    calibrator: Calibrator,
    threshold: float,
    real: WindowPerformance | None,
    min_labels: int,
) -> EstimatedWindow:
    confusion, metrics = expected_metrics(
        scores=scores, counts=counts, calibrated=calibrator(scores), threshold=threshold
    )
    n = float(counts.sum())
    estimated: dict[str, Estimate] = {name: Estimate(metrics[name]) for name in metrics}
    # Sampling error only (NannyML's bands): the Wilson interval of the expected counts.
    estimated["accuracy"] = wilson(confusion.tp + confusion.tn, n)
    estimated["precision"] = wilson(confusion.tp, confusion.tp + confusion.fp)
    estimated["recall"] = wilson(confusion.tp, confusion.tp + confusion.fn)
    return EstimatedWindow(
        start=start,
        predictions=int(n),
        labelled=0 if real is None else real.labelled,
        confusion=confusion,
        estimated=tuple((m, estimated[m]) for m in ESTIMATED_METRICS),
        realised=(
            tuple((m, real.metric(m)) for m in ESTIMATED_METRICS)
            if real is not None and real.labelled >= min_labels
            else ()
        ),
    )


def estimate_performance(
    store: Store,
    selection: Selection,
    granularity: Granularity = "week",
    *,
    baseline: Baseline | None = None,
    min_labels: int = MIN_LABELS,
) -> EstimationReport:
    """Estimated metrics for every window, beside the realised ones where labels exist."""
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        if version.task != BINARY:
            raise EstimationError(
                f"{version.model_name} {version.model_version} is a {version.task} model; "
                "confidence-based estimation applies to binary classifiers only."
            )
        if baseline is None:
            baseline = default_baseline(con, version, selection.segment)
        calibrator, baseline_rows = calibrator_for(con, version, baseline, selection)
        tables = _window_score_counts(con, selection, Windowing.of(granularity))
    threshold = decision_threshold(version)
    # realised point values only (no bootstrap): the Performance report carries the intervals
    realised = {
        w.start: w
        for w in performance_report(store, selection, granularity, intervals=False).windows
    }
    windows = tuple(
        _estimated_window(
            start, scores, counts, calibrator, threshold, realised.get(start), min_labels
        )
        for start, (scores, counts) in tables.items()
    )
    return EstimationReport(
        selection=selection,
        granularity=str(granularity),
        threshold=threshold,
        baseline=baseline,
        baseline_rows=baseline_rows,
        min_labels=min_labels,
        windows=windows,
    )
