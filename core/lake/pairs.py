"""Drift pairs from fine bins: the KS and Wasserstein of every (column, window) whose days did
not all keep their value counts, with their error bounds (core.lake.bounded).

The drift report computes exact pairs from value counts as before; for the pairs this
module returns, those counts are partial (some days kept fine bins instead), so these rows
replace them. Each side of a pair is described by three queries over its windows (the
drift report's sources): value counts, fine-bin counts and sums, and an extent (min, max,
non-null count, sum, sum of squares, and whether every day kept its values). A side without
fine bins or extent (raw rows: segments, windows cut mid-day) is exact, and is binned here
from its value counts when the other side is not.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from vigil.core.lake.bounded import BinnedSide, bounded_pair

Query = tuple[str, list[Any]]
Key = tuple[str, dt.datetime]


@dataclass(frozen=True)
class SideQueries:
    """One side's aggregates: values (feature, w, value, n); fine (feature, w, bin, n,
    total) and extent (feature, w, lo, hi, n, total, squares, exact), None for raw rows."""

    values: Query
    fine: Query | None = None
    extent: Query | None = None


@dataclass(frozen=True)
class BoundedStatistics:
    """A pair's KS and Wasserstein-1 (lower bounds) and the window's moments."""

    ks: float
    wasserstein: float
    n: int
    mean: float | None
    std: float | None
    ks_error: float
    wasserstein_error: float


@dataclass(frozen=True)
class _Extent:
    lo: float | None
    hi: float | None
    n: int
    total: float
    squares: float
    exact: bool


def _extents(con: duckdb.DuckDBPyConnection, query: Query | None) -> dict[Key, _Extent]:
    if query is None:
        return {}
    return {
        (f, w): _Extent(lo, hi, int(n or 0), float(t or 0.0), float(s or 0.0), bool(exact))
        for f, w, lo, hi, n, t, s, exact in con.execute(*query).fetchall()
    }


def _filtered(query: Query, features: set[str]) -> Query:
    return f"SELECT * FROM ({query[0]}) WHERE feature IN (SELECT unnest(?::VARCHAR[]))", [
        *query[1],
        sorted(features),
    ]


def _sides(
    con: duckdb.DuckDBPyConnection,
    side: SideQueries,
    features: set[str],
    edges: dict[str, tuple[float, ...]],
) -> dict[Key, BinnedSide]:
    """BinnedSide per (feature, w): summed fine bins, or value counts binned here."""
    query = side.fine if side.fine is not None else side.values
    frame = con.execute(*_filtered(query, features)).df()
    out: dict[Key, BinnedSide] = {}
    if frame.empty:
        return out
    frame.columns = ["feature", "w", "label", "n", *(["total"] if side.fine is not None else [])]
    for (feature, w), group in frame.groupby(["feature", "w"], sort=False, dropna=False):
        cuts = np.asarray(edges.get(str(feature), ()), dtype=float)
        n = group["n"].to_numpy(float)
        if side.fine is not None:
            index = group["label"].to_numpy(np.int64)
            total = group["total"].to_numpy(float)
            lo, hi = math.inf, -math.inf  # the side's extent says
        else:
            values = group["label"].to_numpy(float)
            index = np.searchsorted(cuts, values, side="right")
            total, lo, hi = values * n, float(values.min()), float(values.max())
        size = len(cuts) + 1
        counts = np.bincount(index, weights=n, minlength=size).astype(float)
        totals = np.bincount(index, weights=total, minlength=size).astype(float)
        key = (str(feature), w.to_pydatetime() if hasattr(w, "to_pydatetime") else w)
        out[key] = BinnedSide(counts, totals, lo, hi)
    return out


def exact_only(values: Query, bounded: dict[Key, BoundedStatistics]) -> Query:
    """Value counts less the (feature, w) pairs computed from fine bins: the exact path does
    not sort values whose pair is replaced anyway."""
    if not bounded:
        return values
    features = [f for f, _ in bounded]
    windows = [w for _, w in bounded]
    return (
        f"SELECT v.* FROM ({values[0]}) v ANTI JOIN (SELECT unnest(?::VARCHAR[]) AS feature, "
        "unnest(?::TIMESTAMP[]) AS w) b ON b.feature = v.feature AND b.w IS NOT DISTINCT FROM v.w",
        [*values[1], features, windows],
    )


def _with_extent(side: BinnedSide, extent: _Extent | None) -> BinnedSide:
    if extent is None or extent.lo is None or extent.hi is None:
        return side
    return BinnedSide(side.counts, side.totals, float(extent.lo), float(extent.hi))


def _moments(extent: _Extent | None, side: BinnedSide) -> tuple[int, float | None, float | None]:
    """n, mean and population std of a window (from its sums: one-pass, for display)."""
    if extent is None:
        n = int(side.n)
        total, squares = float(side.totals.sum()), math.nan
    else:
        n, total, squares = extent.n, extent.total, extent.squares
    if n == 0:
        return 0, None, None
    mean = total / n
    std = math.sqrt(max(squares / n - mean * mean, 0.0)) if not math.isnan(squares) else None
    return n, mean, std


def bounded_pairs(
    con: duckdb.DuckDBPyConnection,
    edges: dict[str, tuple[float, ...]],
    current: SideQueries,
    reference: SideQueries,
) -> dict[Key, BoundedStatistics]:
    """(feature, w) -> bounded statistics, for every pair where either side lost values."""
    cur_extent, ref_extent = _extents(con, current.extent), _extents(con, reference.extent)
    inexact_ref = {f for (f, _), e in ref_extent.items() if not e.exact}
    wanted = {k for k, e in cur_extent.items() if not e.exact or k[0] in inexact_ref}
    features = {f for f, _ in wanted} | {f for f in inexact_ref if f in edges}
    if not features:
        return {}
    ref_sides: dict[str, BinnedSide] = {}
    for (feature, _), side in _sides(con, reference, features, edges).items():
        ref_sides[feature] = side  # the reference is one window
    ref_ext = {f: e for (f, _), e in ref_extent.items()}
    out = {}
    for key, side in _sides(con, current, features, edges).items():
        feature = key[0]
        if key not in wanted and feature not in inexact_ref:
            continue
        cur = _with_extent(side, cur_extent.get(key))
        ref = ref_sides.get(feature)
        n, mean, std = _moments(cur_extent.get(key), side)
        if ref is None:
            out[key] = BoundedStatistics(0.0, 0.0, n, mean, std, 0.0, 0.0)
            continue
        pair = bounded_pair(edges.get(feature, ()), _with_extent(ref, ref_ext.get(feature)), cur)
        out[key] = BoundedStatistics(
            pair.ks, pair.wasserstein, n, mean, std, pair.ks_error, pair.wasserstein_error
        )
    return out
