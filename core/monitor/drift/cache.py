"""Exact KS / Wasserstein of whole-day windows against the version's reference data, kept in
drift_pair_cache. A profile refresh deletes the rows of every window a recomputed day fed
(core.monitor.profiles), so a cached pair is always the pair of the current data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd

from vigil.core.lake.grid import load_grid
from vigil.core.lake.pairs import SideQueries, bounded_pairs, exact_only
from vigil.core.monitor.drift.sources import Source
from vigil.core.monitor.drift.statistics import (
    PairRow,
    PairStatistics,
    as_pairs,
    pair_statistics,
)
from vigil.core.monitor.windows import Window
from vigil.core.registry.versions import ModelVersion

_CACHED = "*"  # a window's marker row: this window has been computed
_COLUMNS = [
    "model_name",
    "model_version",
    "window_start",
    "window_end",
    "feature",
    "ks",
    "wasserstein",
    "n_cur",
    "mean_cur",
    "std_cur",
    "ks_error",
    "wasserstein_error",
]


def _computed(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, current: Source, reference: Source
) -> list[PairRow]:
    """Exact pairs from value counts; where some day kept fine bins instead of its values,
    the pair from fine bins with its error bounds (core.lake.pairs) replaces it."""
    edges = load_grid(con, version.model_name, version.model_version).fine
    sides = [SideQueries(s.values, s.fine, s.extent) for s in (current, reference)]
    bounded = bounded_pairs(con, edges, *sides)
    rows = pair_statistics(con, exact_only(current.values, bounded), reference.values)
    return rows + [
        (f, w, b.ks, b.wasserstein, b.n, b.mean, b.std, b.ks_error, b.wasserstein_error)
        for (f, w), b in bounded.items()
    ]


def pairs(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    current: Source,
    reference: Source,
    cache: dict[dt.datetime, Window] | None,
) -> dict[tuple[str, dt.datetime], PairStatistics]:
    """(feature, w) -> pair statistics; read from or written to drift_pair_cache when `cache`
    maps every window key to its whole-day window against the version's reference data."""
    if cache is None:
        return as_pairs(_computed(con, version, current, reference))
    key = [version.model_name, version.model_version]
    con.execute("CREATE OR REPLACE TEMP TABLE wanted (w TIMESTAMP, s TIMESTAMP, e TIMESTAMP)")
    con.execute(
        "INSERT INTO wanted SELECT unnest(?::TIMESTAMP[]), unnest(?::TIMESTAMP[]), "
        "unnest(?::TIMESTAMP[])",
        [list(cache), [w.start for w in cache.values()], [w.end for w in cache.values()]],
    )
    found = con.execute(
        "SELECT count(DISTINCT (c.window_start, c.window_end)) FROM drift_pair_cache c "
        "JOIN wanted ON c.window_start = wanted.s AND c.window_end = wanted.e "
        "WHERE c.model_name = ? AND c.model_version = ? AND c.feature = ?",
        [*key, _CACHED],
    ).fetchone()
    if found is not None and found[0] == len(cache):
        rows: list[Any] = con.execute(
            "SELECT c.feature, wanted.w, ks, wasserstein, n_cur, mean_cur, std_cur, "
            "coalesce(ks_error, 0), coalesce(wasserstein_error, 0) "
            "FROM drift_pair_cache c JOIN wanted ON c.window_start = wanted.s "
            "AND c.window_end = wanted.e WHERE c.model_name = ? AND c.model_version = ? "
            "AND c.feature <> ?",
            [*key, _CACHED],
        ).fetchall()
    else:
        rows = _computed(con, version, current, reference)
        _store(con, key, cache, rows)
    con.execute("DROP TABLE wanted")
    return as_pairs(rows)


def _store(
    con: duckdb.DuckDBPyConnection,
    key: list[str],
    cache: dict[dt.datetime, Window],
    rows: list[PairRow],
) -> None:
    con.execute(
        "DELETE FROM drift_pair_cache WHERE model_name = ? AND model_version = ? AND "
        "(window_start, window_end) IN (SELECT (s, e) FROM wanted)",
        key,
    )
    # one marker row per window says it was computed, even when it holds no values
    markers: list[PairRow] = [(_CACHED, w, 0.0, 0.0, 0, None, None, 0.0, 0.0) for w in cache]
    fresh = pd.DataFrame(
        [
            [*key, cache[w].start, cache[w].end, f, ks, wd, n, m, sd, ke, we]
            for f, w, ks, wd, n, m, sd, ke, we in [*rows, *markers]
        ],
        columns=_COLUMNS,
    )
    con.register("fresh_pairs", fresh)
    con.execute("INSERT INTO drift_pair_cache BY NAME SELECT * FROM fresh_pairs")
    con.unregister("fresh_pairs")
