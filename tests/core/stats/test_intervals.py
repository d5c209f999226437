"""Intervals against scipy: Wilson, the normal approximation, bootstrap percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from vigil.core.stats.intervals import (
    Z95,
    IntervalMethod,
    normal_half_width,
    percentile_interval,
    wilson,
)


@given(n=st.integers(1, 5000), share=st.floats(0, 1))
def test_wilson_equals_scipy(n: int, share: float) -> None:
    k = round(share * n)
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    found = wilson(k, n)
    assert found.value == pytest.approx(k / n)
    assert found.low == pytest.approx(expected.low, abs=1e-12)
    assert found.high == pytest.approx(expected.high, abs=1e-12)
    assert found.method is IntervalMethod.WILSON
    assert wilson(0, 0).value is None


def test_normal_half_width_and_z() -> None:
    assert stats.norm.ppf(0.975) == pytest.approx(Z95, rel=1e-15)
    assert normal_half_width(2.0, 400) == pytest.approx(Z95 * 2.0 / 20.0)
    assert normal_half_width(None, 10) is None


def test_percentile_interval_equals_numpy_on_finite_draws() -> None:
    draws = np.random.default_rng(3).normal(size=500)
    mixed = np.concatenate([draws, [np.nan, np.inf]])
    interval = percentile_interval(mixed)
    assert interval is not None
    assert (interval.low, interval.high) == tuple(np.percentile(draws, [2.5, 97.5]))
    assert percentile_interval([np.nan]) is None
