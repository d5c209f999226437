"""What a fairness report holds: per group, per attribute (and its windows), per report.

Populations (every number says which one it uses):
- selection rate, group size, demographic parity: every served prediction in the selection
  (status 'ok', prediction present). No label is needed to know who was approved.
- TPR, FPR, precision, accuracy, equalized odds: the labelled subset of those rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from vigil.core.errors import VigilError
from vigil.core.stats.intervals import Interval

MIN_GROUP_ROWS = 30
MIN_GROUP_OUTCOMES = 10  # labelled positives and negatives, each, for TPR / FPR
BOOTSTRAP_RESAMPLES = 200
FAIRNESS_DRIFT_TOLERANCE = 0.1  # |demographic parity ratio now - at validation|
MISSING = "(missing)"
DISPARITY_METRICS = (
    "demographic_parity_ratio",
    "demographic_parity_difference",
    "equalized_odds_ratio",
    "equalized_odds_difference",
)
POPULATIONS = {
    "selection_rate": "all served predictions (status ok) in the selection",
    "demographic_parity": "all served predictions (status ok) in the selection",
    "tpr": "labelled predictions",
    "fpr": "labelled predictions",
    "precision": "labelled predictions",
    "accuracy": "labelled predictions",
    "equalized_odds": "labelled predictions",
}


class FairnessError(VigilError):
    """Fairness cannot be computed for this version or selection."""


class GroupStatus(StrEnum):
    """A group against the four-fifths rule (core.stats.disparity)."""

    PASS = "pass"
    FAIL = "fail"
    MOST_FAVOURED = "most_favoured"
    TOO_SMALL = "too_small"  # fewer than MIN_GROUP_ROWS predictions: no verdict


class Verdict(StrEnum):
    """An attribute (or a window of it): any judged group below the rule fails it."""

    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"  # fewer than two groups could be judged


class ValidationStatus(StrEnum):
    OK = "ok"
    DRIFT = "drift"  # demographic parity ratio moved more than the tolerance
    UNAVAILABLE = "unavailable"  # nothing recorded at validation


@dataclass(frozen=True)
class GroupMetrics:
    """One group's numbers; None where a metric is undefined (e.g. TPR with no positives)."""

    group: str
    rows: int  # served predictions (population: all rows)
    selected: int  # of which favourable
    selection_rate: float | None
    labelled: int  # population for the metrics below
    positives: int
    negatives: int
    tpr: float | None
    fpr: float | None
    precision: float | None
    accuracy: float | None
    ratio_to_most_favoured: float | None  # selection rate / the top eligible group's
    status: GroupStatus
    selection_rate_ci: Interval | None = None
    tpr_ci: Interval | None = None
    fpr_ci: Interval | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disparities:
    """fairlearn's between-groups disparities, over the groups large enough to judge."""

    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None
    dp_groups: tuple[str, ...]  # groups included in demographic parity
    eo_groups: tuple[str, ...]  # groups included in equalized odds

    def value(self, metric: str) -> float | None:
        """One of DISPARITY_METRICS by name."""
        if metric not in DISPARITY_METRICS:
            raise FairnessError(
                f"Unknown fairness metric '{metric}'; use one of {', '.join(DISPARITY_METRICS)}."
            )
        found: float | None = getattr(self, metric)
        return found


@dataclass(frozen=True)
class WindowFairness:
    start: dt.datetime
    end: dt.datetime
    rows: int
    labelled: int
    groups: tuple[GroupMetrics, ...]
    disparities: Disparities
    verdict: Verdict


@dataclass(frozen=True)
class GroupDrift:
    group: str
    at_validation: float
    now: float | None
    change: float | None


@dataclass(frozen=True)
class ValidationComparison:
    """Fairness now against the values recorded in the registry at validation time."""

    dataset: str
    demographic_parity_ratio_at_validation: float | None
    demographic_parity_ratio_now: float | None
    change: float | None
    selection_rates: tuple[GroupDrift, ...]
    status: ValidationStatus
    text: str


@dataclass(frozen=True)
class AttributeFairness:
    name: str  # "sex", "age", "sex × age"
    key: str  # for metric names: "sex", "age", "sex_x_age"
    columns: tuple[str, ...]
    groups: tuple[GroupMetrics, ...]
    disparities: Disparities
    intervals: dict[str, Interval] = field(default_factory=dict)  # bootstrap CIs by metric
    most_favoured: str | None = None
    verdict: Verdict = Verdict.INSUFFICIENT
    statements: tuple[str, ...] = ()
    windows: tuple[WindowFairness, ...] = ()
    validation: ValidationComparison | None = None


@dataclass(frozen=True)
class FairnessReport:
    model_name: str
    model_version: str
    start: dt.datetime
    end: dt.datetime
    segment: str | None
    granularity: str
    decision_threshold: float
    favourable: str  # what the favourable outcome is, in words
    rows: int
    labelled: int
    attributes: tuple[AttributeFairness, ...]
    bands: dict[str, tuple[str, ...]]  # numeric attribute -> band labels, in order
    populations: dict[str, str]
    min_group_rows: int = MIN_GROUP_ROWS
    min_group_outcomes: int = MIN_GROUP_OUTCOMES
    resamples: int = BOOTSTRAP_RESAMPLES

    def attribute(self, name: str) -> AttributeFairness:
        for item in self.attributes:
            if name in (item.name, item.key):
                return item
        raise FairnessError(
            f"No fairness attribute '{name}' for {self.model_name} {self.model_version} "
            f"(available: {', '.join(a.name for a in self.attributes)})."
        )

    def metric_values(self) -> dict[str, float]:
        """Flat metric name -> value ('demographic_parity_ratio_sex', ...), as the CLI and
        alert rules name them."""
        return {
            f"{metric}_{item.key}": value
            for item in self.attributes
            for metric in DISPARITY_METRICS
            if (value := item.disparities.value(metric)) is not None
        }
