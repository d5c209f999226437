"""Mergeable profiles: per (model, version, UTC day) and per reference, computed in DuckDB.

What is stored (migration 2), for every profiled column of a version (its features, the
prediction score, and for binary classifiers the predicted class):
- profile_columns: rows, nulls, min, max, sum, sum of squares (mean and std derive from them);
- profile_values: numeric value counts (value, n). They make Kolmogorov–Smirnov and
  Wasserstein exact after merging, and they are small when values repeat (integers, rounded
  amounts, scores with few digits); for high-precision continuous data they hold about one
  row per logged row, which is the price of exactness;
- profile_bins: numeric histograms on the REFERENCE's bins (interior cut points at the
  reference deciles, stored per version in reference_bins; bin i holds cut[i-1] <= v < cut[i],
  core.stats.psi's edge rule);
- profile_categories: category counts; categories unseen in the reference are their own rows.

Days merge into weeks, months or any whole-day range by summing. New logs update only the
days they touch: profile_days records each day's highest batch_id, and a refresh recomputes
the days holding rows with a newer batch_id (ingestion commits batches in id order: one
writer per store). The reference profile is computed once per version. Segment-filtered
profiles are not stored: core.monitor.drift computes them on the fly from the raw log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.monitor.selection import log_table, reference_table
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.stats.psi import bin_sql
from vigil.core.store.sql import quote_ident, quote_literal

REFERENCE_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PREDICTION = "prediction"
PREDICTED_CLASS = "predicted_class"
PROFILE_TABLES = ("profile_columns", "profile_values", "profile_bins", "profile_categories")


class ColumnRole(StrEnum):
    FEATURE = "feature"
    PREDICTION = "prediction"


@dataclass(frozen=True)
class ProfiledColumn:
    """One column profiles hold: its name, kind, role and SQL expression."""

    name: str
    kind: ColumnKind
    role: ColumnRole
    expression: str  # over the log or reference table's columns

    @property
    def value_sql(self) -> str:
        cast = "DOUBLE" if self.kind == ColumnKind.NUMERIC else "VARCHAR"
        return f"CAST({self.expression} AS {cast})"


@dataclass(frozen=True)
class RefreshResult:
    days_recomputed: tuple[dt.date, ...]
    reference_computed: bool


def profiled_columns(version: ModelVersion) -> tuple[ProfiledColumn, ...]:
    num, cat = ColumnKind.NUMERIC, ColumnKind.CATEGORICAL
    columns = [
        ProfiledColumn(
            f.name, cat if f.categorical else num, ColumnRole.FEATURE, quote_ident(f.name)
        )
        for f in version.features
    ]
    columns.append(ProfiledColumn(PREDICTION, num, ColumnRole.PREDICTION, "prediction"))
    if version.task == "binary_classification":
        threshold = 0.5 if version.decision_threshold is None else version.decision_threshold
        columns.append(
            ProfiledColumn(
                PREDICTED_CLASS,
                cat,
                ColumnRole.PREDICTION,
                f"CASE WHEN prediction IS NULL THEN NULL WHEN prediction >= {float(threshold)!r} "
                "THEN 'positive' ELSE 'negative' END",
            )
        )
    return tuple(columns)


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: list[Any]) -> Any:
    """The first column of the first row (aggregates always return one row)."""
    row = con.execute(query, params).fetchone()
    return None if row is None else row[0]


def _key(version: ModelVersion) -> list[str]:
    return [version.model_name, version.model_version]


def reference_edges(
    con: duckdb.DuckDBPyConnection, version: ModelVersion
) -> dict[str, tuple[float, ...]]:
    """Interior bin cut points per numeric column, as stored for the version."""
    rows = con.execute(
        "SELECT feature, edges FROM reference_bins WHERE model_name = ? AND model_version = ?",
        _key(version),
    ).fetchall()
    return {feature: tuple(edges) for feature, edges in rows}


def _insert_profiles(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    *,
    scope: str,
    source: str,
    day_sql: str,
    params: list[Any],
) -> None:
    """Insert value counts, categories, bins and column stats for rows of `source`.

    `source` is a table expression filtered by `params`; `day_sql` maps a row to its day
    (NULL for the reference).
    """
    key = _key(version)
    columns = profiled_columns(version)
    head = f"SELECT ?, ?, {quote_literal(scope)}, day, "
    for column in columns:
        table = "profile_values" if column.kind == ColumnKind.NUMERIC else "profile_categories"
        con.execute(
            f"INSERT INTO {table} {head}{quote_literal(column.name)}, v, count(*) FROM ("
            f"SELECT {day_sql} AS day, {column.value_sql} AS v FROM {source}) "
            "WHERE v IS NOT NULL GROUP BY day, v",
            key + params,
        )
    # rows and non-null counts per day, one pass; UNPIVOT turns them into one row per column
    counts = ", ".join(f"count({c.value_sql}) AS {quote_ident(c.name)}" for c in columns)
    names = ", ".join(quote_ident(c.name) for c in columns)
    con.execute(
        "INSERT INTO profile_columns (model_name, model_version, scope, day, feature, rows, nulls) "
        f"SELECT ?, ?, {quote_literal(scope)}, day, feature, rows, rows - present FROM ("
        f"UNPIVOT (SELECT {day_sql} AS day, count(*) AS rows, {counts} FROM {source} GROUP BY day) "
        f"ON {names} INTO NAME feature VALUE present)",
        key + params,
    )
    _column_stats(con, key, scope)
    _bins(con, key, scope)


def _column_stats(con: duckdb.DuckDBPyConnection, key: list[str], scope: str) -> None:
    """min, max, sum and sum of squares per column, from the value counts just inserted."""
    day_match = "v.day = c.day" if scope == "day" else "v.day IS NULL AND c.day IS NULL"
    scope_filter = "c.model_name = ? AND c.model_version = ? AND c.scope = ?" + (
        " AND c.day IN (SELECT day FROM profile_dirty_days)" if scope == "day" else ""
    )
    con.execute(
        f"""
        UPDATE profile_columns c SET min_value = s.lo, max_value = s.hi, sum_value = s.total,
            sum_squares = s.squares
        FROM (SELECT v.day, v.feature, min(v.value) AS lo, max(v.value) AS hi,
                     sum(v.value * v.n) AS total, sum(v.value * v.value * v.n) AS squares
              FROM profile_values v
              WHERE v.model_name = ? AND v.model_version = ? AND v.scope = ?
                {"AND v.day IN (SELECT day FROM profile_dirty_days)" if scope == "day" else ""}
              GROUP BY v.day, v.feature) s
        WHERE {scope_filter} AND c.feature = s.feature
          AND {day_match.replace("v.", "s.")}
        """,
        [*key, scope, *key, scope],
    )


def _bins(con: duckdb.DuckDBPyConnection, key: list[str], scope: str) -> None:
    """Histograms on the reference's bins (core.stats.psi.bin_sql), from the value counts."""
    con.execute(
        f"""
        INSERT INTO profile_bins
        SELECT v.model_name, v.model_version, v.scope, v.day, v.feature,
               {bin_sql("v.value", "b.edges")} AS bin, sum(v.n)
        FROM profile_values v JOIN reference_bins b
          ON b.model_name = v.model_name AND b.model_version = v.model_version
         AND b.feature = v.feature
        WHERE v.model_name = ? AND v.model_version = ? AND v.scope = ?
          {"AND v.day IN (SELECT day FROM profile_dirty_days)" if scope == "day" else ""}
        GROUP BY ALL
        """,
        [*key, scope],
    )


def ensure_reference_profile(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> bool:
    """Profile the version's reference data once (bins from its deciles). True if computed now."""
    key = _key(version)
    done = con.execute(
        "SELECT 1 FROM profile_references WHERE model_name = ? AND model_version = ?", key
    ).fetchone()
    if done:
        return False
    table = reference_table(con, version.model_name)
    source = f"{table} WHERE model_version = ?"
    quantiles = "[" + ", ".join(str(q) for q in REFERENCE_QUANTILES) + "]"
    for column in profiled_columns(version):
        if column.kind != ColumnKind.NUMERIC:
            continue
        cuts = _scalar(
            con,
            f"SELECT quantile_cont({column.value_sql}, {quantiles}) FROM {source}",
            [version.model_version],
        )
        edges = sorted({float(c) for c in cuts or [] if c is not None})
        con.execute("INSERT INTO reference_bins VALUES (?, ?, ?, ?)", [*key, column.name, edges])
    _insert_profiles(
        con,
        version,
        scope="reference",
        source=source,
        day_sql="NULL::DATE",
        params=[version.model_version],
    )
    rows = _scalar(con, f"SELECT count(*) FROM {source}", [version.model_version])
    con.execute("INSERT INTO profile_references VALUES (?, ?, ?, now()::TIMESTAMP)", [*key, rows])
    return True


def dirty_days(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> list[dt.date]:
    """Days holding rows of the version with a batch_id newer than any profiled one."""
    watermark = _scalar(
        con,
        "SELECT coalesce(max(max_batch_id), -1) FROM profile_days "
        "WHERE model_name = ? AND model_version = ?",
        _key(version),
    )
    rows = con.execute(
        f"SELECT DISTINCT CAST(date_trunc('day', served_at) AS DATE) AS day "
        f"FROM {log_table(con, version.model_name)} WHERE model_version = ? AND batch_id > ? "
        "ORDER BY day",
        [version.model_version, watermark],
    ).fetchall()
    return [r[0] for r in rows]


def refresh(con: duckdb.DuckDBPyConnection, model_name: str, model_version: str) -> RefreshResult:
    """Bring the version's reference and day profiles up to date; run inside a transaction."""
    version = get_version(con, model_name, model_version)
    reference_computed = ensure_reference_profile(con, version)
    days = dirty_days(con, version)
    if days:
        _recompute_days(con, version, days)
    return RefreshResult(tuple(days), reference_computed)


def _recompute_days(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, days: list[dt.date]
) -> None:
    key = _key(version)
    con.execute("CREATE OR REPLACE TEMP TABLE profile_dirty_days (day DATE)")
    con.execute("INSERT INTO profile_dirty_days SELECT unnest(?::DATE[])", [days])
    for table in (*PROFILE_TABLES, "profile_days"):
        scope = "" if table == "profile_days" else "AND scope = 'day' "
        con.execute(
            f"DELETE FROM {table} WHERE model_name = ? AND model_version = ? {scope}"
            "AND day IN (SELECT day FROM profile_dirty_days)",
            key,
        )
    for cache in ("drift_pair_cache", "drift_domain_cache"):  # results these days fed
        con.execute(
            f"DELETE FROM {cache} WHERE model_name = ? AND model_version = ? AND EXISTS ("
            "SELECT 1 FROM profile_dirty_days d WHERE d.day >= CAST(window_start AS DATE) "
            "AND d.day < window_end)",
            key,
        )
    log = log_table(con, version.model_name)
    day_sql = "CAST(date_trunc('day', served_at) AS DATE)"
    # The served_at range lets DuckDB skip row groups outside the dirty days.
    source = (
        f"{log} WHERE model_version = ? AND served_at >= ? AND served_at < ? "
        f"AND {day_sql} IN (SELECT day FROM profile_dirty_days)"
    )
    params = [version.model_version, min(days), max(days) + dt.timedelta(days=1)]
    _insert_profiles(con, version, scope="day", source=source, day_sql=day_sql, params=params)
    con.execute(
        f"INSERT INTO profile_days SELECT ?, ?, {day_sql} AS day, max(batch_id), count(*), "
        f"now()::TIMESTAMP FROM {source} GROUP BY day",
        key + params,
    )
    con.execute("DROP TABLE profile_dirty_days")


def profiled_days(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> dict[dt.date, tuple[int, int]]:
    """day -> (max batch_id, rows) as recorded by the last refresh."""
    rows = con.execute(
        "SELECT day, max_batch_id, rows FROM profile_days WHERE model_name = ? "
        "AND model_version = ? ORDER BY day",
        [model_name, model_version],
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}
