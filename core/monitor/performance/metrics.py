"""Performance metrics in SQL: every query that scans rows, run in DuckDB.

The log table is joined with `labels` on (model_name, prediction_id), only rows with status
'ok', and reduced to one row per (window, distinct score): the "score table". Point
estimates come from SQL over that table; only the score table leaves DuckDB, for the
bootstrap. `window_key` arguments are SQL from `Windowing.key_sql` over `l.served_at`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from vigil.core.monitor.performance.results import ReliabilityBin
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.store.pending import LABELS

N_BINS = 10
LOG_EPS = float(np.finfo(np.float64).eps)  # sklearn.metrics.log_loss clips to [eps, 1 - eps]
# Reliability bins exactly as sklearn.calibration.calibration_curve(strategy="uniform"):
# bin = number of inner edges strictly below the score (np.searchsorted(..., side="left")).
BIN_EDGES = tuple(float(x) for x in np.linspace(0.0, 1.0, N_BINS + 1))

FloatArray = npt.NDArray[np.float64]
ScoreTable = tuple[FloatArray, FloatArray, FloatArray]  # distinct scores, positives, negatives


@dataclass(frozen=True)
class BinaryCounts:
    """One window's labelled rows: n, positives p, negatives q, TP and FP at the threshold,
    and the metrics SQL computes exactly."""

    n: int
    p: int
    q: int
    tp: int
    fp: int
    auc: float | None
    log_loss: float | None
    brier: float | None


@dataclass(frozen=True)
class RegressionSums:
    """One window's sums for MAE, RMSE (with their spreads) and R²."""

    n: int
    mae: float
    mae_sd: float | None
    mse: float
    mse_sd: float | None
    ss_res: float
    ss_tot: float | None


def finite(x: Any) -> float | None:
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def labelled_rows_sql(
    con: duckdb.DuckDBPyConnection, selection: Selection
) -> tuple[str, list[Any]]:
    """FROM/WHERE clause of the selection's status-'ok' predictions joined with their labels."""
    where, params = selection.where("l")
    sql = (
        f"{log_table(con, selection.model_name)} AS l JOIN {LABELS} AS b "
        "ON b.model_name = ? AND b.prediction_id = l.prediction_id "
        f"WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL"
    )
    return sql, [selection.model_name, *params]


def bin_expr(score: str) -> str:
    """Reliability bin of a score, identical to sklearn's calibration_curve binning."""
    inner = BIN_EDGES[1:-1]
    return "(" + " + ".join(f"CAST({score} > {edge!r} AS INTEGER)" for edge in inner) + ")"


def coverage(
    con: duckdb.DuckDBPyConnection, selection: Selection, window_key: str
) -> dict[dt.datetime, tuple[int, int]]:
    """Per window with predictions: (status-'ok' predictions, of which labelled)."""
    where, params = selection.where("l")
    rows = con.execute(
        f"""
        SELECT {window_key} AS w, count(*) AS predictions, count(b.label) AS labelled
        FROM {log_table(con, selection.model_name)} AS l
        LEFT JOIN {LABELS} AS b ON b.model_name = ? AND b.prediction_id = l.prediction_id
        WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
        GROUP BY w ORDER BY w
        """,
        [selection.model_name, *params],
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def binary_counts(
    con: duckdb.DuckDBPyConnection, selection: Selection, window_key: str, threshold: float
) -> dict[dt.datetime, BinaryCounts]:
    """Confusion counts, exact ROC AUC (ties count one half), log loss and Brier per window,
    all from the score table in SQL."""
    joined, params = labelled_rows_sql(con, selection)
    eps, one_minus = repr(LOG_EPS), repr(1.0 - LOG_EPS)
    rows = con.execute(
        f"""
        WITH s AS ({_score_cells(joined, window_key)}),
        ranked AS (
            SELECT w, score, n, pos, n - pos AS neg,
                   coalesce(sum(n - pos) OVER (PARTITION BY w ORDER BY score
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS neg_below
            FROM s
        )
        SELECT w, sum(n) AS n, sum(pos) AS p, sum(neg) AS q,
               coalesce(sum(pos) FILTER (WHERE score >= ?), 0) AS tp,
               coalesce(sum(neg) FILTER (WHERE score >= ?), 0) AS fp,
               sum(pos * (neg_below + 0.5 * neg)) / nullif(sum(pos) * sum(neg), 0) AS auc,
               sum(pos * -ln(greatest(least(score, {one_minus}), {eps}))
                   + neg * -ln(greatest(least(1 - score, {one_minus}), {eps}))) / sum(n)
                   AS log_loss,
               sum(pos * (1 - score) ^ 2 + neg * score ^ 2) / sum(n) AS brier
        FROM ranked GROUP BY w ORDER BY w
        """,
        [*params, threshold, threshold],
    ).fetchall()
    return {
        w: BinaryCounts(
            int(n), int(p), int(q), int(tp), int(fp), finite(auc), finite(ll), finite(brier)
        )
        for w, n, p, q, tp, fp, auc, ll, brier in rows
    }


def reliability_bins(
    con: duckdb.DuckDBPyConnection, selection: Selection, window_key: str
) -> dict[dt.datetime, list[ReliabilityBin]]:
    """Per window: count, mean score and observed positive rate in each reliability bin."""
    joined, params = labelled_rows_sql(con, selection)
    bins: dict[dt.datetime, list[ReliabilityBin]] = {}
    for w, b, n, mean_pred, observed in con.execute(
        f"""
        WITH s AS ({_score_cells(joined, window_key)})
        SELECT w, {bin_expr("score")} AS bin, sum(n), sum(n * score) / sum(n), sum(pos) / sum(n)
        FROM s GROUP BY ALL ORDER BY w, bin
        """,
        params,
    ).fetchall():
        bins.setdefault(w, []).append(
            ReliabilityBin(
                BIN_EDGES[b], BIN_EDGES[b + 1], int(n), float(mean_pred), float(observed)
            )
        )
    return bins


def _score_cells(joined: str, window_key: str) -> str:
    return (
        f"SELECT {window_key} AS w, l.prediction AS score, count(*) AS n, "
        f"sum(b.label) AS pos FROM {joined} GROUP BY ALL"
    )


def score_table(
    con: duckdb.DuckDBPyConnection, selection: Selection, window_key: str
) -> dict[dt.datetime, ScoreTable]:
    """Per window: distinct scores (ascending), positives and negatives at each score."""
    joined, params = labelled_rows_sql(con, selection)
    frame = con.execute(
        f"SELECT {window_key} AS w, l.prediction AS score, "
        f"sum(b.label) AS pos, count(*) - sum(b.label) AS neg FROM {joined} "
        "GROUP BY ALL ORDER BY w, score",
        params,
    ).fetchnumpy()
    out: dict[dt.datetime, ScoreTable] = {}
    windows = frame["w"]
    if len(windows) == 0:
        return out
    _, starts = np.unique(windows, return_index=True)
    bounds = [*starts.tolist(), len(windows)]
    for i in range(len(starts)):
        sl = slice(bounds[i], bounds[i + 1])
        key = windows[bounds[i]]
        key = key.astype("datetime64[us]").item() if isinstance(key, np.datetime64) else key
        out[key] = (
            frame["score"][sl].astype(float),
            frame["pos"][sl].astype(float),
            frame["neg"][sl].astype(float),
        )
    return out


def regression_sums(
    con: duckdb.DuckDBPyConnection, selection: Selection, window_key: str
) -> dict[dt.datetime, RegressionSums]:
    joined, params = labelled_rows_sql(con, selection)
    rows = con.execute(
        f"""
        SELECT {window_key} AS w, count(*) AS n,
               avg(abs(l.prediction - b.label)), stddev_samp(abs(l.prediction - b.label)),
               avg((l.prediction - b.label) ^ 2), stddev_samp((l.prediction - b.label) ^ 2),
               sum((l.prediction - b.label) ^ 2), var_pop(b.label) * count(*)
        FROM {joined} GROUP BY w
        """,
        params,
    ).fetchall()
    return {r[0]: RegressionSums(int(r[1]), *r[2:]) for r in rows}
