"""Is the challenger worse than the champion? Significance tests for two models' metrics.

Paired tests when both models scored the same labelled requests (shadow traffic): DeLong's
test for ROC AUC, McNemar's exact test for accuracy, a paired bootstrap for MAE and RMSE.
Unpaired when each model saw its own requests (canary, A/B): DeLong's variance of each AUC
summed, and an unpaired bootstrap for every other metric.

A comparison becomes a verdict against a margin (non-inferiority, as in clinical trials):
the candidate FAILS when the whole 95 % interval of (candidate - champion), oriented so that
positive is better, lies below -margin; it PASSES when the whole interval lies above -margin;
otherwise it is INCONCLUSIVE and says how many labelled rows a verdict would need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20261125
MIN_ROWS_PER_SIDE = 30  # fewer labelled rows (or positives / negatives) than this: no test

FloatArray = npt.NDArray[np.float64]
Metric = Callable[[FloatArray, FloatArray], float]


class ComparisonVerdict(StrEnum):
    PASS = "pass"  # the candidate is not worse than the champion by more than the margin
    FAIL = "fail"  # the candidate is worse by more than the margin, significantly
    INCONCLUSIVE = "inconclusive"  # not enough labelled traffic to tell


@dataclass(frozen=True)
class Comparison:
    """Candidate against champion on one metric; `difference` is candidate - champion."""

    metric: str
    method: str
    paired: bool
    candidate_n: int
    champion_n: int
    candidate: float
    champion: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float | None
    higher_is_better: bool

    @property
    def gain(self) -> tuple[float, float, float]:
        """(difference, low, high) oriented so that positive means the candidate is better."""
        if self.higher_is_better:
            return self.difference, self.ci_low, self.ci_high
        return -self.difference, -self.ci_high, -self.ci_low


@dataclass(frozen=True)
class Decision:
    """A comparison read against the margin."""

    comparison: Comparison | None
    verdict: ComparisonVerdict
    margin: float
    labels_needed: int | None  # more labelled rows a verdict needs (inconclusive only)
    reason: str


def _midranks(values: FloatArray) -> FloatArray:
    """Ranks 1..n with ties sharing their average rank (as scipy.stats.rankdata)."""
    return np.asarray(stats.rankdata(values), dtype=np.float64)


def _placements(y: FloatArray, score: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """AUC and DeLong's placement values (V10 per positive, V01 per negative), by midranks."""
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    all_ranks = _midranks(np.concatenate([pos, neg]))
    v10 = (all_ranks[:m] - _midranks(pos)) / n
    v01 = 1.0 - (all_ranks[m:] - _midranks(neg)) / m
    auc = float(v10.mean())
    return auc, v10, v01


def _auc_variance(y: FloatArray, score: FloatArray) -> tuple[float, float]:
    auc, v10, v01 = _placements(y, score)
    m, n = len(v10), len(v01)
    return auc, float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)


def _two_sided_p(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def delong_paired(y: FloatArray, candidate: FloatArray, champion: FloatArray) -> Comparison:
    """DeLong, DeLong and Clarke-Pearson (1988): correlated ROC AUCs on the same rows."""
    auc_a, v10_a, v01_a = _placements(y, candidate)
    auc_b, v10_b, v01_b = _placements(y, champion)
    m, n = len(v10_a), len(v01_a)
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    cov = s10 / m + s01 / n
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    return _normal_comparison(
        "roc_auc",
        "DeLong test (paired)",
        True,
        len(y),
        len(y),
        auc_a,
        auc_b,
        variance,
        higher_is_better=True,
    )


def delong_unpaired(
    y_candidate: FloatArray, candidate: FloatArray, y_champion: FloatArray, champion: FloatArray
) -> Comparison:
    """ROC AUCs of two independent samples: DeLong's variance of each, summed."""
    auc_a, var_a = _auc_variance(y_candidate, candidate)
    auc_b, var_b = _auc_variance(y_champion, champion)
    return _normal_comparison(
        "roc_auc",
        "DeLong test (unpaired)",
        False,
        len(y_candidate),
        len(y_champion),
        auc_a,
        auc_b,
        var_a + var_b,
        higher_is_better=True,
    )


def _normal_comparison(
    metric: str,
    method: str,
    paired: bool,
    n_a: int,
    n_b: int,
    a: float,
    b: float,
    variance: float,
    *,
    higher_is_better: bool,
) -> Comparison:
    diff = a - b
    se = math.sqrt(max(variance, 0.0))
    p = _two_sided_p(diff / se) if se > 0 else (1.0 if diff == 0 else 0.0)
    return Comparison(
        metric,
        method,
        paired,
        n_a,
        n_b,
        a,
        b,
        diff,
        diff - Z95 * se,
        diff + Z95 * se,
        p,
        higher_is_better,
    )


def mcnemar_accuracy(y: FloatArray, candidate: FloatArray, champion: FloatArray) -> Comparison:
    """McNemar's exact test on the discordant pairs; Wald interval of the paired difference."""
    right_a, right_b = candidate == y, champion == y
    n = len(y)
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(~right_a & right_b))
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else float(stats.binomtest(only_a, discordant, 0.5).pvalue)
    diff = (only_a - only_b) / n
    se = math.sqrt(max(discordant - (only_a - only_b) ** 2 / n, 0.0)) / n
    return Comparison(
        "accuracy",
        "McNemar exact test (paired)",
        True,
        n,
        n,
        float(np.mean(right_a)),
        float(np.mean(right_b)),
        diff,
        diff - Z95 * se,
        diff + Z95 * se,
        p,
        True,
    )


def paired_bootstrap(
    metric: str,
    fn: Metric,
    y: FloatArray,
    candidate: FloatArray,
    champion: FloatArray,
    *,
    higher_is_better: bool,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Resample rows with both models' outputs together; percentile interval of the difference."""
    rng = np.random.default_rng(seed)
    n = len(y)
    diffs = np.empty(draws)
    for i in range(draws):
        idx = rng.integers(0, n, n)
        diffs[i] = fn(y[idx], candidate[idx]) - fn(y[idx], champion[idx])
    a, b = fn(y, candidate), fn(y, champion)
    return _bootstrap_comparison(
        metric, "paired bootstrap", True, n, n, a, b, diffs, higher_is_better
    )


def unpaired_bootstrap(
    metric: str,
    fn: Metric,
    y_candidate: FloatArray,
    candidate: FloatArray,
    y_champion: FloatArray,
    champion: FloatArray,
    *,
    higher_is_better: bool,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Resample each model's own rows independently (canary and A/B traffic)."""
    rng = np.random.default_rng(seed)
    na, nb = len(y_candidate), len(y_champion)
    diffs = np.empty(draws)
    for i in range(draws):
        ia, ib = rng.integers(0, na, na), rng.integers(0, nb, nb)
        diffs[i] = fn(y_candidate[ia], candidate[ia]) - fn(y_champion[ib], champion[ib])
    a, b = fn(y_candidate, candidate), fn(y_champion, champion)
    return _bootstrap_comparison(
        metric, "bootstrap (unpaired)", False, na, nb, a, b, diffs, higher_is_better
    )


def _bootstrap_comparison(
    metric: str,
    method: str,
    paired: bool,
    n_a: int,
    n_b: int,
    a: float,
    b: float,
    diffs: FloatArray,
    higher_is_better: bool,
) -> Comparison:
    finite = diffs[np.isfinite(diffs)]
    low, high = (float(x) for x in np.percentile(finite, [2.5, 97.5]))
    # Two-sided bootstrap p-value: how often the resampled difference crosses zero.
    below, above = float(np.mean(finite <= 0)), float(np.mean(finite >= 0))
    p = min(1.0, 2 * min(below, above))
    return Comparison(metric, method, paired, n_a, n_b, a, b, a - b, low, high, p, higher_is_better)


def decide(comparison: Comparison, *, margin: float) -> Decision:
    """Non-inferiority reading of a comparison against `margin` (in the metric's units)."""
    _, low, high = comparison.gain
    if high < -margin:
        return Decision(
            comparison,
            ComparisonVerdict.FAIL,
            margin,
            None,
            f"worse than the champion by more than {margin:g}, significantly",
        )
    if low >= -margin:
        return Decision(
            comparison,
            ComparisonVerdict.PASS,
            margin,
            None,
            f"not worse than the champion by more than {margin:g}",
        )
    return Decision(
        comparison,
        ComparisonVerdict.INCONCLUSIVE,
        margin,
        labels_needed(comparison, margin=margin),
        "not enough labelled traffic to tell",
    )


def labels_needed(comparison: Comparison, *, margin: float) -> int | None:
    """More labelled rows until the interval clears -margin, if the difference holds.

    The half-width shrinks with 1/sqrt(n); it must fall below the distance between the
    observed gain and -margin. None when the gain sits exactly on the margin."""
    gain, low, high = comparison.gain
    half_width = (high - low) / 2
    distance = abs(gain + margin)
    if distance == 0 or half_width <= 0:
        return None
    n = comparison.candidate_n + (0 if comparison.paired else comparison.champion_n)
    needed = math.ceil(n * (half_width / distance) ** 2)
    return max(needed - n, 1)


def too_few_binary(y: FloatArray) -> str | None:
    """Why binary labelled rows cannot support a comparison, or None when they can."""
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if len(y) < MIN_ROWS_PER_SIDE:
        return f"{len(y)} labelled rows; at least {MIN_ROWS_PER_SIDE} are needed"
    if positives < MIN_ROWS_PER_SIDE or negatives < MIN_ROWS_PER_SIDE:
        return (
            f"{positives} positive and {negatives} negative labels; at least "
            f"{MIN_ROWS_PER_SIDE} of each are needed"
        )
    return None
