"""Where drift's aggregates come from: stored profiles, or the same aggregates from raw rows.

Stored day profiles are summed into windows when the selection has no segment and starts and
ends at midnight; otherwise (a segment, windows of N predictions, a range cut mid-day) the
same aggregates are computed on the fly from the raw log, and not stored. With a segment,
the reference is filtered by the same segment, so like is compared with like.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.errors import VigilError
from vigil.core.monitor.profiles import ProfiledColumn
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.monitor.windows import Window, Windowing
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.stats.psi import bin_sql
from vigil.core.store.sql import quote_ident, quote_literal

Query = tuple[str, list[Any]]  # SQL and its parameters

_NO_VALUES = (
    "SELECT NULL::VARCHAR AS feature, NULL::TIMESTAMP AS w, NULL::DOUBLE AS value, 0 AS n "
    "WHERE false"
)
_NO_CATEGORIES = (
    "SELECT NULL::VARCHAR AS feature, NULL::TIMESTAMP AS w, NULL::VARCHAR AS category, 0 AS n "
    "WHERE false"
)


@dataclass(frozen=True)
class Source:
    """SQL for one side's aggregates, keyed by (feature, w): w is the window key."""

    values: Query  # feature, w, value, n   (numeric, non-null)
    categories: Query  # feature, w, category, n
    bins: Query  # feature, w, bin, n     (bins of core.stats.psi.bin_sql)
    counts: Query  # feature, w, rows, nulls
    # Stored profiles only (raw rows are exact): fine bins (feature, w, bin, n, total) and
    # extents (feature, w, min, max, n, sum, sum of squares, every day kept its values);
    # core.lake.pairs bounds KS and Wasserstein from them where values were not kept.
    fine: Query | None = None
    extent: Query | None = None


def uses_profiles(selection: Selection) -> bool:
    """Stored day profiles can serve a selection without a segment cut at midnights."""
    day_aligned = selection.start.time() == dt.time() and selection.end.time() == dt.time()
    return selection.segment is None and day_aligned


def stored_source(
    version: ModelVersion,
    *,
    scope: str,
    window_sql: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Source:
    """Profiles summed into windows; `window_sql` maps the profile's `day` to a window key."""
    where = "model_name = ? AND model_version = ? AND scope = ?"
    params: list[Any] = [version.model_name, version.model_version, scope]
    if scope == "day":
        where += " AND day >= ? AND day < ?"
        params += [start, end]

    def agg(table: str, column: str) -> Query:
        return (
            f"SELECT feature, {window_sql} AS w, {column}, sum(n) AS n FROM {table} "
            f"WHERE {where} GROUP BY ALL",
            list(params),
        )

    return Source(
        values=agg("profile_values", "value"),
        categories=agg("profile_categories", "category"),
        bins=agg("profile_bins", "bin"),
        counts=(
            f"SELECT feature, {window_sql} AS w, sum(rows) AS rows, sum(nulls) AS nulls "
            f"FROM profile_columns WHERE {where} GROUP BY ALL",
            list(params),
        ),
        fine=(
            f"SELECT feature, {window_sql} AS w, bin, sum(n) AS n, sum(total) AS total "
            f"FROM profile_fine_bins WHERE {where} GROUP BY ALL",
            list(params),
        ),
        extent=(
            f"SELECT feature, {window_sql} AS w, min(min_value), max(max_value), "
            "sum(rows - nulls), sum(sum_value), sum(sum_squares), "
            f"bool_and(coalesce(values_kept, TRUE)) FROM profile_columns WHERE {where} "
            "GROUP BY ALL",
            list(params),
        ),
    )


def raw_source(
    columns: tuple[ProfiledColumn, ...],
    version: ModelVersion,
    *,
    table: str,
    where: str,
    params: list[Any],
    window_sql: str,
) -> Source:
    """The same aggregates computed from raw rows (segments, N-prediction windows, part days)."""

    def union(selects: list[str], empty: str) -> Query:
        if not selects:
            return empty, []
        return " UNION ALL ".join(selects), [p for _ in selects for p in params]

    def grouped(column: ProfiledColumn, name: str) -> str:
        return (
            f"SELECT {quote_literal(column.name)} AS feature, {window_sql} AS w, "
            f"{column.value_sql} AS {name}, count(*) AS n FROM {table} "
            f"WHERE {where} AND {column.value_sql} IS NOT NULL GROUP BY ALL"
        )

    numeric = [grouped(c, "value") for c in columns if c.kind == ColumnKind.NUMERIC]
    categorical = [grouped(c, "category") for c in columns if c.kind == ColumnKind.CATEGORICAL]
    values = union(numeric, _NO_VALUES)
    bins = (
        f"""SELECT v.feature, v.w, {bin_sql("v.value", "b.edges")} AS bin, sum(v.n) AS n
            FROM ({values[0]}) v JOIN reference_bins b ON b.feature = v.feature
             AND b.model_name = ? AND b.model_version = ? GROUP BY ALL""",
        [*values[1], version.model_name, version.model_version],
    )
    counts = union(
        [
            f"SELECT {quote_literal(c.name)} AS feature, {window_sql} AS w, count(*) AS rows, "
            f"count(*) - count({c.value_sql}) AS nulls FROM {table} WHERE {where} GROUP BY ALL"
            for c in columns
        ],
        "",
    )
    return Source(values, union(categorical, _NO_CATEGORIES), bins, counts)


def current_source(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns: tuple[ProfiledColumn, ...],
    selection: Selection,
    windowing: Windowing,
    windows: list[Window],
) -> Source:
    """Aggregates of `selection`, keyed by `windowing`'s window keys."""
    if uses_profiles(selection) and windowing.every is None:
        return stored_source(
            version,
            scope="day",
            window_sql=windowing.key_sql("day"),
            start=selection.start.date(),
            end=selection.end.date(),
        )
    where, params = selection.where()
    return raw_source(
        columns,
        version,
        table=log_table(con, version.model_name),
        where=where,
        params=params,
        window_sql=windowing.key_sql("served_at", windows),
    )


def reference_source(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns: tuple[ProfiledColumn, ...],
    selection: Selection,
    reference: Selection | None,
) -> Source:
    """The reference side, one whole-range key: a window of the logs, or the version's
    reference data (filtered by the selection's segment, if any)."""
    whole = Windowing()
    if reference is not None:
        if reference.model_name != version.model_name:
            raise VigilError(
                f"The reference window is for {reference.model_name}, not {version.model_name}; "
                "pick a window of the same model."
            )
        return current_source(con, version, columns, reference, whole, [])
    if selection.segment is None:
        return stored_source(version, scope="reference", window_sql=whole.key_sql())
    # The version's reference data, restricted to the same segment (like with like).
    where = f"model_version = ? AND CAST({quote_ident(selection.segment.column)} AS VARCHAR) = ?"
    return raw_source(
        columns,
        version,
        table=reference_table(con, version.model_name),
        where=where,
        params=[version.model_version, selection.segment.value],
        window_sql=whole.key_sql(),
    )
