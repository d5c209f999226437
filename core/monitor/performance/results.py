"""What a performance report holds: metric names and their reading, per-window results.

Intervals, per metric (CI_METHOD):
- accuracy, precision, recall, label coverage: Wilson score interval (95 %);
- roc_auc, f1, log_loss, brier, ece: percentile bootstrap, 200 draws, fixed seed;
- mae, rmse: normal approximation on the mean absolute / squared error (rmse = sqrt of the
  MSE interval); r2: no interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from vigil.core.errors import VigilError
from vigil.core.monitor.selection import Selection
from vigil.core.stats.intervals import Estimate, IntervalMethod

BINARY = "binary_classification"
REGRESSION = "regression"
MIN_LABELS = 50
DEFAULT_MARGIN = 0.05

BINARY_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece")
REGRESSION_METRICS = ("mae", "rmse", "r2")
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "log_loss": "Log loss",
    "brier": "Brier score",
    "ece": "Expected calibration error",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R²",
}
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
    "ece": False,
    "mae": False,
    "rmse": False,
    "r2": True,
}
CI_METHOD = {
    "accuracy": IntervalMethod.WILSON,
    "precision": IntervalMethod.WILSON,
    "recall": IntervalMethod.WILSON,
    "roc_auc": IntervalMethod.BOOTSTRAP,
    "f1": IntervalMethod.BOOTSTRAP,
    "log_loss": IntervalMethod.BOOTSTRAP,
    "brier": IntervalMethod.BOOTSTRAP,
    "ece": IntervalMethod.BOOTSTRAP,
    "mae": IntervalMethod.NORMAL,
    "rmse": IntervalMethod.NORMAL,
    "r2": IntervalMethod.NONE,
}
PRIMARY_METRIC = {BINARY: "roc_auc", REGRESSION: "rmse"}


class PerformanceError(VigilError):
    """Performance cannot be computed for this selection (unknown task, bad granularity)."""


class PerformanceStatus(StrEnum):
    """A window's primary metric against validation."""

    TOO_FEW_LABELS = "too few labels"
    OK = "ok"
    BELOW_VALIDATION = "below validation"


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class WindowPerformance:
    """One window (start = None for the whole selection)."""

    start: dt.datetime | None
    predictions: int  # status 'ok' rows in the window
    labelled: int
    coverage: Estimate
    metrics: tuple[tuple[str, Estimate], ...]
    confusion: Confusion | None
    reliability: tuple[ReliabilityBin, ...]
    min_labels: int
    status: PerformanceStatus

    @property
    def enough_labels(self) -> bool:
        return self.labelled >= self.min_labels

    def metric(self, name: str) -> Estimate:
        for key, estimate in self.metrics:
            if key == name:
                return estimate
        return Estimate(None)

    def value(self, name: str) -> float | None:
        return self.metric(name).value

    @property
    def mean_predicted(self) -> float | None:
        """Mean score of the labelled rows (calibration in the large, with observed_rate)."""
        total = sum(b.count for b in self.reliability)
        return sum(b.count * b.mean_predicted for b in self.reliability) / total if total else None

    @property
    def observed_rate(self) -> float | None:
        total = sum(b.count for b in self.reliability)
        return sum(b.count * b.observed_rate for b in self.reliability) / total if total else None


@dataclass(frozen=True)
class PerformanceReport:
    selection: Selection
    task: str
    granularity: str
    threshold: float | None
    min_labels: int
    margin: float
    validation_set: str | None
    validation: tuple[tuple[str, float], ...]
    windows: tuple[WindowPerformance, ...]
    overall: WindowPerformance

    @property
    def metric_names(self) -> tuple[str, ...]:
        return BINARY_METRICS if self.task == BINARY else REGRESSION_METRICS

    def validation_value(self, name: str) -> float | None:
        return dict(self.validation).get(name)
