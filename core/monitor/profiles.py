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
- profile_categories: category counts; categories unseen in the reference are their own rows;
- profile_fine_bins (migration 12): counts and sums per fine bin of the reference's quantile
  grid. Above VIGIL_EXACT_MAX_DISTINCT distinct values in a day, a day keeps these instead
  of its value counts (profile_columns.values_kept), and KS and Wasserstein come with an
  error bound (core.lake.bounded).

The SQL from rows to profiles is core.lake.plan, the one plan DuckDB runs here and Spark runs
on a lake (`vigil profile`).

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

from vigil.core.lake import load
from vigil.core.lake.duck import DuckDBEngine
from vigil.core.lake.engine import drop_plan, run_plan
from vigil.core.lake.grid import exact_max_distinct, load_grid, store_fine_edges
from vigil.core.lake.plan import ProfilePlan
from vigil.core.lake.reference import ensure_grid, fine_edges
from vigil.core.monitor.selection import log_table, reference_table
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats.drift_tests import ColumnKind
from vigil.core.store.sql import quote_ident, quote_literal

REFERENCE_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PREDICTION = "prediction"
PREDICTED_CLASS = "predicted_class"
PROFILE_TABLES = (
    "profile_columns",
    "profile_values",
    "profile_bins",
    "profile_categories",
    "profile_fine_bins",
)


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
) -> None:
    """Run the profile plan (core.lake.plan) over rows of `source` and store its outputs.

    `source` is a table expression with its filters inlined (the plan reads it as a view);
    `day_sql` maps a row to its day (NULL for the reference)."""
    # a day keeps its value counts up to VIGIL_EXACT_MAX_DISTINCT; the reference keeps all
    limit = None if scope == "reference" else exact_max_distinct()
    plan = ProfilePlan(profiled_columns(version), limit)
    engine = DuckDBEngine(con)
    engine.create("plan_logs", f"SELECT {day_sql} AS day, * FROM {source}", keep=False)
    run_plan(engine, plan, load_grid(con, version.model_name, version.model_version))
    load.insert_profiles(con, _key(version), scope)
    drop_plan(engine, plan)
    engine.drop(["plan_logs"])


def _numeric(version: ModelVersion) -> list[ProfiledColumn]:
    return [c for c in profiled_columns(version) if c.kind == ColumnKind.NUMERIC]


def ensure_reference_profile(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> bool:
    """Profile the version's reference data once (bins from its deciles). True if computed now."""
    key = _key(version)
    done = con.execute(
        "SELECT 1 FROM profile_references WHERE model_name = ? AND model_version = ?", key
    ).fetchone()
    if done:
        return False
    source = _reference_source(con, version)
    quantiles = "[" + ", ".join(str(q) for q in REFERENCE_QUANTILES) + "]"
    coarse: dict[str, tuple[float, ...]] = {}
    for column in _numeric(version):
        cuts = _scalar(
            con, f"SELECT quantile_cont({column.value_sql}, {quantiles}) FROM {source}", []
        )
        edges = sorted({float(c) for c in cuts or [] if c is not None})
        con.execute("INSERT INTO reference_bins VALUES (?, ?, ?, ?)", [*key, column.name, edges])
        coarse[column.name] = tuple(edges)
    store_fine_edges(con, key[0], key[1], fine_edges(con, _numeric(version), source, coarse))
    _insert_profiles(con, version, scope="reference", source=source, day_sql="NULL::DATE")
    rows = _scalar(con, f"SELECT count(*) FROM {source}", [])
    con.execute("INSERT INTO profile_references VALUES (?, ?, ?, now()::TIMESTAMP)", [*key, rows])
    return True


def _reference_source(con: duckdb.DuckDBPyConnection, version: ModelVersion) -> str:
    table = reference_table(con, version.model_name)
    return f"{table} WHERE model_version = {quote_literal(version.model_version)}"


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
    # a reference profiled before migration 12 gets its grid (fine bins from stored values)
    ensure_grid(con, _key(version), _numeric(version), _reference_source(con, version))
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
    first, end = min(days), max(days) + dt.timedelta(days=1)
    source = (
        f"{log} WHERE model_version = {quote_literal(version.model_version)} "
        f"AND served_at >= TIMESTAMP '{first}' AND served_at < TIMESTAMP '{end}' "
        f"AND {day_sql} IN (SELECT day FROM profile_dirty_days)"
    )
    _insert_profiles(con, version, scope="day", source=source, day_sql=day_sql)
    con.execute(
        f"INSERT INTO profile_days SELECT ?, ?, {day_sql} AS day, max(batch_id), count(*), "
        f"now()::TIMESTAMP FROM {source} GROUP BY day",
        key,
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
