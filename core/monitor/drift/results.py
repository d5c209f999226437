"""What a drift report holds: per column and window, per window, the domain classifier.

Statuses per column and window: drift, no drift, no data (the window has no rows, or every
value of the column is missing), too few rows (fewer than MIN_ROWS non-null values on either
side: no verdict). A window's dataset verdict is the share of drifted features among those
with a verdict, against the model's dataset threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil.core.monitor.profiles import ColumnRole
from vigil.core.monitor.selection import Selection
from vigil.core.monitor.windows import Granularity, Window
from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.verdicts import Level


class DriftStatus(StrEnum):
    DRIFT = "drift"
    NO_DRIFT = "no drift"
    NO_DATA = "no data"
    TOO_FEW_ROWS = "too few rows"


class DriftSource(StrEnum):
    """Where a report's aggregates came from."""

    PROFILES = "profiles"  # stored day profiles, summed into windows
    RAW_LOG = "raw log"  # computed on the fly (segments, N-prediction windows, part days)


@dataclass(frozen=True)
class ColumnDrift:
    """One column in one window, against the reference."""

    feature: str
    kind: ColumnKind
    role: ColumnRole
    status: DriftStatus
    test: str
    test_label: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool | None  # None: no verdict (see status)
    score: float | None  # drift normalised to the threshold: > 1 is drift
    reference_n: int
    current_n: int
    current_rows: int
    current_nulls: int
    psi: float | None = None  # core.stats.psi over the bins and the missing-values bin
    bins: tuple[str, ...] = ()  # bin or category labels
    reference_counts: tuple[float, ...] = ()
    current_counts: tuple[float, ...] = ()
    reference_mean: float | None = None
    current_mean: float | None = None
    reference_std: float | None = None
    current_std: float | None = None
    # KS and Wasserstein tests: the statistic lies in [statistic, statistic + error]; 0 when
    # exact, > 0 when computed from fine bins (core.lake.bounded); None for other tests
    statistic_error: float | None = None


@dataclass(frozen=True)
class DatasetVerdict:
    tested: int
    drifted_count: int
    share: float | None
    threshold: float
    drifted: bool | None
    status: DriftStatus

    @property
    def level(self) -> Level:
        """Act above the share threshold; any drifted feature below it is still Watch, never OK."""
        if self.share is None:
            return Level.INFO
        if self.drifted:
            return Level.ACT
        return Level.WATCH if self.drifted_count else Level.OK

    def sentence(self) -> str:
        if self.share is None:
            return "No feature could be tested in this window (no data or too few rows)."
        relation = "above" if self.drifted else "not above"
        return (
            f"{self.drifted_count} of {self.tested} features drifted ({self.share:.0%}), "
            f"{relation} the {self.threshold:.0%} dataset threshold."
        ).replace("%", " %")


@dataclass(frozen=True)
class WindowDrift:
    window: Window
    rows: int
    features: tuple[ColumnDrift, ...]
    prediction: tuple[ColumnDrift, ...]
    dataset: DatasetVerdict

    def column(self, name: str) -> ColumnDrift:
        for c in (*self.features, *self.prediction):
            if c.feature == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class FeatureImportance:
    name: str
    importance: float


@dataclass(frozen=True)
class DomainClassifierResult:
    """Can a classifier tell current rows from reference rows? AUC 0.5: no; 1.0: always."""

    status: DriftStatus  # drift, no drift or too few rows
    auc: float | None
    auc_std: float | None
    threshold: float
    drifted: bool | None
    reference_n: int
    current_n: int
    folds: int
    top_features: tuple[FeatureImportance, ...] = ()
    method: str = "domain classifier (gradient boosting, cross-validated ROC AUC)"


@dataclass(frozen=True)
class DriftReport:
    selection: Selection
    reference: Selection | None  # None: the version's reference data
    reference_label: str
    granularity: Granularity
    source: DriftSource
    overall: WindowDrift
    windows: tuple[WindowDrift, ...]
    multivariate: DomainClassifierResult | None
    days_recomputed: int = 0
