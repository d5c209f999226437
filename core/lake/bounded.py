"""KS and Wasserstein-1 from fine bins, with a proven error bound reported beside each.

Exact KS and Wasserstein need every distinct value of a window, which for a continuous
column is about one value per row. Above VIGIL_EXACT_MAX_DISTINCT distinct values in a day,
profiles keep instead, per fine bin of the reference's quantile grid (core.lake.grid), the
count and the sum of the values. From those, for one column and one window:

Notation: edges e_1 < ... < e_m; bin i is [s_i, s_i+1) with s_i = e_i for 1 <= i <= m, and
the outer bins run from lo (the smaller minimum of the two sides) to e_1 and from e_m to hi
(the larger maximum). Fr, Fc are the two empirical CDFs; in bin i, a = Fr(s_i-),
b = Fr(s_i+1-) = a + pr_i, c = Fc(s_i-), d = c + pc_i, with pr_i, pc_i the bin's shares.

KS. The binned statistic is D_b = max over edges of |Fr(e-) - Fc(e-)|, both known exactly.
It never exceeds the true D (these are limits of points D is the supremum over). Inside bin
i, Fr(x) lies in [a, b] and Fc(x) in [c, d], so
    Fr(x) - Fc(x) <= b - c = (a - c) + pr_i <= D_b + pr_i, and also
    b - c = (b - d) + pc_i <= D_b + pc_i;
symmetrically for Fc - Fr. Hence D_b <= D <= D_b + max_i min(pr_i, pc_i): the error is at
most the largest bin share, on the side where the bin holds less. With quantile bins the
reference share is about 1/4096 per bin (more where reference values tie).

Wasserstein-1 = integral of |Fr - Fc|. The integral of a CDF over a bin is exact from its
count and sum: integral over [s, t) of F = F(s-)(t - s) + p t - (sum of the bin's values)/n.
So I_i, the integral of g = Fr - Fc over bin i, is exact. Where g keeps one sign in the bin
(a >= d or b <= c), the integral of |g| is |I_i|, exactly. Otherwise, with P and N the
integrals of g's positive and negative parts, the error |g| - |I_i| is 2 min(P, N), where
P <= w_i (b - c), N <= w_i (d - a) and P - N = I_i (w_i the bin's width). The reported
value is sum |I_i| (never above the true W1) and the bound the sum of those 2 min(P, N)
bounds over the bins where g may change sign.

Both values are lower bounds: the true statistic lies in [value, value + error].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BinnedSide:
    """One side of a comparison on a fine grid of m edges: m + 1 bins."""

    counts: FloatArray  # values per bin
    totals: FloatArray  # sum of the values per bin
    lo: float  # smallest value (ignored when the side is empty)
    hi: float  # largest value

    @property
    def n(self) -> float:
        return float(self.counts.sum())


@dataclass(frozen=True)
class BoundedPair:
    """KS D and Wasserstein-1 from bins; each true value lies in [value, value + error]."""

    ks: float
    ks_error: float
    wasserstein: float
    wasserstein_error: float


def bin_values(values: npt.ArrayLike, edges: npt.ArrayLike) -> BinnedSide:
    """Bin raw values as profiles do (bin i holds edges[i-1] <= v < edges[i])."""
    array = np.asarray(values, dtype=float)
    cuts = np.asarray(edges, dtype=float)
    index = np.searchsorted(cuts, array, side="right")
    size = len(cuts) + 1
    counts: FloatArray = np.bincount(index, minlength=size).astype(float)
    totals = np.bincount(index, weights=array, minlength=size).astype(float)
    lo = float(array.min()) if array.size else 0.0
    hi = float(array.max()) if array.size else 0.0
    return BinnedSide(counts, totals, lo, hi)


def _ks(pr: FloatArray, pc: FloatArray) -> tuple[float, float]:
    cum_r, cum_c = np.cumsum(pr)[:-1], np.cumsum(pc)[:-1]  # F(e_j-) at each edge
    ks = float(np.max(np.abs(cum_r - cum_c))) if cum_r.size else 0.0
    return ks, float(np.max(np.minimum(pr, pc)))


def _bin_starts(edges: FloatArray, lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
    """Each bin's start and end, the outer bins closed at lo and hi (empty bins: width 0)."""
    starts = np.concatenate([[min(lo, edges[0]) if edges.size else lo], edges])
    ends = np.concatenate([edges, [max(hi, edges[-1]) if edges.size else hi]])
    return starts, ends


def _wasserstein(
    edges: FloatArray, reference: BinnedSide, current: BinnedSide
) -> tuple[float, float]:
    nr, nc = reference.n, current.n
    pr, pc = reference.counts / nr, current.counts / nc
    lo, hi = min(reference.lo, current.lo), max(reference.hi, current.hi)
    starts, ends = _bin_starts(edges, lo, hi)
    width = ends - starts
    a = np.concatenate([[0.0], np.cumsum(pr)[:-1]])  # Fr(s_i-)
    c = np.concatenate([[0.0], np.cumsum(pc)[:-1]])
    b, d = a + pr, c + pc
    # integral over the bin of Fr, of Fc: F(s-) w + p t - (sum in the bin) / n
    int_r = a * width + pr * ends - reference.totals / nr
    int_c = c * width + pc * ends - current.totals / nc
    area = int_r - int_c
    mixed = (a < d) & (b > c)  # g = Fr - Fc may change sign inside the bin
    positive, negative = width * (b - c), width * (d - a)
    slack = np.where(area >= 0, np.minimum(negative, positive - area), 0.0)
    slack = np.where(area < 0, np.minimum(positive, negative + area), slack)
    error = 2 * np.clip(slack, 0.0, None)
    return float(np.abs(area).sum()), float(error[mixed].sum())


def bounded_pair(edges: npt.ArrayLike, reference: BinnedSide, current: BinnedSide) -> BoundedPair:
    """KS and Wasserstein-1 of two binned samples on the same edges, with their bounds.

    Either side empty: zeros (the report shows no verdict without values on both sides)."""
    cuts = np.asarray(edges, dtype=float)
    if reference.n <= 0 or current.n <= 0:
        return BoundedPair(0.0, 0.0, 0.0, 0.0)
    ks, ks_error = _ks(reference.counts / reference.n, current.counts / current.n)
    wasserstein, wasserstein_error = _wasserstein(cuts, reference, current)
    return BoundedPair(ks, ks_error, wasserstein, wasserstein_error)
