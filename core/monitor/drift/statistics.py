"""Exact pair statistics in DuckDB: Kolmogorov–Smirnov D and Wasserstein-1 between the
reference and every window, from value counts, plus the reference's moments.

DuckDB walks the merged empirical CDFs of the reference and each window over the union of
their distinct values (value counts from the profiles), so D and W1 equal scipy's ks_2samp /
wasserstein_distance on the raw rows. Cost: one sort of the reference's and all windows'
distinct values per feature (the reference once, not once per window), one sort of each
window's values, and a small range join; no cross product.

With Fr the reference CDF, H(x) its integral up to x, and Fc a window's CDF, which is
constant (c) between its consecutive distinct values a = v_k and b = v_k+1:
- KS: Fr is monotone, so D = max_k max(|Fr(v_k) - Fc(v_k)|, |Fr(v_k-) - Fc(v_k-)|), the value
  scipy's ks_2samp finds over the pooled sample.
- W1 = integral of |Fr - Fc|. On [a, b): if Fr(a) >= c the integrand is Fr - c, giving
  H(b) - H(a) - c(b - a); if Fr(b-) <= c it is c - Fr, giving c(b - a) - (H(b) - H(a));
  otherwise Fr crosses c at x*, the first reference value with Fr >= c (found by a range join
  for these few intervals only), and the two pieces are summed. Before v_1, Fc = 0 (integral
  H(v_1)); after the last value, Fc = 1 up to the reference's maximum.
Fr, Fr(v-) and H at every current value come from running maxima over the merged sort (all
three never decrease along it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from vigil.core.monitor.drift.sources import Query


@dataclass(frozen=True)
class PairStatistics:
    """One (feature, window key): KS D, Wasserstein-1, and the window's n, mean and std."""

    ks: float
    wasserstein: float
    n: int
    mean: float | None
    std: float | None
    ks_error: float = 0.0  # bounded (core.lake.pairs): the true value is in [ks, ks + error]
    wasserstein_error: float = 0.0


# feature, w, ks, wasserstein, n, mean, std, ks_error, wasserstein_error (0 when exact)
PairRow = tuple[str, dt.datetime, float, float, int, float | None, float | None, float, float]


def pair_statistics(
    con: duckdb.DuckDBPyConnection, current: Query, reference: Query
) -> list[PairRow]:
    """Per (feature, w): (feature, w, ks, wasserstein, n, mean, std), exactly.

    Both inputs are value-count relations (feature, w, value, n) with their parameters."""
    _reference_cdf(con, reference)
    _current_steps(con, current)
    rows = [(*row, 0.0, 0.0) for row in _pair_rows(con)]
    con.execute("DROP TABLE pair_current; DROP TABLE pair_reference")
    return rows


def _reference_cdf(con: duckdb.DuckDBPyConnection, reference: Query) -> None:
    """pair_reference: per reference value, Fr, Fr just before it, and H (the integral of Fr)."""
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


def _current_steps(con: duckdb.DuckDBPyConnection, current: Query) -> None:
    """pair_current: per window value, the window's CDF step and Fr, Fr(v-), H located there.

    Materialised on purpose: filtering the windowed CTE inline made DuckDB 7x slower. (One
    SQL statement, so longer than 60 lines.)"""
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


def _pair_rows(con: duckdb.DuckDBPyConnection) -> list[Any]:
    """D, W1 and the window's moments per (feature, w), from the two temp tables."""
    return con.execute(
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


def reference_moments(con: duckdb.DuckDBPyConnection, values: Query) -> dict[str, float]:
    """feature -> mean of the reference's non-null values."""
    rows = con.execute(
        f"SELECT feature, sum(value * n) / sum(n) FROM ({values[0]}) GROUP BY feature",
        values[1],
    ).fetchall()
    return {f: float(m) for f, m in rows}


def reference_std(con: duckdb.DuckDBPyConnection, values: Query) -> dict[str, float]:
    """Two-pass population std (the one-pass formula loses digits on large, tight values)."""
    rows = con.execute(
        f"""WITH v AS ({values[0]}),
            m AS (SELECT feature, sum(value * n) / sum(n) AS mean FROM v GROUP BY feature)
            SELECT v.feature, sqrt(sum(v.n * pow(v.value - m.mean, 2)) / sum(v.n))
            FROM v JOIN m USING (feature) GROUP BY v.feature""",
        values[1],
    ).fetchall()
    return {f: float(s) for f, s in rows}


def as_pairs(rows: list[Any]) -> dict[tuple[str, dt.datetime], PairStatistics]:
    return {
        (feature, w): PairStatistics(
            float(ks), float(wd), int(n), mean, std, float(ks_err or 0), float(wd_err or 0)
        )
        for feature, w, ks, wd, n, mean, std, ks_err, wd_err in rows
    }
