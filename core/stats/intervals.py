"""Confidence intervals, defined once: Wilson for proportions, the normal approximation for
means, and percentile intervals of bootstrap draws. Performance, service health, estimation
and fairness all use these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


class IntervalMethod(StrEnum):
    WILSON = "wilson"
    BOOTSTRAP = "bootstrap"
    NORMAL = "normal"
    NONE = "none"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Estimate:
    """A value with an optional 95 % interval and how the interval was made."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: IntervalMethod = IntervalMethod.NONE


def wilson(successes: float, n: float, z: float = Z95) -> Estimate:
    """Wilson score interval for a proportion (counts may be expected, fractional counts)."""
    if n <= 0:
        return Estimate(None, method=IntervalMethod.WILSON)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), IntervalMethod.WILSON)


def normal_half_width(sd: float | None, n: int, z: float = Z95) -> float | None:
    """Half width of the normal-approximation interval of a mean; None without a spread."""
    if sd is None or n <= 0:
        return None
    return z * sd / math.sqrt(n)


def percentile_interval(draws: npt.ArrayLike, confidence: float = CONFIDENCE) -> Interval | None:
    """The central `confidence` percentile interval of bootstrap draws (non-finite ones
    dropped: a resample where a metric is undefined says nothing about its spread)."""
    values = np.asarray(draws, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = round((1 - confidence) * 50, 10)  # 2.5 for 95 %, without a floating-point tail
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))
