"""Realised model performance per window once labels arrive, with intervals, coverage and
calibration, and the concept-drift check (performance falls while the inputs hold steady).

Everything that scans rows runs in DuckDB: the log table is joined with `labels` on
(model_name, prediction_id), only rows with status 'ok', and reduced to one row per
(window, distinct score) — the "score table". Point estimates come from SQL over that
table; bootstrap intervals resample the score table's cells (a multinomial draw over
(score, outcome) counts), which is the same as resampling raw rows, without pulling them.

Intervals, per metric (also in CI_METHOD):
- accuracy, precision, recall, label coverage: Wilson score interval (95 %);
- roc_auc, f1, log_loss, brier, ece: percentile bootstrap, 200 draws, fixed seed;
- mae, rmse: normal approximation on the mean absolute / squared error (rmse = sqrt of the
  MSE interval); r2: no interval.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from vigil.core.errors import VigilError
from vigil.core.monitor.selection import Segment, Selection, data_range, log_table, reference_table
from vigil.core.monitor.windows import calendar_start, window_start_sql
from vigil.core.registry.versions import ModelVersion, get_version
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident

BINARY = "binary_classification"
REGRESSION = "regression"
GRANULARITIES = ("day", "week", "month")
MIN_LABELS = 50
DEFAULT_MARGIN = 0.05
N_BINS = 10
BOOTSTRAP_DRAWS = 200
BOOTSTRAP_SEED = 20261125
Z95 = 1.959963984540054
LOG_EPS = float(np.finfo(np.float64).eps)  # sklearn.metrics.log_loss clips to [eps, 1 - eps]

BINARY_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece")
REGRESSION_METRICS = ("mae", "rmse", "r2")
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "log_loss": "Log loss",
    "brier": "Brier score",
    "ece": "Expected calibration error",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R²",
}
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
    "ece": False,
    "mae": False,
    "rmse": False,
    "r2": True,
}
CI_METHOD = {
    "accuracy": "wilson",
    "precision": "wilson",
    "recall": "wilson",
    "roc_auc": "bootstrap",
    "f1": "bootstrap",
    "log_loss": "bootstrap",
    "brier": "bootstrap",
    "ece": "bootstrap",
    "mae": "normal",
    "rmse": "normal",
    "r2": "none",
}
PRIMARY_METRIC = {BINARY: "roc_auc", REGRESSION: "rmse"}
# Reliability bins exactly as sklearn.calibration.calibration_curve(strategy="uniform"):
# bin = number of inner edges strictly below the score (np.searchsorted(..., side="left")).
BIN_EDGES = tuple(float(x) for x in np.linspace(0.0, 1.0, N_BINS + 1))


class PerformanceError(VigilError):
    """Performance cannot be computed for this selection (unknown task, bad granularity)."""


@dataclass(frozen=True)
class Estimate:
    """A value with an optional 95 % interval and how the interval was made."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = "none"


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class WindowPerformance:
    """One window (start = None for the whole selection)."""

    start: dt.datetime | None
    predictions: int  # status 'ok' rows in the window
    labelled: int
    coverage: Estimate
    metrics: tuple[tuple[str, Estimate], ...]
    confusion: Confusion | None
    reliability: tuple[ReliabilityBin, ...]
    min_labels: int
    status: str  # "too few labels" | "ok" | "below validation"

    @property
    def enough_labels(self) -> bool:
        return self.labelled >= self.min_labels

    def metric(self, name: str) -> Estimate:
        for key, estimate in self.metrics:
            if key == name:
                return estimate
        return Estimate(None)

    def value(self, name: str) -> float | None:
        return self.metric(name).value

    @property
    def mean_predicted(self) -> float | None:
        """Mean score of the labelled rows (calibration in the large, with observed_rate)."""
        total = sum(b.count for b in self.reliability)
        return sum(b.count * b.mean_predicted for b in self.reliability) / total if total else None

    @property
    def observed_rate(self) -> float | None:
        total = sum(b.count for b in self.reliability)
        return sum(b.count * b.observed_rate for b in self.reliability) / total if total else None


@dataclass(frozen=True)
class PerformanceReport:
    selection: Selection
    task: str
    granularity: str
    threshold: float | None
    min_labels: int
    margin: float
    validation_set: str | None
    validation: tuple[tuple[str, float], ...]
    windows: tuple[WindowPerformance, ...]
    overall: WindowPerformance

    @property
    def metric_names(self) -> tuple[str, ...]:
        return BINARY_METRICS if self.task == BINARY else REGRESSION_METRICS

    def validation_value(self, name: str) -> float | None:
        return dict(self.validation).get(name)


# ---------------------------------------------------------------- small statistics helpers


def wilson(successes: float, n: float, z: float = Z95) -> Estimate:
    """Wilson score interval for a proportion (counts may be expected, fractional counts)."""
    if n <= 0:
        return Estimate(None, method="wilson")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), "wilson")


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def validation_metrics(version: ModelVersion) -> tuple[str | None, dict[str, float]]:
    """The version's validation metrics: the 'holdout' set if declared, else the first one."""
    sets = version.validation_metrics or {}
    if not sets:
        return None, {}
    name = "holdout" if "holdout" in sets else next(iter(sets))
    return name, {k: float(v) for k, v in sets[name].items() if isinstance(v, int | float)}


def window_expr(granularity: str | None, column: str = "l.served_at") -> str:
    """SQL for a row's window start (UTC); a constant when granularity is None (whole range)."""
    if granularity is None:
        return "TIMESTAMP '1970-01-01'"
    return window_start_sql(granularity, column)


def labelled_rows_sql(con: duckdb.DuckDBPyConnection, selection: Selection) -> tuple[str, list]:
    """FROM/WHERE clause of the selection's status-'ok' predictions joined with their labels."""
    where, params = selection.where("l")
    sql = (
        f"{log_table(con, selection.model_name)} AS l JOIN labels AS b "
        "ON b.model_name = ? AND b.prediction_id = l.prediction_id "
        f"WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL"
    )
    return sql, [selection.model_name, *params]


def bin_expr(score: str) -> str:
    """Reliability bin of a score, identical to sklearn's calibration_curve binning."""
    inner = BIN_EDGES[1:-1]
    return "(" + " + ".join(f"CAST({score} > {edge!r} AS INTEGER)" for edge in inner) + ")"


# ---------------------------------------------------------------- SQL: coverage and scores


def _coverage(
    con: duckdb.DuckDBPyConnection, selection: Selection, granularity: str | None
) -> dict[Any, tuple[int, int]]:
    where, params = selection.where("l")
    rows = con.execute(
        f"""
        SELECT {window_expr(granularity)} AS w, count(*) AS predictions,
               count(b.label) AS labelled
        FROM {log_table(con, selection.model_name)} AS l
        LEFT JOIN labels AS b ON b.model_name = ? AND b.prediction_id = l.prediction_id
        WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL
        GROUP BY w ORDER BY w
        """,
        [selection.model_name, *params],
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def _binary_sql(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    granularity: str | None,
    threshold: float,
) -> tuple[dict[Any, dict[str, Any]], dict[Any, list[ReliabilityBin]]]:
    """Confusion counts, exact ROC AUC (ties count one half), log loss, Brier and reliability
    bins per window, all from the score table in SQL."""
    joined, params = labelled_rows_sql(con, selection)
    score_table = (
        f"SELECT {window_expr(granularity)} AS w, l.prediction AS score, count(*) AS n, "
        f"sum(b.label) AS pos FROM {joined} GROUP BY ALL"
    )
    eps, one_minus = repr(LOG_EPS), repr(1.0 - LOG_EPS)
    rows = con.execute(
        f"""
        WITH s AS ({score_table}),
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
    stats = {}
    for w, n, p, q, tp, fp, auc, ll, brier in rows:
        stats[w] = {
            "n": int(n),
            "p": int(p),
            "q": int(q),
            "tp": int(tp),
            "fp": int(fp),
            "auc": _finite(auc),
            "log_loss": _finite(ll),
            "brier": _finite(brier),
        }
    bins: dict[Any, list[ReliabilityBin]] = {}
    for w, b, n, mean_pred, observed in con.execute(
        f"""
        WITH s AS ({score_table})
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
    return stats, bins


def score_table(
    con: duckdb.DuckDBPyConnection, selection: Selection, granularity: str | None
) -> dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per window: distinct scores (ascending), positives and negatives at each score."""
    joined, params = labelled_rows_sql(con, selection)
    frame = con.execute(
        f"SELECT {window_expr(granularity)} AS w, l.prediction AS score, "
        f"sum(b.label) AS pos, count(*) - sum(b.label) AS neg FROM {joined} "
        "GROUP BY ALL ORDER BY w, score",
        params,
    ).fetchnumpy()
    out = {}
    windows = frame["w"]
    if len(windows) == 0:
        return out
    keys, starts = np.unique(windows, return_index=True)
    bounds = [*starts.tolist(), len(windows)]
    for i, _ in enumerate(keys):
        sl = slice(bounds[i], bounds[i + 1])
        key = windows[bounds[i]]
        key = key.astype("datetime64[us]").item() if isinstance(key, np.datetime64) else key
        out[key] = (
            frame["score"][sl].astype(float),
            frame["pos"][sl].astype(float),
            frame["neg"][sl].astype(float),
        )
    return out


# ---------------------------------------------------------------- bootstrap on the score table


def bootstrap_binary(
    *,
    scores: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    threshold: float,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Estimate]:
    """Percentile intervals for AUC, F1, log loss, Brier and ECE by resampling the cells of the
    score table (multinomial over (score, outcome) counts = resampling rows with replacement)."""
    counts = np.concatenate([positives, negatives])
    total = int(counts.sum())
    names = ("roc_auc", "f1", "log_loss", "brier", "ece")
    if total == 0:
        return {n: Estimate(None, method="bootstrap") for n in names}
    rng = np.random.default_rng(seed)
    k = len(scores)
    predicted = scores >= threshold
    clipped = np.clip(scores, LOG_EPS, 1 - LOG_EPS)
    clipped_neg = np.clip(1 - scores, LOG_EPS, 1 - LOG_EPS)
    bins = np.searchsorted(np.array(BIN_EDGES[1:-1]), scores, side="left")
    onehot = np.zeros((k, N_BINS))
    onehot[np.arange(k), bins] = 1.0
    results: dict[str, list[np.ndarray]] = {n: [] for n in names}
    chunk = max(1, min(draws, 2_000_000 // max(2 * k, 1)))
    done = 0
    while done < draws:
        size = min(chunk, draws - done)
        m = rng.multinomial(total, counts / total, size=size).astype(float)
        pos, neg = m[:, :k], m[:, k:]
        n_pos, n_neg = pos.sum(1), neg.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            below = np.cumsum(neg, axis=1) - neg
            auc = (pos * (below + 0.5 * neg)).sum(1) / (n_pos * n_neg)
            tp = pos[:, predicted].sum(1)
            fp = neg[:, predicted].sum(1)
            fn = n_pos - tp
            f1 = 2 * tp / (2 * tp + fp + fn)
            log_loss = (pos @ -np.log(clipped) + neg @ -np.log(clipped_neg)) / total
            brier = (pos @ (1 - scores) ** 2 + neg @ scores**2) / total
            ece = np.abs(pos @ onehot - ((pos + neg) * scores) @ onehot).sum(1) / total
        for name, values in zip(names, (auc, f1, log_loss, brier, ece), strict=True):
            results[name].append(values)
        done += size
    out = {}
    for name in names:
        values = np.concatenate(results[name])
        values = values[np.isfinite(values)]
        if len(values) == 0:
            out[name] = Estimate(None, method="bootstrap")
        else:
            low, high = np.percentile(values, [2.5, 97.5])
            out[name] = Estimate(None, float(low), float(high), "bootstrap")
    return out


def ece_from_bins(bins: list[ReliabilityBin] | tuple[ReliabilityBin, ...]) -> float | None:
    total = sum(b.count for b in bins)
    if total == 0:
        return None
    return sum(b.count * abs(b.observed_rate - b.mean_predicted) for b in bins) / total


# ---------------------------------------------------------------- the report


def _status(
    labelled: int,
    min_labels: int,
    value: float | None,
    reference: float | None,
    margin: float,
    higher_is_better: bool,
) -> str:
    if labelled < min_labels:
        return "too few labels"
    if value is None or reference is None:
        return "ok"
    worse = value < reference - margin if higher_is_better else value > reference + margin
    return "below validation" if worse else "ok"


def _binary_windows(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    granularity: str | None,
    threshold: float,
    coverage: dict[Any, tuple[int, int]],
    min_labels: int,
    margin: float,
    validation: dict[str, float],
    intervals: bool,
) -> list[WindowPerformance]:
    stats, bins = _binary_sql(con, selection, granularity, threshold)
    cells = score_table(con, selection, granularity) if intervals else {}
    out = []
    for w, (predictions, labelled) in coverage.items():
        s = stats.get(w)
        metrics: dict[str, Estimate] = {}
        confusion = None
        if s:
            tp, fp, p, n = s["tp"], s["fp"], s["p"], s["n"]
            fn, tn = p - tp, s["q"] - fp
            confusion = Confusion(tp, fp, tn, fn)
            boot = (
                bootstrap_binary(
                    scores=cells[w][0],
                    positives=cells[w][1],
                    negatives=cells[w][2],
                    threshold=threshold,
                )
                if intervals
                else {}
            )
            window_bins = bins.get(w, [])
            f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None
            point = {
                "roc_auc": s["auc"],
                "f1": f1,
                "log_loss": s["log_loss"],
                "brier": s["brier"],
                "ece": ece_from_bins(window_bins),
            }
            metrics["accuracy"] = wilson(tp + tn, n)
            metrics["precision"] = wilson(tp, tp + fp)
            metrics["recall"] = wilson(tp, p)
            for name, value in point.items():
                b = boot.get(name, Estimate(None))
                metrics[name] = Estimate(value, b.low, b.high, b.method)
        ordered = tuple((m, metrics.get(m, Estimate(None))) for m in BINARY_METRICS)
        out.append(
            _window(
                BINARY,
                None if granularity is None else w,
                predictions,
                labelled,
                ordered,
                confusion=confusion,
                reliability=tuple(bins.get(w, [])),
                min_labels=min_labels,
                margin=margin,
                validation=validation,
            )
        )
    return out


def _window(
    task: str,
    start: dt.datetime | None,
    predictions: int,
    labelled: int,
    metrics: tuple[tuple[str, Estimate], ...],
    *,
    confusion: Confusion | None,
    reliability: tuple[ReliabilityBin, ...],
    min_labels: int,
    margin: float,
    validation: dict[str, float],
) -> WindowPerformance:
    """One window's result, with its status against the task's primary validation metric."""
    primary = PRIMARY_METRIC[task]
    return WindowPerformance(
        start=start,
        predictions=predictions,
        labelled=labelled,
        coverage=wilson(labelled, predictions),
        metrics=metrics,
        confusion=confusion,
        reliability=reliability,
        min_labels=min_labels,
        status=_status(
            labelled,
            min_labels,
            dict(metrics).get(primary, Estimate(None)).value,
            validation.get(primary),
            margin,
            task == BINARY,
        ),
    )


def _regression_windows(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    granularity: str | None,
    coverage: dict[Any, tuple[int, int]],
    min_labels: int,
    margin: float,
    validation: dict[str, float],
) -> list[WindowPerformance]:
    joined, params = labelled_rows_sql(con, selection)
    rows = con.execute(
        f"""
        SELECT {window_expr(granularity)} AS w, count(*) AS n,
               avg(abs(l.prediction - b.label)), stddev_samp(abs(l.prediction - b.label)),
               avg((l.prediction - b.label) ^ 2), stddev_samp((l.prediction - b.label) ^ 2),
               sum((l.prediction - b.label) ^ 2), var_pop(b.label) * count(*)
        FROM {joined} GROUP BY w
        """,
        params,
    ).fetchall()
    stats = {r[0]: r[1:] for r in rows}
    out = []
    for w, (predictions, labelled) in coverage.items():
        metrics: dict[str, Estimate] = {}
        if w in stats:
            n, mae, mae_sd, mse, mse_sd, ss_res, ss_tot = stats[w]
            half_mae = Z95 * (mae_sd or 0.0) / math.sqrt(n) if mae_sd is not None else None
            half_mse = Z95 * (mse_sd or 0.0) / math.sqrt(n) if mse_sd is not None else None
            metrics["mae"] = Estimate(
                mae,
                None if half_mae is None else max(0.0, mae - half_mae),
                None if half_mae is None else mae + half_mae,
                "normal",
            )
            metrics["rmse"] = Estimate(
                math.sqrt(mse),
                None if half_mse is None else math.sqrt(max(0.0, mse - half_mse)),
                None if half_mse is None else math.sqrt(mse + half_mse),
                "normal",
            )
            r2 = 1 - ss_res / ss_tot if ss_tot and ss_tot > 0 else None
            metrics["r2"] = Estimate(r2)
        ordered = tuple((m, metrics.get(m, Estimate(None))) for m in REGRESSION_METRICS)
        out.append(
            _window(
                REGRESSION,
                None if granularity is None else w,
                predictions,
                labelled,
                ordered,
                confusion=None,
                reliability=(),
                min_labels=min_labels,
                margin=margin,
                validation=validation,
            )
        )
    return out


def compute_windows(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    granularity: str | None,
    *,
    min_labels: int = MIN_LABELS,
    margin: float = DEFAULT_MARGIN,
    intervals: bool = True,
) -> list[WindowPerformance]:
    """Per-window performance on an open connection (granularity None: the whole selection);
    intervals=False skips the bootstrap (alert rules need point values only)."""
    _, validation = validation_metrics(version)
    coverage = _coverage(con, selection, granularity)
    if granularity is None and not coverage:
        coverage = {window_literal_none(): (0, 0)}
    if version.task == BINARY:
        threshold = 0.5 if version.decision_threshold is None else version.decision_threshold
        return _binary_windows(
            con,
            selection,
            granularity,
            threshold,
            coverage,
            min_labels,
            margin,
            validation,
            intervals,
        )
    if version.task == REGRESSION:
        return _regression_windows(
            con, selection, granularity, coverage, min_labels, margin, validation
        )
    raise PerformanceError(
        f"{version.model_name} {version.model_version} is a {version.task} model; performance "
        "is computed for binary_classification and regression models."
    )


def window_literal_none() -> dt.datetime:
    return dt.datetime(1970, 1, 1)


def performance_report(
    store: Store,
    selection: Selection,
    granularity: str = "week",
    *,
    min_labels: int = MIN_LABELS,
    margin: float = DEFAULT_MARGIN,
    intervals: bool = True,
) -> PerformanceReport:
    """Realised performance per window and over the whole selection."""
    options = {"min_labels": min_labels, "margin": margin, "intervals": intervals}
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        windows = compute_windows(con, version, selection, granularity, **options)
        overall = compute_windows(con, version, selection, None, **options)[0]
    set_name, validation = validation_metrics(version)
    threshold = None
    if version.task == BINARY:
        threshold = 0.5 if version.decision_threshold is None else version.decision_threshold
    return PerformanceReport(
        selection=selection,
        task=version.task,
        granularity=granularity,
        threshold=threshold,
        min_labels=min_labels,
        margin=margin,
        validation_set=set_name,
        validation=tuple(sorted(validation.items())),
        windows=tuple(windows),
        overall=overall,
    )


# ---------------------------------------------------------------- concept drift


@dataclass(frozen=True)
class ConceptWindow:
    start: dt.datetime
    labelled: int
    metric_value: float | None
    validation_value: float | None
    performance_drop: bool
    ece: float | None
    baseline_ece: float | None
    calibration_shift: bool  # ECE grew by more than the margin over the baseline
    input_drift: bool | None  # None: input drift unknown
    verdict: str  # "too few labels" | "stable" | "concept drift" | "performance drop with
    # input drift" | "possible concept drift (input drift unknown)"


@dataclass(frozen=True)
class ConceptDriftReport:
    selection: Selection
    granularity: str
    metric: str
    margin: float
    validation_set: str | None
    baseline: Baseline
    baseline_ece: float | None
    input_drift_source: str  # "core.drift" or "input drift unknown"
    windows: tuple[ConceptWindow, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> tuple[ConceptWindow, ...]:
        return tuple(w for w in self.windows if w.verdict == "concept drift")


@dataclass(frozen=True)
class Baseline:
    """Where the expected score–outcome relation comes from: the version's reference data
    (kind "reference"), or its labelled production traffic in [start, end) (kind "period").

    The reference data is often the training split, scored in-sample, where a model looks
    better calibrated and more accurate than it is; a labelled early production period is
    then the honest baseline (NannyML's CBPE calls it the reference period)."""

    kind: str
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    use_segment: bool = True  # False: the whole version's rows, whatever the page's segment

    def describe(self) -> str:
        scope = "" if self.use_segment else " (all segments)"
        if self.kind == "reference":
            return f"the version's reference data{scope}"
        return (
            f"labelled traffic from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} (exclusive){scope}"
        )


BASELINE_DAYS = 28
BASELINE_MIN_LABELS = 500


def default_baseline(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, segment: Segment | None = None
) -> Baseline:
    """The first BASELINE_DAYS of the version's traffic if it holds BASELINE_MIN_LABELS labels
    (of the segment, else of all segments), else the reference data."""
    bounds = data_range(con, version.model_name, version.model_version)
    if bounds is None:
        return Baseline("reference")
    start = dt.datetime.combine(bounds[0].date(), dt.time())
    end = start + dt.timedelta(days=BASELINE_DAYS)
    for scope in ((segment, True), (None, False)) if segment is not None else ((None, True),):
        selection = Selection(version.model_name, version.model_version, start, end, scope[0])
        joined, params = labelled_rows_sql(con, selection)
        labelled = con.execute(f"SELECT count(*) FROM {joined}", params).fetchone()[0]
        if labelled >= BASELINE_MIN_LABELS:
            return Baseline("period", start, end, use_segment=scope[1])
    return Baseline("reference")


def baseline_scores(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    baseline: Baseline,
    segment: Segment | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The baseline's score table: distinct scores (ascending), positives, negatives."""
    if not baseline.use_segment:
        segment = None
    if baseline.kind == "reference":
        where = "model_version = ? AND prediction IS NOT NULL AND label IS NOT NULL"
        params: list[Any] = [version.model_version]
        if segment is not None:
            where += f" AND CAST({quote_ident(segment.column)} AS VARCHAR) = ?"
            params.append(segment.value)
        sql = (
            "SELECT prediction AS score, sum(label) AS pos, count(*) - sum(label) AS neg "
            f"FROM {reference_table(con, version.model_name)} WHERE {where} "
            "GROUP BY score ORDER BY score"
        )
    elif baseline.kind == "period" and baseline.start and baseline.end:
        selection = Selection(
            version.model_name, version.model_version, baseline.start, baseline.end, segment
        )
        joined, params = labelled_rows_sql(con, selection)
        sql = (
            "SELECT l.prediction AS score, sum(b.label) AS pos, count(*) - sum(b.label) AS neg "
            f"FROM {joined} GROUP BY score ORDER BY score"
        )
    else:
        raise PerformanceError(f"Unknown baseline {baseline!r}: use 'reference' or a period.")
    frame = con.execute(sql, params).fetchnumpy()
    return (
        np.asarray(frame["score"], dtype=float),
        np.asarray(frame["pos"], dtype=float),
        np.asarray(frame["neg"], dtype=float),
    )


def ece_from_scores(
    *, scores: np.ndarray, positives: np.ndarray, negatives: np.ndarray
) -> float | None:
    """Expected calibration error of a score table (the same bins as the windows use)."""
    n = positives + negatives
    total = n.sum()
    if total == 0:
        return None
    bins = np.searchsorted(np.array(BIN_EDGES[1:-1]), scores, side="left")
    observed = np.bincount(bins, weights=positives, minlength=N_BINS)
    predicted = np.bincount(bins, weights=n * scores, minlength=N_BINS)
    return float(np.abs(observed - predicted).sum() / total)


def input_drift_by_window(
    store: Store, selection: Selection, granularity: str
) -> dict[dt.datetime, bool] | None:
    """Per window (keyed by calendar window start): did any input feature drift? None when
    core.drift is unavailable.

    "Inputs held steady" must mean no feature moved: the dataset verdict (share of drifted
    features above 50 %) would call a window with two strongly drifted features steady and
    blame the drop on the concept."""
    try:
        from vigil.core.monitor.drift import (
            drift_report,  # another engineer's module; optional here
        )
    except ImportError:
        return None
    try:
        report = drift_report(store, selection, granularity=granularity, multivariate=False)
    except VigilError:  # e.g. no reference profile: the verdict is unknown, not an error here
        return None
    verdicts: dict[dt.datetime, bool] = {}
    for window in report.windows:
        if window.dataset.share is not None:
            verdicts[calendar_start(window.window.start, granularity)] = (
                window.dataset.drifted_count > 0
            )
    return verdicts


def concept_drift(
    store: Store,
    selection: Selection,
    granularity: str = "week",
    *,
    metric: str = "accuracy",
    margin: float = DEFAULT_MARGIN,
    min_labels: int = MIN_LABELS,
    input_drift: dict[dt.datetime, bool] | None = None,
    baseline: Baseline | None = None,
) -> ConceptDriftReport:
    """Windows where `metric` falls below validation by more than `margin` while the inputs did
    not drift, and where calibration (ECE) moved away from the reference's."""
    report = performance_report(
        store, selection, granularity, min_labels=min_labels, margin=margin, intervals=False
    )
    if metric not in report.metric_names:
        raise PerformanceError(
            f"'{metric}' is not a performance metric of a {report.task} model; choose one of "
            f"{', '.join(report.metric_names)}."
        )
    with store.connect() as con:
        version = get_version(con, selection.model_name, selection.model_version)
        if baseline is None:
            baseline = default_baseline(con, version, selection.segment)
        baseline_ece = None
        if version.task == BINARY:
            scores, pos, neg = baseline_scores(con, version, baseline, selection.segment)
            baseline_ece = ece_from_scores(scores=scores, positives=pos, negatives=neg)
    if input_drift is None:
        input_drift = input_drift_by_window(store, selection, granularity)
    source = "core.drift" if input_drift is not None else "input drift unknown"
    reference_value = report.validation_value(metric)
    higher = HIGHER_IS_BETTER[metric]
    windows = []
    for w in report.windows:
        value = w.value(metric)
        drop = (
            w.enough_labels
            and value is not None
            and reference_value is not None
            and (value < reference_value - margin if higher else value > reference_value + margin)
        )
        ece = w.value("ece")
        shift = (
            w.enough_labels
            and ece is not None
            and baseline_ece is not None
            and ece > baseline_ece + margin
        )
        drifted = None if input_drift is None else input_drift.get(w.start)
        if not w.enough_labels:
            verdict = "too few labels"
        elif not drop:
            verdict = "stable"
        elif drifted is None:
            verdict = "possible concept drift (input drift unknown)"
        elif drifted:
            verdict = "performance drop with input drift"
        else:
            verdict = "concept drift"
        windows.append(
            ConceptWindow(
                start=w.start,
                labelled=w.labelled,
                metric_value=value,
                validation_value=reference_value,
                performance_drop=bool(drop),
                ece=ece,
                baseline_ece=baseline_ece,
                calibration_shift=bool(shift),
                input_drift=drifted,
                verdict=verdict,
            )
        )
    return ConceptDriftReport(
        selection=selection,
        granularity=granularity,
        metric=metric,
        margin=margin,
        validation_set=report.validation_set,
        baseline=baseline,
        baseline_ece=baseline_ece,
        input_drift_source=source,
        windows=tuple(windows),
    )
