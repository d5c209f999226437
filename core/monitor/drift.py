"""Data drift and prediction drift per feature and window, against a reference, from profiles.

How the numbers are computed:
- Bins, categories, counts come from mergeable profiles (core.profiles): stored day profiles
  summed into windows when the selection has no segment and starts and ends at midnight;
  otherwise (a segment, windows of N predictions, a range cut mid-day) the same aggregates
  are computed on the fly from the raw log, and not stored.
- Kolmogorov–Smirnov and Wasserstein are exact: DuckDB walks the merged empirical CDFs of
  the reference and each window over the union of their distinct values (value counts from
  the profiles), so D and W1 equal scipy's ks_2samp / wasserstein_distance on the raw rows.
  The KS p-value is scipy's own (exact for n, m <= 10 000, else Smirnov's asymptotic).
- With a segment, the reference is filtered by the same segment, so like is compared with like.

Statuses per column and window: "drift", "no drift", "no data" (the window has no rows, or
every value of the column is missing), "too few rows" (fewer than MIN_ROWS non-null values
on either side: no verdict). A window's dataset verdict is the share of drifted features
among those with a verdict, against DATASET_SHARE (0.5 unless the model's settings say so).
Test choice and thresholds: core.stattests (documented there), overridable per model in
drift_settings.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vigil.core.errors import VigilError
from vigil.core.govern.auth import User
from vigil.core.monitor import profiles
from vigil.core.monitor.profiles import ProfiledColumn, profiled_columns
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.monitor.windows import (
    CALENDAR_GRANULARITIES,
    Granularity,
    Window,
    calendar_windows,
    count_windows,
    windows_sql,
)
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.stats import drift_tests as stattests
from vigil.core.stats.drift_tests import MIN_ROWS, Comparison, StatTest
from vigil.core.store.connection import Store, limit_memory
from vigil.core.store.sql import quote_ident

DATASET_SHARE = 0.5  # a window drifts when more than this share of its features drift
DOMAIN_AUC = 0.55  # the domain classifier's cross-validated ROC AUC above which data drifted
DOMAIN_SAMPLE = 2000  # rows per side the domain classifier sees at most
MAX_WINDOWS = 1000  # a heat map or a JSON report with more windows is unreadable anyway
DATASET_TEST = "dataset_share"
DOMAIN_TEST = "domain_auc"
_CACHED = "*"  # drift_pair_cache's marker row: this window has been computed
_WHOLE = dt.datetime(1970, 1, 1)  # the window key of a one-window (whole range) computation


class DriftSettingError(VigilError):
    """A drift setting names an unknown test or feature, or an impossible threshold."""


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ColumnDrift:
    """One column in one window, against the reference."""

    feature: str
    kind: str  # "num" | "cat"
    role: str  # "feature" | "prediction"
    status: str  # "drift" | "no drift" | "no data" | "too few rows"
    test: str
    test_label: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool | None  # None: no verdict (see status)
    score: float | None  # drift normalised to the threshold: > 1 is drift
    reference_n: int
    current_n: int
    current_rows: int
    current_nulls: int
    psi: float | None = None
    bins: tuple[str, ...] = ()  # bin or category labels
    reference_counts: tuple[float, ...] = ()
    current_counts: tuple[float, ...] = ()
    reference_mean: float | None = None
    current_mean: float | None = None
    reference_std: float | None = None
    current_std: float | None = None

    def to_dict(self, *, histograms: bool = False) -> dict[str, Any]:
        out = {
            "name": self.feature,
            "kind": "numeric" if self.kind == "num" else "categorical",
            "status": self.status,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "psi": _finite(self.psi),
            "reference_n": self.reference_n,
            "current_n": self.current_n,
            "current_nulls": self.current_nulls,
        }
        if histograms:
            out["bins"] = list(self.bins)
            out["reference_counts"] = list(self.reference_counts)
            out["current_counts"] = list(self.current_counts)
        return out


@dataclass(frozen=True)
class DatasetVerdict:
    tested: int
    drifted_count: int
    share: float | None
    threshold: float
    drifted: bool | None
    status: str

    def sentence(self) -> str:
        if self.share is None:
            return "No feature could be tested in this window (no data or too few rows)."
        relation = "above" if self.drifted else "not above"
        return (
            f"{self.drifted_count} of {self.tested} features drifted ({self.share:.0%}), "
            f"{relation} the {self.threshold:.0%} dataset threshold."
        ).replace("%", " %")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "features_tested": self.tested,
            "features_drifted": self.drifted_count,
            "share_drifted": self.share,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class WindowDrift:
    window: Window
    rows: int
    features: tuple[ColumnDrift, ...]
    prediction: tuple[ColumnDrift, ...]
    dataset: DatasetVerdict

    def column(self, name: str) -> ColumnDrift:
        for c in (*self.features, *self.prediction):
            if c.feature == name:
                return c
        raise KeyError(name)

    def to_dict(self, *, histograms: bool = False) -> dict[str, Any]:
        return {
            "start": self.window.start.isoformat(),
            "end": self.window.end.isoformat(),
            "rows": self.rows,
            "dataset": self.dataset.to_dict(),
            "features": [c.to_dict(histograms=histograms) for c in self.features],
            "prediction": [c.to_dict(histograms=histograms) for c in self.prediction],
        }


@dataclass(frozen=True)
class DomainClassifierResult:
    """Can a classifier tell current rows from reference rows? AUC 0.5: no; 1.0: always."""

    status: str  # "drift" | "no drift" | "too few rows"
    auc: float | None
    auc_std: float | None
    threshold: float
    drifted: bool | None
    reference_n: int
    current_n: int
    folds: int
    top_features: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "domain classifier (gradient boosting, cross-validated ROC AUC)",
            "status": self.status,
            "auc": self.auc,
            "auc_std": self.auc_std,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_rows": self.reference_n,
            "current_rows": self.current_n,
            "folds": self.folds,
            "top_features": [{"name": n, "importance": v} for n, v in self.top_features],
        }


@dataclass(frozen=True)
class DriftReport:
    selection: Selection
    reference: Selection | None  # None: the version's reference data
    reference_label: str
    granularity: Granularity
    source: str  # "profiles" | "raw log"
    overall: WindowDrift
    windows: tuple[WindowDrift, ...]
    multivariate: DomainClassifierResult | None
    days_recomputed: int = 0

    def to_dict(self, *, histograms: bool = False) -> dict[str, Any]:
        sel = self.selection
        return {
            "model": sel.model_name,
            "version": sel.model_version,
            "from": sel.start.isoformat(),
            "to": sel.end.isoformat(),
            "segment": None if sel.segment is None else sel.segment.label(),
            "granularity": self.granularity,
            "reference": self.reference_label,
            "computed_from": self.source,
            "overall": self.overall.to_dict(histograms=histograms),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "windows": [w.to_dict(histograms=histograms) for w in self.windows],
        }


def _finite(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class DriftSettings:
    """Per-model overrides: (feature or '*', test) -> threshold."""

    overrides: dict[tuple[str, str], float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.overrides.items())))

    def test_for(self, column: str, kind: str, reference_n: int) -> tuple[StatTest, float]:
        """The column's test and its threshold before any Bonferroni split."""
        for (feature, test), threshold in self.overrides.items():
            if feature == column and test in stattests.TESTS:
                return stattests.TESTS[test], threshold
        test = stattests.default_test(kind, reference_n)
        return test, self.overrides.get(("*", test.name), test.threshold)

    def dataset_share(self) -> float:
        return self.overrides.get(("*", DATASET_TEST), DATASET_SHARE)

    def domain_auc(self) -> float:
        return self.overrides.get(("*", DOMAIN_TEST), DOMAIN_AUC)


def load_settings(con: duckdb.DuckDBPyConnection, model_name: str) -> DriftSettings:
    rows = con.execute(
        "SELECT feature, test, threshold FROM drift_settings WHERE model_name = ?", [model_name]
    ).fetchall()
    return DriftSettings({(f, t): th for f, t, th in rows})


def set_threshold(
    store: Store,
    user: User,
    model_name: str,
    *,
    test: str,
    threshold: float | None,
    feature: str = "*",
    rationale: str | None = None,
) -> None:
    """Store (or with threshold=None remove) a per-model override, audited.

    feature='*': the threshold of `test` wherever it applies; a column name: use `test` with
    `threshold` for that column. Tests: core.stattests.TESTS, plus 'dataset_share' (share of
    drifted features) and 'domain_auc' (domain classifier). p-value thresholds are the
    family-wise alpha per window, split over the features (Bonferroni).
    """
    from vigil.core.govern import audit
    from vigil.core.govern.auth import require
    from vigil.core.registry.versions import list_versions, model_tables

    require(user, "edit_rules", f"change drift thresholds of {model_name}")
    known = {*stattests.TESTS, DATASET_TEST, DOMAIN_TEST}
    if test not in known:
        raise DriftSettingError(
            f"Unknown drift test '{test}' for {model_name}; use one of {', '.join(sorted(known))}."
        )
    if threshold is not None and (not (threshold >= 0) or math.isinf(threshold)):
        raise DriftSettingError(
            f"The threshold of {test} for {model_name} must be a finite number >= 0, "
            f"got {threshold}."
        )
    with store.transaction() as con:
        model_tables(con, model_name)  # the model must exist
        columns = {c.name for v in list_versions(con, model_name) for c in profiled_columns(v)}
        if feature != "*" and feature not in columns:
            raise DriftSettingError(
                f"{model_name} has no column '{feature}'; use '*' or one of "
                f"{', '.join(sorted(columns))}."
            )
        if feature != "*" and test in (DATASET_TEST, DOMAIN_TEST):
            raise DriftSettingError(f"'{test}' applies to the whole model: use feature '*'.")
        con.execute(
            "DELETE FROM drift_settings WHERE model_name = ? AND feature = ? AND test = ?",
            [model_name, feature, test],
        )
        if threshold is not None:
            con.execute(
                "INSERT INTO drift_settings VALUES (?, ?, ?, ?)",
                [model_name, feature, test, float(threshold)],
            )
        # Also what makes cached pages recompute: the audit log's head is in their cache key.
        audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action="set_drift_threshold" if threshold is not None else "reset_drift_threshold",
            model_name=model_name,
            rationale=rationale
            or (
                f"Drift threshold of {test} for {feature} set to {threshold}."
                if threshold is not None
                else f"Drift threshold of {test} for {feature} back to its default."
            ),
            evidence={"feature": feature, "test": test, "threshold": threshold},
        )


# ---------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Source:
    """SQL (with parameters) for one side's aggregates, keyed by (feature, w)."""

    values: tuple[str, list]  # feature, w, value, n   (numeric, non-null)
    categories: tuple[str, list]  # feature, w, category, n
    bins: tuple[str, list]  # feature, w, bin, n
    counts: tuple[str, list]  # feature, w, rows, nulls


def _stored_source(
    version: ModelVersion,
    *,
    scope: str,
    window_sql: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> _Source:
    """Profiles summed into windows; `window_sql` maps the profile's `day` to a window key."""
    where = "model_name = ? AND model_version = ? AND scope = ?"
    params: list = [version.model_name, version.model_version, scope]
    if scope == "day":
        where += " AND day >= ? AND day < ?"
        params += [start, end]

    def agg(table: str, column: str) -> tuple[str, list]:
        return (
            f"SELECT feature, {window_sql} AS w, {column}, sum(n) AS n FROM {table} "
            f"WHERE {where} GROUP BY ALL",
            list(params),
        )

    return _Source(
        values=agg("profile_values", "value"),
        categories=agg("profile_categories", "category"),
        bins=agg("profile_bins", "bin"),
        counts=(
            f"SELECT feature, {window_sql} AS w, sum(rows) AS rows, sum(nulls) AS nulls "
            f"FROM profile_columns WHERE {where} GROUP BY ALL",
            list(params),
        ),
    )


def _raw_source(
    columns: tuple[ProfiledColumn, ...],
    version: ModelVersion,
    *,
    table: str,
    where: str,
    params: list,
    window_sql: str,
) -> _Source:
    """The same aggregates computed from raw rows (segments, N-prediction windows, part days)."""
    numeric = [c for c in columns if c.kind == "num"]
    categorical = [c for c in columns if c.kind == "cat"]

    def union(selects: list[str]) -> tuple[str, list]:
        if not selects:
            return "", []
        return " UNION ALL ".join(selects), [p for _ in selects for p in params]

    def grouped(column: ProfiledColumn, name: str) -> str:
        return (
            f"SELECT '{column.name}' AS feature, {window_sql} AS w, {column.value_sql} AS {name}, "
            f"count(*) AS n FROM {table} WHERE {where} AND {column.value_sql} IS NOT NULL "
            "GROUP BY ALL"
        )

    values = union([grouped(c, "value") for c in numeric])
    empty_values = "SELECT NULL::VARCHAR AS feature, NULL::TIMESTAMP AS w, NULL::DOUBLE AS value, 0 AS n WHERE false"
    values = values if values[0] else (empty_values, [])
    categories = union([grouped(c, "category") for c in categorical])
    if not categories[0]:
        categories = (
            "SELECT NULL::VARCHAR AS feature, NULL::TIMESTAMP AS w, NULL::VARCHAR AS category, "
            "0 AS n WHERE false",
            [],
        )
    bins = (
        f"""SELECT v.feature, v.w, len(list_filter(b.edges, lambda e: e <= v.value)) AS bin,
                   sum(v.n) AS n
            FROM ({values[0]}) v JOIN reference_bins b ON b.feature = v.feature
             AND b.model_name = ? AND b.model_version = ? GROUP BY ALL""",
        [*values[1], version.model_name, version.model_version],
    )
    counts = union(
        [
            f"SELECT '{c.name}' AS feature, {window_sql} AS w, count(*) AS rows, "
            f"count(*) - count({c.value_sql}) AS nulls FROM {table} WHERE {where} GROUP BY ALL"
            for c in columns
        ]
    )
    return _Source(values=values, categories=categories, bins=bins, counts=counts)


# ---------------------------------------------------------------- exact pairwise statistics


def pair_statistics(
    con: duckdb.DuckDBPyConnection,
    current: tuple[str, list],
    reference: tuple[str, list],
) -> list[tuple]:
    """Per (feature, w): KS statistic and Wasserstein-1 between reference and current, exactly.

    Both inputs are value-count relations (feature, w, value, n) with their parameters.
    Returns rows (feature, w, ks, wasserstein, n, mean, std). Cost: one sort of the
    reference's and all windows' distinct values per feature (the reference once, not once
    per window), one sort of each window's values, and a small range join; no cross product.

    With Fr the reference CDF, H(x) its integral up to x, and Fc a window's CDF, which is
    constant (c) between its consecutive distinct values a = v_k and b = v_k+1:
    - KS: Fr is monotone, so D = max_k max(|Fr(v_k) - Fc(v_k)|, |Fr(v_k-) - Fc(v_k-)|),
      the value scipy's ks_2samp finds over the pooled sample.
    - W1 = integral of |Fr - Fc|. On [a, b): if Fr(a) >= c the integrand is Fr - c, giving
      H(b) - H(a) - c(b - a); if Fr(b-) <= c it is c - Fr, giving c(b - a) - (H(b) - H(a));
      otherwise Fr crosses c at x*, the first reference value with Fr >= c (found by an
      range join for these few intervals only), and the two pieces are summed. Before v_1,
      Fc = 0 (integral H(v_1)); after the last value, Fc = 1 up to the reference's maximum.
    Fr, Fr(v-) and H at every current value come from running maxima over the merged sort
    (all three never decrease along it).
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pair_reference AS
        WITH ref AS (SELECT feature, value, sum(n) AS n FROM ({reference[0]}) GROUP BY ALL),
        r0 AS (
            SELECT feature, value,
                   sum(n) OVER (PARTITION BY feature ORDER BY value
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum,
                   sum(n) OVER (PARTITION BY feature) AS n_ref,
                   lead(value) OVER (PARTITION BY feature ORDER BY value) AS next_value
            FROM ref)
        SELECT feature, value, CAST(cum AS DOUBLE) AS cum, n_ref, cum / n_ref AS f,
               coalesce(lag(cum) OVER (PARTITION BY feature ORDER BY value), 0) / n_ref
                 AS f_before,
               coalesce(sum(cum / n_ref * (next_value - value)) OVER (
                   PARTITION BY feature ORDER BY value
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS h
        FROM r0
        """,
        reference[1],
    )
    # Materialised on purpose: filtering the windowed CTE inline made DuckDB 7x slower.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pair_current AS
        WITH cur AS (SELECT feature, w, value, sum(n) AS n FROM ({current[0]}) GROUP BY ALL),
        rmax AS (SELECT feature, max(value) AS r_max, arg_max(h, value) AS h_max,
                        any_value(n_ref) AS n_ref FROM pair_reference GROUP BY feature),
        merged AS (
            SELECT feature, w, value, n, FALSE AS is_ref, NULL::DOUBLE AS f,
                   NULL::DOUBLE AS f_before, NULL::DOUBLE AS h FROM cur
            UNION ALL
            SELECT feature, NULL, value, 0, TRUE, f, f_before, h FROM pair_reference),
        located AS (  -- the last reference point at or before each current value
            SELECT feature, w, value, n, is_ref,
                   max(CASE WHEN is_ref THEN value END) OVER run AS r_value,
                   max(f) OVER run AS r_f, max(f_before) OVER run AS r_f_before,
                   max(h) OVER run AS r_h
            FROM merged
            WINDOW run AS (PARTITION BY feature ORDER BY value, is_ref DESC
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        c0 AS (
            SELECT l.feature, w, value, n, rmax.r_max, rmax.h_max, rmax.n_ref,
                   coalesce(r_f, 0) AS fr_at,
                   CASE WHEN r_value = value THEN r_f_before ELSE coalesce(r_f, 0) END
                     AS fr_before,
                   CASE WHEN r_value IS NULL THEN 0 ELSE r_h + r_f * (value - r_value) END
                     AS h_at
            FROM located l JOIN rmax ON rmax.feature = l.feature
            WHERE NOT is_ref),
        c1 AS (
            SELECT *,
                   sum(n) OVER win_run AS cum_c,
                   sum(n) OVER (PARTITION BY feature, w) AS n_cur,
                   lead(value) OVER win AS next_value,
                   lead(h_at) OVER win AS next_h,
                   lead(fr_before) OVER win AS next_fr_before,
                   row_number() OVER win AS k
            FROM c0
            WINDOW win AS (PARTITION BY feature, w ORDER BY value),
                   win_run AS (PARTITION BY feature, w ORDER BY value
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
        SELECT *, cum_c / n_cur AS c, (cum_c - n) / n_cur AS c_before,
               coalesce(next_value, greatest(r_max, value)) AS b,
               coalesce(next_h, h_max + greatest(value - r_max, 0)) AS h_b,
               coalesce(next_fr_before, 1.0) AS fr_b_before
        FROM c1
        """,
        current[1],
    )
    rows = con.execute(
        """
        WITH crossing AS (  -- intervals where Fr crosses the window's level c: find x*
            SELECT x2.feature, x2.w, x2.value, min(x.value) AS x_star,
                   arg_min(x.h, x.value) AS h_star
            FROM (SELECT feature, w, value, b, c * n_ref AS target FROM pair_current
                  WHERE fr_at < c AND fr_b_before > c) x2
            JOIN pair_reference x ON x.feature = x2.feature AND x.value > x2.value
             AND x.value < x2.b AND x.cum >= x2.target
            GROUP BY x2.feature, x2.w, x2.value),
        pieces AS (
            SELECT p.*,
                   CASE WHEN fr_at >= c THEN (h_b - h_at) - c * (b - p.value)
                        WHEN fr_b_before <= c THEN c * (b - p.value) - (h_b - h_at)
                        ELSE c * (x_star - p.value) - (h_star - h_at)
                             + (h_b - h_star) - c * (b - x_star) END AS area
            FROM pair_current p LEFT JOIN crossing x
              ON x.feature = p.feature AND x.w IS NOT DISTINCT FROM p.w AND x.value = p.value)
        SELECT feature, w,
               max(greatest(abs(fr_at - c), abs(fr_before - c_before))) AS ks,
               sum(area) + sum(CASE WHEN k = 1 THEN h_at ELSE 0 END) AS wasserstein,
               any_value(n_cur) AS n_cur,
               sum(value * n) / sum(n) AS mean_cur,
               sqrt(greatest(sum(value * value * n) / sum(n)
                             - pow(sum(value * n) / sum(n), 2), 0)) AS std_cur
        FROM pieces GROUP BY feature, w
        """
    ).fetchall()
    con.execute("DROP TABLE pair_current; DROP TABLE pair_reference")
    return rows


def _reference_moments(
    con: duckdb.DuckDBPyConnection, reference: _Source
) -> dict[str, tuple[int, float, float]]:
    """feature -> (n, mean, population std) of the reference's non-null values."""
    rows = con.execute(
        f"""SELECT feature, sum(n), sum(value * n) / sum(n),
                   sqrt(greatest(sum(value * value * n) / sum(n) - pow(sum(value * n) / sum(n), 2), 0))
            FROM ({reference.values[0]}) GROUP BY feature""",
        reference.values[1],
    ).fetchall()
    return {f: (int(n), float(m), float(s)) for f, n, m, s in rows}


def _exact_reference_std(con, reference: _Source) -> dict[str, float]:
    """Two-pass population std (the one-pass formula loses digits on large, tight values)."""
    rows = con.execute(
        f"""WITH v AS ({reference.values[0]}),
            m AS (SELECT feature, sum(value * n) / sum(n) AS mean FROM v GROUP BY feature)
            SELECT v.feature, sqrt(sum(v.n * pow(v.value - m.mean, 2)) / sum(v.n))
            FROM v JOIN m USING (feature) GROUP BY v.feature""",
        reference.values[1],
    ).fetchall()
    return {f: float(s) for f, s in rows}


# ---------------------------------------------------------------- comparison


def _pair_statistics(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    current: _Source,
    reference: _Source,
    cache: dict[dt.datetime, Window] | None,
) -> dict[tuple[str, Any], tuple]:
    """(feature, w) -> (ks, wasserstein, n, mean, std), from drift_pair_cache when `cache`
    maps every window key to its whole-day window against the version's reference data."""

    def compute() -> list[tuple]:
        return pair_statistics(con, current.values, reference.values)

    if cache is None:
        rows = compute()
    else:
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
            "WHERE c.model_name = ? AND c.model_version = ? AND c.feature = '*'",
            key,
        ).fetchone()[0]
        if found == len(cache):
            rows = con.execute(
                "SELECT c.feature, wanted.w, ks, wasserstein, n_cur, mean_cur, std_cur "
                "FROM drift_pair_cache c JOIN wanted ON c.window_start = wanted.s "
                "AND c.window_end = wanted.e WHERE c.model_name = ? AND c.model_version = ? "
                "AND c.feature <> '*'",
                key,
            ).fetchall()
        else:
            rows = compute()
            con.execute(
                "DELETE FROM drift_pair_cache WHERE model_name = ? AND model_version = ? AND "
                "(window_start, window_end) IN (SELECT (s, e) FROM wanted)",
                key,
            )
            # one '*' row per window marks it computed, even when it holds no values
            sentinels = [(_CACHED, w, 0.0, 0.0, 0, None, None) for w in cache]
            fresh = pd.DataFrame(
                [
                    [*key, cache[w].start, cache[w].end, f, ks, wd, n, m, sd]
                    for f, w, ks, wd, n, m, sd in [*rows, *sentinels]
                ],
                columns=[
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
                ],
            )
            con.register("fresh_pairs", fresh)
            con.execute("INSERT INTO drift_pair_cache BY NAME SELECT * FROM fresh_pairs")
            con.unregister("fresh_pairs")
        con.execute("DROP TABLE wanted")
    return {
        (feature, w): (float(ks), float(wd), int(n), mean, std)
        for feature, w, ks, wd, n, mean, std in rows
    }


def _bin_labels(edges: tuple[float, ...]) -> tuple[str, ...]:
    if not edges:
        return ("all values",)
    fmt = "{:.4g}".format
    labels = [f"< {fmt(edges[0])}"]
    labels += [f"[{fmt(a)}, {fmt(b)})" for a, b in itertools.pairwise(edges)]
    labels.append(f">= {fmt(edges[-1])}")
    return tuple(labels)


def _compare(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns: tuple[ProfiledColumn, ...],
    current: _Source,
    reference: _Source,
    keys: list[dt.datetime],
    settings: DriftSettings,
    cache: dict[dt.datetime, Window] | None = None,
) -> dict[dt.datetime, tuple[int, list[ColumnDrift]]]:
    """Compare every column of every window key with the reference; pull aggregates only."""
    edges = profiles.reference_edges(con, version)
    feature_count = sum(1 for c in columns if c.role == "feature")

    counts: dict[tuple[str, Any], tuple[int, int]] = {}
    for feature, w, rows, nulls in con.execute(*current.counts).fetchall():
        counts[(feature, w)] = (int(rows), int(nulls))
    ref_counts: dict[str, tuple[int, int]] = {
        f: (int(r), int(n)) for f, _, r, n in con.execute(*reference.counts).fetchall()
    }
    ref_moments = _reference_moments(con, reference)
    ref_std = _exact_reference_std(con, reference)

    pair = _pair_statistics(con, version, current, reference, cache)

    bins: dict[tuple[str, Any], dict[int, float]] = defaultdict(dict)
    for feature, w, b, n in con.execute(*current.bins).fetchall():
        bins[(feature, w)][int(b)] = float(n)
    ref_bins: dict[str, dict[int, float]] = defaultdict(dict)
    for feature, _, b, n in con.execute(*reference.bins).fetchall():
        ref_bins[feature][int(b)] = ref_bins[feature].get(int(b), 0.0) + float(n)

    cats: dict[tuple[str, Any], dict[str, float]] = defaultdict(dict)
    for feature, w, category, n in con.execute(*current.categories).fetchall():
        cats[(feature, w)][category] = float(n)
    ref_cats: dict[str, dict[str, float]] = defaultdict(dict)
    for feature, _, category, n in con.execute(*reference.categories).fetchall():
        ref_cats[feature][category] = ref_cats[feature].get(category, 0.0) + float(n)

    out: dict[dt.datetime, tuple[int, list[ColumnDrift]]] = {}
    for key in keys:
        window_rows = max((counts.get((c.name, key), (0, 0))[0] for c in columns), default=0)
        results = []
        for column in columns:
            rows, nulls = counts.get((column.name, key), (0, 0))
            ref_rows, ref_nulls = ref_counts.get(column.name, (0, 0))
            reference_n = ref_rows - ref_nulls
            current_n = rows - nulls
            test, threshold = settings.test_for(column.name, column.kind, reference_n)
            if test.uses_p_value:
                threshold = threshold / max(feature_count, 1)  # Bonferroni over features
            if column.kind == "num":
                n_bins = len(edges.get(column.name, ())) + 1
                labels = _bin_labels(edges.get(column.name, ()))
                rc = tuple(ref_bins[column.name].get(i, 0.0) for i in range(n_bins))
                cc = tuple(bins[(column.name, key)].get(i, 0.0) for i in range(n_bins))
                ks, wd, _, mean_cur, std_cur = pair.get(
                    (column.name, key), (0.0, 0.0, 0, None, None)
                )
                _, mean_ref, _ = ref_moments.get(column.name, (0, 0.0, 0.0))
                comparison = Comparison(
                    kind="num",
                    reference_n=reference_n,
                    current_n=current_n,
                    reference_counts=rc,
                    current_counts=cc,
                    reference_mean=mean_ref,
                    reference_std=ref_std.get(column.name, 0.0),
                    ks_statistic=ks,
                    wasserstein=wd,
                )
                extra = dict(
                    reference_mean=mean_ref,
                    current_mean=mean_cur,
                    reference_std=ref_std.get(column.name),
                    current_std=std_cur,
                )
            else:
                ref_map, cur_map = ref_cats[column.name], cats[(column.name, key)]
                seen = sorted(ref_map, key=lambda c: (-ref_map[c], c))
                unseen = sorted(
                    (c for c in cur_map if c not in ref_map), key=lambda c: (-cur_map[c], c)
                )
                labels = tuple(seen + unseen)
                rc = tuple(ref_map.get(c, 0.0) for c in labels)
                cc = tuple(cur_map.get(c, 0.0) for c in labels)
                comparison = Comparison(
                    kind="cat",
                    reference_n=reference_n,
                    current_n=current_n,
                    reference_counts=rc,
                    current_counts=cc,
                )
                extra = {}
            common = dict(
                feature=column.name,
                kind=column.kind,
                role=column.role,
                test=test.name,
                test_label=test.label,
                threshold=threshold,
                reference_n=reference_n,
                current_n=current_n,
                current_rows=rows,
                current_nulls=nulls,
                bins=labels,
                reference_counts=rc,
                current_counts=cc,
                **extra,
            )
            if rows == 0 or current_n == 0 or reference_n == 0:
                results.append(
                    ColumnDrift(
                        status="no data",
                        statistic=None,
                        p_value=None,
                        drifted=None,
                        score=None,
                        **common,
                    )
                )
                continue
            psi = stattests.psi(rc, cc)
            if current_n < MIN_ROWS or reference_n < MIN_ROWS:
                results.append(
                    ColumnDrift(
                        status="too few rows",
                        statistic=None,
                        p_value=None,
                        drifted=None,
                        score=None,
                        psi=psi,
                        **common,
                    )
                )
                continue
            result = test(comparison)
            drifted = test.drifted(result, threshold)
            results.append(
                ColumnDrift(
                    status="drift" if drifted else "no drift",
                    statistic=result.statistic,
                    p_value=result.p_value,
                    drifted=drifted,
                    score=test.score(result, threshold),
                    psi=psi,
                    **common,
                )
            )
        out[key] = (window_rows, results)
    return out


def _window_drift(
    window: Window, rows: int, results: list[ColumnDrift], share: float
) -> WindowDrift:
    features = tuple(r for r in results if r.role == "feature")
    tested = [r for r in features if r.drifted is not None]
    drifted_count = sum(1 for r in tested if r.drifted)
    if not tested:
        verdict = DatasetVerdict(
            0, 0, None, share, None, "no data" if rows == 0 else "too few rows"
        )
    else:
        value = drifted_count / len(tested)
        drifted = value > share
        verdict = DatasetVerdict(
            len(tested), drifted_count, value, share, drifted, "drift" if drifted else "no drift"
        )
    return WindowDrift(
        window, rows, features, tuple(r for r in results if r.role == "prediction"), verdict
    )


# ---------------------------------------------------------------- the report


def _granularity_label(granularity: Granularity) -> str:
    if granularity in CALENDAR_GRANULARITIES:
        return f"one per {granularity}"
    return f"one per {int(granularity):,} predictions"


def _day_aligned(selection: Selection) -> bool:
    return selection.start.time() == dt.time() and selection.end.time() == dt.time()


def _uses_profiles(selection: Selection) -> bool:
    return selection.segment is None and _day_aligned(selection)


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f}'"


def _current_source(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns,
    selection: Selection,
    granularity: Granularity | None,
    windows: list[Window],
) -> _Source:
    """Aggregates of `selection`, one key per window (or one _WHOLE key if granularity None)."""
    if _uses_profiles(selection) and (granularity is None or granularity in CALENDAR_GRANULARITIES):
        if granularity is None:
            window_sql = _ts(_WHOLE)
        else:
            window_sql = f"greatest(CAST(date_trunc('{granularity}', day) AS TIMESTAMP), {_ts(selection.start)})"
        return _stored_source(
            version,
            scope="day",
            window_sql=window_sql,
            start=selection.start.date(),
            end=selection.end.date(),
        )
    where, params = selection.where()
    if granularity is None:
        window_sql = _ts(_WHOLE)
    elif granularity in CALENDAR_GRANULARITIES:
        window_sql = f"greatest(CAST(date_trunc('{granularity}', served_at) AS TIMESTAMP), {_ts(selection.start)})"
    else:
        window_sql = windows_sql(windows)
    return _raw_source(
        columns,
        version,
        table=log_table(con, version.model_name),
        where=where,
        params=params,
        window_sql=window_sql,
    )


def _reference_source(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    columns,
    selection: Selection,
    reference: Selection | None,
) -> _Source:
    if reference is not None:
        if reference.model_name != version.model_name:
            raise VigilError(
                f"The reference window is for {reference.model_name}, not {version.model_name}; "
                "pick a window of the same model."
            )
        return _current_source(con, version, columns, reference, None, [])
    if selection.segment is None:
        return _stored_source(version, scope="reference", window_sql=_ts(_WHOLE))
    # The version's reference data, restricted to the same segment (like with like).
    where = f"model_version = ? AND CAST({quote_ident(selection.segment.column)} AS VARCHAR) = ?"
    return _raw_source(
        columns,
        version,
        table=reference_table(con, version.model_name),
        where=where,
        params=[version.model_version, selection.segment.value],
        window_sql=_ts(_WHOLE),
    )


def drift_report(
    store: Store,
    selection: Selection,
    *,
    granularity: Granularity = "day",
    reference: Selection | None = None,
    multivariate: bool = True,
    domain_sample: int = DOMAIN_SAMPLE,
) -> DriftReport:
    """Drift of every feature and of the predictions, for the whole range and per window.

    Refreshes the version's profiles first (only days touched by new batches are recomputed).
    """
    with store.transaction() as con:
        limit_memory(con, store.home)
        refreshed = profiles.refresh(con, selection.model_name, selection.model_version)
        if reference is not None and reference.model_version != selection.model_version:
            profiles.refresh(con, reference.model_name, reference.model_version)
    with store.connect() as con:
        limit_memory(con, store.home)
        version = get_version(con, selection.model_name, selection.model_version)
        columns = profiled_columns(version)
        settings = load_settings(con, selection.model_name)
        if granularity in CALENDAR_GRANULARITIES:
            windows = calendar_windows(con, str(granularity), selection.start, selection.end)
        else:
            where, params = selection.where()
            windows = count_windows(
                con, log_table(con, selection.model_name), where, params, int(granularity)
            )
        if len(windows) > MAX_WINDOWS:
            raise VigilError(
                f"{len(windows):,} windows ({_granularity_label(granularity)}) are too many to "
                "compare at once "
                f"(at most {MAX_WINDOWS:,}); choose a coarser granularity or a shorter range."
            )
        ref_source = _reference_source(con, version, columns, selection, reference)
        # Exact KS / Wasserstein of whole-day windows against the reference data are cached.
        cacheable = (
            reference is None
            and _uses_profiles(selection)
            and granularity in CALENDAR_GRANULARITIES
        )
        per_window = _compare(
            con,
            version,
            columns,
            _current_source(con, version, columns, selection, granularity, windows),
            ref_source,
            [w.start for w in windows],
            settings,
            cache={w.start: w for w in windows} if cacheable else None,
        )
        whole = _compare(
            con,
            version,
            columns,
            _current_source(con, version, columns, selection, None, []),
            ref_source,
            [_WHOLE],
            settings,
            cache={_WHOLE: Window(selection.start, selection.end)} if cacheable else None,
        )
        share = settings.dataset_share()
        overall = _window_drift(Window(selection.start, selection.end), *whole[_WHOLE], share)
        window_results = tuple(_window_drift(w, *per_window[w.start], share) for w in windows)
        domain = (
            _cached_domain_classifier(
                con,
                version,
                selection,
                reference=reference,
                sample=domain_sample,
                threshold=settings.domain_auc(),
                cacheable=cacheable,
            )
            if multivariate
            else None
        )
    if reference is None:
        label = f"reference data of version {version.model_version}"
        if selection.segment is not None:
            label += f" ({selection.segment.label()})"
    else:
        label = f"logs {reference.start:%Y-%m-%d} – {reference.end:%Y-%m-%d} (end exclusive)"
    return DriftReport(
        selection=selection,
        reference=reference,
        reference_label=label,
        granularity=granularity,
        source="profiles"
        if _uses_profiles(selection) and granularity in CALENDAR_GRANULARITIES
        else "raw log",
        overall=overall,
        windows=window_results,
        multivariate=domain,
        days_recomputed=len(refreshed.days_recomputed),
    )


# ---------------------------------------------------------------- multivariate


def _cached_domain_classifier(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    *,
    reference: Selection | None,
    sample: int,
    threshold: float,
    cacheable: bool,
) -> DomainClassifierResult:
    """The domain classifier, its AUC kept for whole-day ranges against the reference data
    (the sample is deterministic, so the same rows give the same AUC)."""
    if not cacheable:
        return domain_classifier(
            con, version, selection, reference=reference, sample=sample, threshold=threshold
        )
    key = [version.model_name, version.model_version, selection.start, selection.end, sample]
    row = con.execute(
        "SELECT auc, auc_std, reference_n, current_n, folds FROM drift_domain_cache "
        "WHERE model_name = ? AND model_version = ? AND window_start = ? AND window_end = ? "
        "AND sample = ?",
        key,
    ).fetchone()
    if row is None:
        result = domain_classifier(
            con, version, selection, reference=reference, sample=sample, threshold=threshold
        )
        con.execute(
            "INSERT INTO drift_domain_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*key, result.auc, result.auc_std, result.reference_n, result.current_n, result.folds],
        )
        return result
    auc, auc_std, reference_n, current_n, folds = row
    if auc is None:
        return DomainClassifierResult(
            "too few rows", None, None, threshold, None, reference_n, current_n, folds
        )
    drifted = auc > threshold
    return DomainClassifierResult(
        "drift" if drifted else "no drift",
        auc,
        auc_std,
        threshold,
        drifted,
        reference_n,
        current_n,
        folds,
    )


def _sample_sql(table: str, where: str, columns: list[str], limit: int, seed: int) -> str:
    """A bounded, deterministic sample: rows ordered by a seeded hash, first `limit` kept.

    DuckDB's USING SAMPLE ... REPEATABLE is only repeatable single-threaded; a hash order
    gives the same rows on any thread count, in one scan and a top-N heap of `limit` rows.
    """
    cols = ", ".join(quote_ident(c) for c in columns)
    return (
        f"SELECT {cols} FROM {table} WHERE {where} "
        f"ORDER BY hash(rowid, {int(seed)}) LIMIT {int(limit)}"
    )


def domain_classifier(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    *,
    reference: Selection | None = None,
    sample: int = DOMAIN_SAMPLE,
    threshold: float = DOMAIN_AUC,
    seed: int = 20260824,
    folds: int = 5,
) -> DomainClassifierResult:
    """Train a classifier to tell current rows from reference rows on the model's inputs.

    If it does better than chance (cross-validated ROC AUC above `threshold`), the joint
    distribution moved, even when no single feature's test says so (e.g. a correlation
    flipped). Both sides are sampled in SQL to at most `sample` rows, so the cost is bounded.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    names = [f.name for f in version.model_inputs]
    cur_where, cur_params = selection.where()
    current = con.execute(
        _sample_sql(log_table(con, version.model_name), cur_where, names, sample, seed), cur_params
    ).df()
    if reference is None:
        ref_where, ref_params = "model_version = ?", [version.model_version]
        if selection.segment is not None:
            ref_where += f" AND CAST({quote_ident(selection.segment.column)} AS VARCHAR) = ?"
            ref_params.append(selection.segment.value)
        table = reference_table(con, version.model_name)
    else:
        ref_where, ref_params = reference.where()
        table = log_table(con, version.model_name)
    ref = con.execute(_sample_sql(table, ref_where, names, sample, seed), ref_params).df()
    n = min(len(ref), len(current))
    if n < MIN_ROWS or n < folds * 2:
        return DomainClassifierResult(
            "too few rows", None, None, threshold, None, len(ref), len(current), folds
        )
    # Balanced classes, so AUC 0.5 means "cannot tell them apart".
    ref, current = ref.iloc[:n], current.iloc[:n]
    frame = pd.concat([ref, current], ignore_index=True)
    target = np.r_[np.zeros(n), np.ones(n)]
    categorical = [f.name for f in version.model_inputs if f.categorical]
    for name in categorical:
        frame[name] = frame[name].astype("string").fillna("<missing>").astype("category")
    for name in names:
        if name not in categorical:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    model = HistGradientBoostingClassifier(
        max_iter=60,
        max_depth=3,
        learning_rate=0.1,
        categorical_features="from_dtype",
        random_state=seed,
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # One OpenMP thread: on a small sample, thread start-up and contention with DuckDB (and
    # other users of a small machine) cost far more than they save (measured: 0.5 s vs 6-16 s).
    with threadpool_limits(1):
        scores = cross_val_score(model, frame[names], target, cv=splitter, scoring="roc_auc")
    auc, auc_std = float(np.mean(scores)), float(np.std(scores))
    drifted = auc > threshold
    return DomainClassifierResult(
        "drift" if drifted else "no drift", auc, auc_std, threshold, drifted, n, n, folds
    )
