"""The one PSI, pinned against an independent computation: pandas.cut with the same edge rule,
the missing values counted as one more bin, and the formula written out by hand. The SQL
binning (run in DuckDB) equals the numpy binning, on edges and missing values too."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.core.stats.psi import (
    MISSING_BIN,
    MISSING_INDEX,
    PSI_EPSILON,
    bin_of,
    bin_sql,
    binned_counts,
    edges_literal,
    psi,
)


def independent_psi(reference: np.ndarray, current: np.ndarray, edges: np.ndarray) -> float:
    """Bins [edge_i-1, edge_i) by pandas.cut(right=False), missing values one more bin, shares
    below the epsilon raised to it, and sum((c - r) * ln(c / r))."""
    cuts = [-np.inf, *edges, np.inf]

    def shares(values: np.ndarray) -> np.ndarray:
        binned = pd.cut(pd.Series(values), cuts, right=False)
        counts = binned.value_counts(sort=False).to_numpy(dtype=float)
        counts = np.append(counts, float(np.isnan(values).sum()))
        return np.maximum(counts / counts.sum(), PSI_EPSILON)

    r, c = shares(reference), shares(current)
    return float(np.sum((c - r) * np.log(c / r)))


def shared_psi(reference: np.ndarray, current: np.ndarray, edges: np.ndarray) -> float:
    def counts(values: np.ndarray) -> dict[object, float]:
        bins = bin_of(values, edges)
        present = bins[bins != MISSING_INDEX]
        return binned_counts(
            np.bincount(present, minlength=len(edges) + 1).tolist(),
            missing=float((bins == MISSING_INDEX).sum()),
        )

    return psi(counts(reference), counts(current))


values = st.lists(
    st.one_of(st.integers(-20, 20).map(float), st.floats(-20, 20), st.just(math.nan)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reference=values,
    current=values,
    edges=st.lists(st.integers(-20, 20).map(float), min_size=0, max_size=9, unique=True),
)
def test_psi_equals_an_independent_computation(reference, current, edges) -> None:
    ref, cur, cut = np.array(reference), np.array(current), np.array(sorted(edges))
    expected = independent_psi(ref, cur, cut)
    assert shared_psi(ref, cur, cut) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_psi_on_decile_edges_of_continuous_data_with_missing_values() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(0, 1, 5000)
    current = np.where(rng.random(3000) < 0.1, np.nan, rng.normal(0.3, 1.2, 3000))
    edges = np.unique(np.quantile(reference, np.arange(1, 10) / 10))
    expected = independent_psi(reference, current, edges)
    assert shared_psi(reference, current, edges) == pytest.approx(expected, rel=1e-12)
    assert expected > shared_psi(reference, current[~np.isnan(current)], edges)


def test_psi_definition_on_small_tables() -> None:
    ref, cur = {0: 50.0, 1: 50.0, 2: 0.0}, {0: 40.0, 1: 50.0, 2: 10.0}
    p, q = np.array([0.5, 0.5, 1e-4]), np.array([0.4, 0.5, 0.1])
    assert psi(ref, cur) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    assert psi(ref, ref) == 0.0
    assert math.isfinite(psi({0: 10.0, 1: 0.0}, {0: 0.0, 1: 10.0}))
    assert math.isnan(psi({}, cur))
    # a column that starts arriving empty moves PSI
    assert psi(ref, {MISSING_BIN: 100.0}) > 5
    assert binned_counts([3, 0, 2]) == {0: 3.0, 1: 0.0, 2: 2.0}
    assert binned_counts([3], missing=4) == {0: 3.0, MISSING_BIN: 4.0}


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.one_of(st.integers(-5, 5).map(float), st.floats(-5, 5), st.none()),
        min_size=1,
        max_size=60,
    ),
    edges=st.lists(st.integers(-5, 5).map(float), min_size=0, max_size=6, unique=True),
)
def test_bin_sql_in_duckdb_equals_bin_of_in_numpy(data, edges) -> None:
    """Values on the edges go up in both; NULL (SQL) and NaN (numpy) are the missing bin."""
    cut = sorted(edges)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, v DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(data)))
    got = [
        b
        for _, b in con.execute(
            f"SELECT i, {bin_sql('v', edges_literal(cut))} FROM t ORDER BY i"
        ).fetchall()
    ]
    con.close()
    expected = bin_of([math.nan if v is None else v for v in data], cut).tolist()
    assert got == expected
    assert all((b == MISSING_INDEX) == (v is None) for b, v in zip(got, data, strict=True))


def test_values_on_an_edge_go_up() -> None:
    edges = [1.0, 2.0, 3.0]
    assert bin_of([0.5, 1.0, 1.5, 2.0, 3.0, 9.0, math.nan], edges).tolist() == [
        0,
        1,
        1,
        2,
        3,
        3,
        MISSING_INDEX,
    ]
