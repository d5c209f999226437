"""Compare every column of every window with the reference: pull the aggregates of both
sides out of DuckDB once, align them per column (numeric bins or categories), and judge."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from vigil.core.monitor.drift import cache as pair_cache
from vigil.core.monitor.drift.results import ColumnDrift
from vigil.core.monitor.drift.settings import DriftSettings
from vigil.core.monitor.drift.sources import Query, Source
from vigil.core.monitor.drift.statistics import PairStatistics, reference_moments, reference_std
from vigil.core.monitor.drift.verdicts import Moments, judge
from vigil.core.monitor.profiles import ColumnRole, ProfiledColumn, reference_edges
from vigil.core.monitor.windows import Window
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats.drift_tests import (
    KS,
    WASSERSTEIN,
    ColumnKind,
    Comparison,
    normed_wasserstein,
)

Key = tuple[str, dt.datetime]  # (column, window key)


@dataclass(frozen=True)
class Aggregates:
    """Both sides' aggregates, as pulled from DuckDB (the reference has one window)."""

    counts: dict[Key, tuple[int, int]]  # rows, nulls
    reference_counts: dict[str, tuple[int, int]]
    reference_mean: dict[str, float]
    reference_std: dict[str, float]
    pairs: dict[Key, PairStatistics]
    bins: dict[Key, dict[int, float]]
    reference_bins: dict[str, dict[int, float]]
    categories: dict[Key, dict[str, float]]
    reference_categories: dict[str, dict[str, float]]
    edges: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class Sizes:
    """Non-missing and missing values on each side of one column in one window."""

    reference_n: int
    current_n: int
    reference_missing: int
    current_missing: int


def _per_window(con: duckdb.DuckDBPyConnection, query: Query) -> dict[Key, dict[Any, float]]:
    out: dict[Key, dict[Any, float]] = defaultdict(dict)
    for feature, w, label, n in con.execute(*query).fetchall():
        out[(feature, w)][label] = float(n)
    return out


def _summed(con: duckdb.DuckDBPyConnection, query: Query) -> dict[str, dict[Any, float]]:
    out: dict[str, dict[Any, float]] = defaultdict(dict)
    for feature, _, label, n in con.execute(*query).fetchall():
        out[feature][label] = out[feature].get(label, 0.0) + float(n)
    return out


def gather(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    current: Source,
    reference: Source,
    cache: dict[dt.datetime, Window] | None,
) -> Aggregates:
    """Everything the comparison needs, in a handful of queries (aggregates only)."""
    counts = {(f, w): (int(r), int(n)) for f, w, r, n in con.execute(*current.counts).fetchall()}
    ref_counts = {f: (int(r), int(n)) for f, _, r, n in con.execute(*reference.counts).fetchall()}
    return Aggregates(
        counts=counts,
        reference_counts=ref_counts,
        reference_mean=reference_moments(con, reference.values),
        reference_std=reference_std(con, reference.values),
        pairs=pair_cache.pairs(con, version, current, reference, cache),
        bins=_per_window(con, current.bins),
        reference_bins=_summed(con, reference.bins),
        categories=_per_window(con, current.categories),
        reference_categories=_summed(con, reference.categories),
        edges=reference_edges(con, version),
    )


def bin_labels(edges: tuple[float, ...]) -> tuple[str, ...]:
    """'< 1', '[1, 2)', '>= 2': bin i holds edges[i-1] <= v < edges[i]."""
    if not edges:
        return ("all values",)
    fmt = "{:.4g}".format
    labels = [f"< {fmt(edges[0])}"]
    labels += [f"[{fmt(a)}, {fmt(b)})" for a, b in itertools.pairwise(edges)]
    labels.append(f">= {fmt(edges[-1])}")
    return tuple(labels)


def _numeric(
    column: str, key: dt.datetime, agg: Aggregates, sides: Sizes
) -> tuple[Comparison, tuple[str, ...], Moments]:
    edges = agg.edges.get(column, ())
    n_bins = len(edges) + 1
    ref_bins, current_bins = agg.reference_bins.get(column, {}), agg.bins.get((column, key), {})
    pair = agg.pairs.get((column, key), PairStatistics(0.0, 0.0, 0, None, None))
    mean_ref = agg.reference_mean.get(column, 0.0)
    comparison = Comparison(
        kind=ColumnKind.NUMERIC,
        reference_n=sides.reference_n,
        current_n=sides.current_n,
        reference_counts=tuple(ref_bins.get(i, 0.0) for i in range(n_bins)),
        current_counts=tuple(current_bins.get(i, 0.0) for i in range(n_bins)),
        reference_mean=mean_ref,
        reference_std=agg.reference_std.get(column, 0.0),
        ks_statistic=pair.ks,
        wasserstein=pair.wasserstein,
        reference_missing=sides.reference_missing,
        current_missing=sides.current_missing,
    )
    moments = Moments(mean_ref, pair.mean, agg.reference_std.get(column), pair.std)
    return comparison, bin_labels(edges), moments


def _categorical(
    column: str, key: dt.datetime, agg: Aggregates, sides: Sizes
) -> tuple[Comparison, tuple[str, ...], Moments]:
    """Categories: the reference's by count, then categories unseen in it by count."""
    ref_map = agg.reference_categories.get(column, {})
    cur_map = agg.categories.get((column, key), {})
    seen = sorted(ref_map, key=lambda c: (-ref_map[c], c))
    unseen = sorted((c for c in cur_map if c not in ref_map), key=lambda c: (-cur_map[c], c))
    labels = (*seen, *unseen)
    comparison = Comparison(
        kind=ColumnKind.CATEGORICAL,
        reference_n=sides.reference_n,
        current_n=sides.current_n,
        reference_counts=tuple(ref_map.get(c, 0.0) for c in labels),
        current_counts=tuple(cur_map.get(c, 0.0) for c in labels),
        reference_missing=sides.reference_missing,
        current_missing=sides.current_missing,
    )
    return comparison, labels, Moments()


def compare_column(
    column: ProfiledColumn,
    key: dt.datetime,
    agg: Aggregates,
    settings: DriftSettings,
    feature_count: int,
) -> ColumnDrift:
    """One column in one window: its test (Bonferroni over features for p-value tests)."""
    rows, nulls = agg.counts.get((column.name, key), (0, 0))
    ref_rows, ref_nulls = agg.reference_counts.get(column.name, (0, 0))
    sides = Sizes(ref_rows - ref_nulls, rows - nulls, ref_nulls, nulls)
    test, threshold = settings.test_for(column.name, column.kind, sides.reference_n)
    if test.uses_p_value:
        threshold = threshold / max(feature_count, 1)
    align = _numeric if column.kind == ColumnKind.NUMERIC else _categorical
    comparison, labels, moments = align(column.name, key, agg, sides)
    result = judge(column, comparison, test, threshold, labels, moments)
    pair = agg.pairs.get((column.name, key))
    if result.statistic is None or test.name not in (KS.name, WASSERSTEIN.name):
        return result
    if pair is None:
        return replace(result, statistic_error=0.0)
    if test.name == KS.name:
        return replace(result, statistic_error=pair.ks_error)
    scale = (comparison.reference_std or 0.0, comparison.reference_mean or 0.0)
    return replace(result, statistic_error=normed_wasserstein(pair.wasserstein_error, *scale))


def compare(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns: tuple[ProfiledColumn, ...],
    sides: tuple[Source, Source],
    windows: dict[dt.datetime, Window],
    settings: DriftSettings,
    cacheable: bool,
) -> dict[dt.datetime, tuple[int, list[ColumnDrift]]]:
    """Per window key: the window's rows and every column's drift against the reference."""
    current, reference = sides
    agg = gather(con, version, current, reference, windows if cacheable else None)
    feature_count = sum(1 for c in columns if c.role == ColumnRole.FEATURE)
    out = {}
    for key in windows:
        rows = max((agg.counts.get((c.name, key), (0, 0))[0] for c in columns), default=0)
        out[key] = (rows, [compare_column(c, key, agg, settings, feature_count) for c in columns])
    return out
