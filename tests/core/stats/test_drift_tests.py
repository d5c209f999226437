"""The drift statistics equal scipy's on the raw values (tolerances stated per assert)."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from vigil.core.monitor.drift.statistics import pair_statistics
from vigil.core.stats import drift_tests as stattests
from vigil.core.stats.drift_tests import (
    ColumnKind,
    Comparison,
    comparison_psi,
    ks_p_value,
    normed_wasserstein,
)

REL = 1e-9  # floating-point summation order differs between DuckDB and numpy


def exact_pair(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """KS D and Wasserstein-1 through the SQL drift runs, on value counts of the arrays."""
    con = duckdb.connect()
    con.execute("CREATE TABLE r (value DOUBLE)")
    con.execute("CREATE TABLE c (value DOUBLE)")
    con.executemany("INSERT INTO r VALUES (?)", [[float(v)] for v in reference])
    con.executemany("INSERT INTO c VALUES (?)", [[float(v)] for v in current])
    counts = "SELECT 'x' AS feature, 1 AS w, value, count(*) AS n FROM {} GROUP BY value"
    (row,) = pair_statistics(con, (counts.format("c"), []), (counts.format("r"), []))
    con.close()
    return row[2], row[3]


def check_numeric(reference: np.ndarray, current: np.ndarray) -> None:
    d, w = exact_pair(reference, current)
    expected = stats.ks_2samp(reference, current)
    assert d == pytest.approx(expected.statistic, rel=REL, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(reference, current), rel=REL, abs=1e-9)
    # p-value from the statistic alone, as scipy's method="auto" computes it
    assert ks_p_value(d, len(reference), len(current)) == pytest.approx(
        expected.pvalue, rel=1e-6, abs=1e-12
    )


def test_numeric_statistics_match_scipy_on_fixed_samples() -> None:
    rng = np.random.default_rng(1)
    check_numeric(rng.normal(0, 1, 700), rng.normal(0.3, 1.2, 400))
    check_numeric(rng.integers(18, 75, 700).astype(float), rng.integers(20, 80, 300).astype(float))
    # large samples: scipy switches to the asymptotic p-value
    check_numeric(np.round(rng.normal(0, 1, 12_000), 2), np.round(rng.normal(0.05, 1, 11_000), 2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reference=st.lists(st.integers(-50, 50), min_size=1, max_size=120),
    current=st.lists(st.integers(-50, 50), min_size=1, max_size=120),
    scale=st.sampled_from([1.0, 0.1, 1e3]),
)
def test_numeric_statistics_match_scipy_randomized(reference, current, scale) -> None:
    check_numeric(np.array(reference) * scale, np.array(current) * scale)


@settings(max_examples=60, deadline=None)
@given(
    reference=st.lists(st.integers(0, 40), min_size=2, max_size=6),
    current=st.lists(st.integers(0, 40), min_size=2, max_size=6),
)
def test_categorical_statistics_match_scipy_randomized(reference, current) -> None:
    size = max(len(reference), len(current))
    ref = tuple(float(v) for v in reference + [0] * (size - len(reference)))
    cur = tuple(float(v) for v in current + [0] * (size - len(current)))
    if sum(ref) == 0 or sum(cur) == 0:
        return
    comparison = Comparison(ColumnKind.CATEGORICAL, int(sum(ref)), int(sum(cur)), ref, cur)
    chi2 = stattests.CHI2(comparison)
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] >= 2:
        expected = stats.chi2_contingency(table, correction=False)
        assert chi2.statistic == pytest.approx(expected.statistic, rel=1e-12, abs=1e-12)
        assert chi2.p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-15)
    else:
        assert (chi2.statistic, chi2.p_value) == (0.0, 1.0)
    js = stattests.JENSEN_SHANNON(comparison).statistic
    expected_js = jensenshannon(np.array(ref) / sum(ref), np.array(cur) / sum(cur))
    assert js == pytest.approx(expected_js, rel=1e-12, abs=1e-12)


def test_psi_test_counts_missing_values_as_one_more_bin() -> None:
    """The registry's PSI is core.stats.psi over the bins plus the missing-values bin."""
    ref, cur = (50.0, 50.0, 0.0), (40.0, 50.0, 10.0)
    comparison = Comparison(
        ColumnKind.NUMERIC, 100, 100, ref, cur, reference_missing=0.0, current_missing=25.0
    )
    p = np.clip(np.array([50, 50, 0, 0]) / 100, 1e-4, None)
    q = np.clip(np.array([40, 50, 10, 25]) / 125, 1e-4, None)
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert stattests.PSI(comparison).statistic == pytest.approx(expected, rel=1e-12)
    assert comparison_psi(comparison) == pytest.approx(expected, rel=1e-12)
    without_missing = Comparison(ColumnKind.NUMERIC, 100, 100, ref, cur)
    assert comparison_psi(without_missing) < expected  # missing values move PSI
    assert math.isfinite(
        comparison_psi(Comparison(ColumnKind.NUMERIC, 10, 10, (10.0, 0.0), (0.0, 10.0)))
    )


def test_wasserstein_normed_by_reference_std_and_constant_reference_rule() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.normal(10, 2, 500), rng.normal(11, 2, 300)
    _, w = exact_pair(reference, current)
    assert normed_wasserstein(w, float(np.std(reference)), 10.0) == pytest.approx(
        stats.wasserstein_distance(reference, current) / np.std(reference), rel=REL
    )
    # constant reference: normed by the constant's magnitude, or raw units when it is 0
    d, w = exact_pair(np.full(100, 5.0), np.full(50, 6.0))
    assert (d, w) == (1.0, 1.0)
    assert normed_wasserstein(w, 0.0, 5.0) == pytest.approx(0.2)
    assert normed_wasserstein(0.0, 0.0, 5.0) == 0.0
    assert normed_wasserstein(1.5, 0.0, 0.0) == 1.5


def test_default_test_by_kind_and_reference_size() -> None:
    assert stattests.default_test(ColumnKind.NUMERIC, 700).name == "ks"
    assert stattests.default_test(ColumnKind.NUMERIC, 1001).name == "wasserstein"
    assert stattests.default_test(ColumnKind.CATEGORICAL, 1000).name == "chi2"
    assert stattests.default_test(ColumnKind.CATEGORICAL, 5000).name == "jensenshannon"


def test_scores_are_normalised_to_the_threshold() -> None:
    ks = stattests.KS
    assert ks.score(stattests.TestResult(0.2, 0.001), 0.001) == pytest.approx(1.0)
    assert ks.drifted(stattests.TestResult(0.2, 0.0009), 0.001)
    assert not ks.drifted(stattests.TestResult(0.2, 0.001), 0.001)
    w = stattests.WASSERSTEIN
    assert w.score(stattests.TestResult(0.25, None), 0.1) == pytest.approx(2.5)


def test_unknown_test_message() -> None:
    from vigil.core.errors import VigilError

    with pytest.raises(VigilError) as err:
        stattests.get_test("anderson")
    assert str(err.value) == (
        "Unknown drift test 'anderson'; known tests: ks, wasserstein, psi, chi2, jensenshannon."
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reference=st.lists(
        st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: round(x, 1)), min_size=1, max_size=200
    ),
    current=st.lists(
        st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: round(x, 1)), min_size=1, max_size=200
    ),
)
def test_numeric_statistics_match_scipy_randomized_floats(reference, current) -> None:
    check_numeric(np.array(reference), np.array(current))
