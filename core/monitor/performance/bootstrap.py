"""Bootstrap intervals on the score table, and the expected calibration error.

Resampling the score table's cells (a multinomial draw over (score, outcome) counts) is the
same as resampling raw rows with replacement, without pulling the rows out of DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.core.monitor.performance.metrics import BIN_EDGES, LOG_EPS, N_BINS, FloatArray
from vigil.core.monitor.performance.results import ReliabilityBin
from vigil.core.stats.intervals import Estimate, IntervalMethod, percentile_interval

BOOTSTRAP_DRAWS = 200
BOOTSTRAP_SEED = 20261125
BOOTSTRAPPED = ("roc_auc", "f1", "log_loss", "brier", "ece")
MAX_CELLS_PER_CHUNK = 2_000_000  # draws x cells held in memory at once


def bootstrap_binary(
    *,
    scores: FloatArray,
    positives: FloatArray,
    negatives: FloatArray,
    threshold: float,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Estimate]:
    """Percentile intervals for AUC, F1, log loss, Brier and ECE by resampling the cells of the
    score table (multinomial over (score, outcome) counts = resampling rows with replacement)."""
    counts = np.concatenate([positives, negatives])
    total = int(counts.sum())
    if total == 0:
        return {n: Estimate(None, method=IntervalMethod.BOOTSTRAP) for n in BOOTSTRAPPED}
    rng = np.random.default_rng(seed)
    k = len(scores)
    results: dict[str, list[FloatArray]] = {n: [] for n in BOOTSTRAPPED}
    chunk = max(1, min(draws, MAX_CELLS_PER_CHUNK // max(2 * k, 1)))
    done = 0
    while done < draws:
        size = min(chunk, draws - done)
        m = rng.multinomial(total, counts / total, size=size).astype(float)
        values = _metrics_of_draws(m[:, :k], m[:, k:], scores, threshold, total)
        for name, draw_values in zip(BOOTSTRAPPED, values, strict=True):
            results[name].append(draw_values)
        done += size
    out = {}
    for name in BOOTSTRAPPED:
        interval = percentile_interval(np.concatenate(results[name]))
        out[name] = (
            Estimate(None, method=IntervalMethod.BOOTSTRAP)
            if interval is None
            else Estimate(None, interval.low, interval.high, IntervalMethod.BOOTSTRAP)
        )
    return out


def _metrics_of_draws(
    pos: FloatArray, neg: FloatArray, scores: FloatArray, threshold: float, total: int
) -> tuple[FloatArray, ...]:
    """AUC, F1, log loss, Brier and ECE of each resample (rows: draws, columns: cells)."""
    predicted = scores >= threshold
    clipped = np.clip(scores, LOG_EPS, 1 - LOG_EPS)
    clipped_neg = np.clip(1 - scores, LOG_EPS, 1 - LOG_EPS)
    bins = np.searchsorted(np.array(BIN_EDGES[1:-1]), scores, side="left")
    onehot = np.zeros((len(scores), N_BINS))
    onehot[np.arange(len(scores)), bins] = 1.0
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = np.cumsum(neg, axis=1) - neg
        auc = (pos * (below + 0.5 * neg)).sum(1) / (n_pos * n_neg)
        tp = pos[:, predicted].sum(1)
        fp = neg[:, predicted].sum(1)
        fn = n_pos - tp
        f1 = 2 * tp / (2 * tp + fp + fn)
        log_loss = (pos @ -np.log(clipped) + neg @ -np.log(clipped_neg)) / total
        brier = (pos @ (1 - scores) ** 2 + neg @ scores**2) / total
        ece = np.abs(pos @ onehot - ((pos + neg) * scores) @ onehot).sum(1) / total
    return auc, f1, log_loss, brier, ece


def ece_from_bins(bins: Sequence[ReliabilityBin]) -> float | None:
    total = sum(b.count for b in bins)
    if total == 0:
        return None
    return sum(b.count * abs(b.observed_rate - b.mean_predicted) for b in bins) / total


def ece_from_scores(
    *, scores: FloatArray, positives: FloatArray, negatives: FloatArray
) -> float | None:
    """Expected calibration error of a score table (the same bins as the windows use)."""
    n = positives + negatives
    total = n.sum()
    if total == 0:
        return None
    bins = np.searchsorted(np.array(BIN_EDGES[1:-1]), scores, side="left")
    observed = np.bincount(bins, weights=positives, minlength=N_BINS)
    predicted = np.bincount(bins, weights=n * scores, minlength=N_BINS)
    return float(np.abs(observed - predicted).sum() / total)
