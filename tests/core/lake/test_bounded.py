"""Binned KS and Wasserstein against scipy on raw values: the true value lies in
[value, value + error] on random data, and the bound is tight where it should be."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from vigil.core.lake.bounded import bin_values, bounded_pair
from vigil.core.lake.grid import FINE_QUANTILES, merge_edges


def _edges(reference: np.ndarray, quantiles: tuple[float, ...] = FINE_QUANTILES) -> tuple:
    return merge_edges(list(np.quantile(reference, quantiles)), ())


def _check(reference: np.ndarray, current: np.ndarray, edges: tuple) -> None:
    pair = bounded_pair(edges, bin_values(reference, edges), bin_values(current, edges))
    ks = stats.ks_2samp(reference, current).statistic
    w1 = stats.wasserstein_distance(reference, current)
    scale = 1e-9 * (1 + np.abs(np.concatenate([reference, current])).max())
    assert pair.ks - 1e-12 <= ks <= pair.ks + pair.ks_error + 1e-12
    assert pair.wasserstein - scale <= w1 <= pair.wasserstein + pair.wasserstein_error + scale


samples = st.integers(min_value=1, max_value=3000)


@settings(max_examples=60, deadline=None)
@given(
    n_ref=samples,
    n_cur=samples,
    shift=st.floats(-3, 3),
    spread=st.floats(0.1, 4),
    grid=st.sampled_from([4, 64, 4096]),
    rounding=st.sampled_from([None, 0, 1, 3]),
    seed=st.integers(0, 2**31),
)
def test_binned_statistics_bound_scipy_on_random_data(
    n_ref: int,
    n_cur: int,
    shift: float,
    spread: float,
    grid: int,
    rounding: int | None,
    seed: int,
) -> None:
    """Continuous and rounded (tied) values, any grid size, shifts inside and outside the
    reference's range: scipy's exact values always lie within the reported bounds."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 1, n_ref)
    current = rng.normal(shift, spread, n_cur)
    if rounding is not None:
        reference, current = reference.round(rounding), current.round(rounding)
    quantiles = tuple(k / grid for k in range(1, grid))
    _check(reference, current, _edges(reference, quantiles))


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
    other=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
)
def test_bounds_hold_for_arbitrary_values(values: list[float], other: list[float]) -> None:
    reference, current = np.array(values), np.array(other)
    _check(reference, current, _edges(reference, tuple(k / 16 for k in range(1, 16))))


def test_the_ks_error_is_at_most_the_largest_reference_bin_share_on_a_fine_grid() -> None:
    """4,096 quantile bins of a continuous reference: each holds ~1/4096 of it, so the KS
    error is about 0.00024 and the binned values are within it of scipy's."""
    rng = np.random.default_rng(7)
    reference, current = rng.normal(0, 1, 200_000), rng.normal(0.05, 1.1, 300_000)
    edges = _edges(reference)
    pair = bounded_pair(edges, bin_values(reference, edges), bin_values(current, edges))
    assert pair.ks_error <= 1.01 / 4096
    exact_ks = stats.ks_2samp(reference, current).statistic
    exact_w = stats.wasserstein_distance(reference, current)
    assert pair.ks <= exact_ks <= pair.ks + pair.ks_error
    assert pair.wasserstein <= exact_w + 1e-12
    assert exact_w <= pair.wasserstein + pair.wasserstein_error
    # the default drift threshold is W1 / std > 0.1: the bound is 2 % of it
    assert pair.wasserstein_error / reference.std() < 0.002


def test_same_sample_on_both_sides_is_zero_within_small_bounds() -> None:
    """Bins cannot tell two samples apart inside a bin, so W1 keeps a small bound even here."""
    values = np.random.default_rng(1).normal(size=5000)
    edges = _edges(values)
    side = bin_values(values, edges)
    pair = bounded_pair(edges, side, side)
    assert pair.ks == 0.0
    assert pair.ks_error <= 1.01 / 4096 + 1 / 5000
    assert pair.wasserstein == pytest.approx(0.0, abs=1e-12)
    assert 0 < pair.wasserstein_error < 0.01


def test_disjoint_samples_are_bounded_by_the_shared_last_bin() -> None:
    """Current entirely above the reference: every bin but the last holds one side only, so
    only the last bin (1 of the reference's 1,000 values) leaves room for error."""
    rng = np.random.default_rng(2)
    reference, current = rng.uniform(0, 1, 1000), rng.uniform(5, 6, 800)
    edges = _edges(reference)
    pair = bounded_pair(edges, bin_values(reference, edges), bin_values(current, edges))
    assert pair.ks == pytest.approx(0.999) and pair.ks_error == pytest.approx(0.001)
    exact = stats.wasserstein_distance(reference, current)
    assert pair.wasserstein <= exact <= pair.wasserstein + pair.wasserstein_error
    assert pair.wasserstein_error <= 2 * 0.001 * (current.max() - edges[-1]) + 1e-12


def test_an_empty_side_gives_zeros_and_no_edges_give_one_bin() -> None:
    empty = bin_values(np.array([]), (0.0, 1.0))
    full = bin_values(np.array([0.5, 2.0]), (0.0, 1.0))
    assert bounded_pair((0.0, 1.0), empty, full).ks == 0.0
    one_bin = bounded_pair((), bin_values(np.array([1.0, 2.0]), ()), bin_values([3.0], ()))
    assert one_bin.ks == 0.0 and one_bin.ks_error == 1.0  # one bin: KS unknown in [0, 1]
    assert one_bin.wasserstein == pytest.approx(1.5)  # no sign change: exact
