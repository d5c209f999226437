"""Explanations from the store: one logged prediction, a window's global importance, and
attribution drift (does the model lean on different features than on its reference data?).

Rows are sampled in SQL (a seeded hash order, so the same selection gives the same sample
on every run and in every process); only the sampled rows' feature columns leave DuckDB.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vigil.core.errors import VigilError
from vigil.core.explain.explainer import Attributions, Explainer, Progress, build_explainer, sigmoid
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.monitor.windows import calendar_start, calendar_windows, window_start_sql
from vigil.core.registry import artifacts
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident

BACKGROUND_ROWS = 100  # shap's usual background size: exact enough, ~1 ms per TreeSHAP row
GLOBAL_SAMPLE_ROWS = 300
DRIFT_SAMPLE_ROWS = 150  # per window
DRIFT_ROWS_TOTAL = 3000  # cap over all windows, so day windows stay fast
# A tenth of the importance mass moving to other features earns a warning; sampling noise
# at 150 rows per window is about 0.02-0.04 on the demo.
RANK_SHIFT_WARN = 0.1
PERMUTATION_ROWS = 20  # per sample, when the slow model-agnostic fallback explains
CACHE_SIZE = 8
SEED = 0


class PredictionNotFound(VigilError):
    """No logged prediction has the requested id."""


class NothingToExplain(VigilError):
    """The selection (or the reference) has no rows to explain."""


# ---- explainer cache: per (store, model, version, artifact hash), least recently used out.
_cache: OrderedDict[tuple[str, str, str, str], Explainer] = OrderedDict()
_cache_lock = threading.Lock()


def _feature_select(version: ModelVersion, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote_ident(f.name)}" for f in version.model_inputs)


def background_frame(
    store: Store, version: ModelVersion, rows: int = BACKGROUND_ROWS
) -> pd.DataFrame:
    """A seeded sample of the version's reference data: the baseline SHAP compares against."""
    with store.connect() as con:
        frame = con.execute(
            f"SELECT {_feature_select(version)} FROM {reference_table(con, version.model_name)} "
            "WHERE model_version = ? ORDER BY hash(row_number, ?), row_number LIMIT ?",
            [version.model_version, SEED, rows],
        ).df()
    if frame.empty:
        raise NothingToExplain(
            f"{version.model_name} {version.model_version} has no reference data to explain "
            "against; register the version with its reference data."
        )
    return frame


def get_explainer(store: Store, version: ModelVersion) -> Explainer:
    """The version's explainer, built once per artifact. The artifact's SHA-256 is checked
    on every call, so a file changed after registration is refused even when cached."""
    path = store.home / version.artifact_path
    data = artifacts.verified_bytes(path, version.artifact_sha256)
    key = (str(store.home), version.model_name, version.model_version, version.artifact_sha256)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    session = registry.load_model(store, version)
    explainer = build_explainer(data, session, version.features, background_frame(store, version))
    with _cache_lock:
        _cache[key] = explainer
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return explainer


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


# ---- one prediction


@dataclass(frozen=True)
class FeatureContribution:
    feature: str
    value: str  # as logged, for display
    contribution: float  # in the explanation's output space


@dataclass(frozen=True)
class LocalExplanation:
    """Why one logged prediction came out as it did: base value + contributions = output."""

    model_name: str
    model_version: str
    prediction_id: str
    served_at: dt.datetime
    status: str
    method: str  # "tree_shap" | "permutation"
    output_space: str  # "log_odds" | "raw" | "probability"
    base_value: float
    output_value: float  # base_value + sum of contributions
    contributions: tuple[FeatureContribution, ...]  # largest |contribution| first
    logged_prediction: float | None
    label: float | None
    base_probability: float | None  # sigmoid(base) when output_space is log_odds
    probability: float | None
    elapsed_ms: float
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "prediction_id": self.prediction_id,
            "served_at": self.served_at.isoformat(),
            "status": self.status,
            "method": self.method,
            "output_space": self.output_space,
            "base_value": self.base_value,
            "output_value": self.output_value,
            "base_probability": self.base_probability,
            "probability": self.probability,
            "logged_prediction": self.logged_prediction,
            "label": self.label,
            "contributions": [
                {"feature": c.feature, "value": c.value, "contribution": c.contribution}
                for c in self.contributions
            ],
            "elapsed_ms": self.elapsed_ms,
            "note": self.note,
        }


def _display(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(missing)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def explain_prediction(
    store: Store, model_name: str, prediction_id: str, *, model_version: str | None = None
) -> LocalExplanation:
    """Explain one logged prediction, found by its id in the model's log table."""
    with store.connect() as con:
        table = log_table(con, model_name)
        params: list[object] = [prediction_id]
        version_filter = ""
        if model_version is not None:
            version_filter = " AND l.model_version = ?"
            params.append(model_version)
        cursor = con.execute(
            f"SELECT l.model_version, l.served_at, l.status, l.prediction, lb.label, l.* "
            f"EXCLUDE (model_version, served_at, status, prediction) FROM {table} l "
            "LEFT JOIN labels lb ON lb.model_name = ? AND lb.prediction_id = l.prediction_id "
            f"WHERE l.prediction_id = ?{version_filter} LIMIT 1",
            [model_name, *params],
        )
        row = cursor.df()
        if row.empty:
            where = f" for version {model_version}" if model_version else ""
            raise PredictionNotFound(
                f"No prediction with id '{prediction_id}' is logged for {model_name}{where}. "
                "Check the id (it is case-sensitive), or pick one from the recent predictions."
            )
        version = registry.get_version(con, model_name, str(row.loc[0, "model_version"]))
    started = time.perf_counter()
    explainer = get_explainer(store, version)
    attributions = explainer.explain(row)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return _local(version, row, attributions, elapsed_ms)


def _local(
    version: ModelVersion, row: pd.DataFrame, attributions: Attributions, elapsed_ms: float
) -> LocalExplanation:
    values = attributions.values[0]
    order = np.argsort(-np.abs(values), kind="stable")
    contributions = tuple(
        FeatureContribution(
            attributions.features[j],
            _display(row.loc[0, attributions.features[j]]),
            float(values[j]),
        )
        for j in order
    )
    output = float(attributions.outputs[0])
    logged = row.loc[0, "prediction"]
    logged = None if pd.isna(logged) else float(logged)
    label = row.loc[0, "label"]
    log_odds = attributions.output_space == "log_odds"
    probability = float(sigmoid(output)) if log_odds else None
    note = None
    recomputed = probability if log_odds else output
    if logged is not None and recomputed is not None and abs(recomputed - logged) > 1e-4:
        note = (
            f"The logged prediction ({logged:.4f}) differs from the registered artifact's "
            f"output ({recomputed:.4f}): the service may not run the registered artifact."
        )
    return LocalExplanation(
        model_name=version.model_name,
        model_version=version.model_version,
        prediction_id=str(row.loc[0, "prediction_id"]),
        served_at=row.loc[0, "served_at"].to_pydatetime(),
        status=str(row.loc[0, "status"]),
        method=attributions.method,
        output_space=attributions.output_space,
        base_value=attributions.base_value,
        output_value=output,
        contributions=contributions,
        logged_prediction=logged,
        label=None if pd.isna(label) else float(label),
        base_probability=float(sigmoid(attributions.base_value)) if log_odds else None,
        probability=probability,
        elapsed_ms=elapsed_ms,
        note=note,
    )


@dataclass(frozen=True)
class RecentPrediction:
    prediction_id: str
    served_at: dt.datetime
    prediction: float | None
    label: float | None


def recent_predictions(
    store: Store, selection: Selection, limit: int = 50
) -> tuple[RecentPrediction, ...]:
    """The selection's latest predictions, for the explain page's picker."""
    where, params = selection.where("l")
    with store.connect() as con:
        rows = con.execute(
            f"SELECT l.prediction_id, l.served_at, l.prediction, lb.label "
            f"FROM {log_table(con, selection.model_name)} l LEFT JOIN labels lb "
            "ON lb.model_name = ? AND lb.prediction_id = l.prediction_id "
            f"WHERE {where} AND l.status = 'ok' ORDER BY l.served_at DESC, l.prediction_id "
            "LIMIT ?",
            [selection.model_name, *params, int(limit)],
        ).fetchall()
    return tuple(RecentPrediction(r[0], r[1], r[2], r[3]) for r in rows)


# ---- global importance


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |SHAP| per feature over a seeded sample, plus the sample for a beeswarm."""

    model_name: str
    model_version: str
    method: str
    output_space: str
    features: tuple[str, ...]  # most important first
    mean_abs: tuple[float, ...]
    rows: int
    complete: bool
    # Beeswarm: per feature (same order), the rows' SHAP values, shown values and a 0..1
    # colour position (the value's rank within the sample; empty for text features).
    shap_values: tuple[tuple[float, ...], ...]
    feature_values: tuple[tuple[str, ...], ...]
    colour: tuple[tuple[float, ...], ...]

    @property
    def shares(self) -> tuple[float, ...]:
        total = sum(self.mean_abs)
        return tuple(v / total if total else 0.0 for v in self.mean_abs)


def _sample_logs(
    store: Store, version: ModelVersion, selection: Selection, rows: int, seed: int
) -> pd.DataFrame:
    where, params = selection.where()
    with store.connect() as con:
        return con.execute(
            f"SELECT {_feature_select(version)} FROM {log_table(con, selection.model_name)} "
            f"WHERE {where} AND status = 'ok' ORDER BY hash(prediction_id, ?), prediction_id LIMIT ?",
            [*params, seed, rows],
        ).df()


def _rank_colour(column: pd.Series) -> np.ndarray:
    """0..1 by the value's rank in the sample; empty for text, which has no low or high."""
    if not pd.api.types.is_numeric_dtype(column):
        return np.array([])
    ranks = column.rank(method="average").to_numpy(dtype=float)
    if not len(ranks) or np.isnan(ranks).all():
        return np.full(len(ranks), 0.5)
    span = np.nanmax(ranks) - np.nanmin(ranks)
    scaled = (ranks - np.nanmin(ranks)) / span if span else np.full(len(ranks), 0.5)
    return np.nan_to_num(scaled, nan=0.5)  # missing values sit mid-scale


def _importance(
    version: ModelVersion, frame: pd.DataFrame, attributions: Attributions
) -> GlobalImportance:
    mean_abs = np.abs(attributions.values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    n = len(attributions.values)
    sample = frame.iloc[:n]
    return GlobalImportance(
        model_name=version.model_name,
        model_version=version.model_version,
        method=attributions.method,
        output_space=attributions.output_space,
        features=tuple(attributions.features[j] for j in order),
        mean_abs=tuple(float(mean_abs[j]) for j in order),
        rows=n,
        complete=attributions.complete,
        shap_values=tuple(tuple(float(v) for v in attributions.values[:, j]) for j in order),
        feature_values=tuple(
            tuple(_display(v) for v in sample[attributions.features[j]].tolist()) for j in order
        ),
        colour=tuple(
            tuple(float(v) for v in _rank_colour(sample[attributions.features[j]])) for j in order
        ),
    )


def global_importance(
    store: Store,
    selection: Selection,
    *,
    sample_rows: int = GLOBAL_SAMPLE_ROWS,
    seed: int = SEED,
    progress: Progress | None = None,
) -> GlobalImportance:
    """Mean |SHAP| per feature over a seeded sample of the selection's served rows."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
    explainer = get_explainer(store, version)
    if explainer.method == "permutation":
        sample_rows = min(sample_rows, PERMUTATION_ROWS)
    frame = _sample_logs(store, version, selection, sample_rows, seed)
    if frame.empty:
        raise NothingToExplain(
            f"{selection.model_name} {selection.model_version} served no successful "
            "predictions in the selected range; widen the range or clear the segment."
        )
    attributions = explainer.explain(frame, progress=progress)
    return _importance(version, frame, attributions)


# ---- attribution drift


@dataclass(frozen=True)
class WindowAttribution:
    start: dt.datetime
    end: dt.datetime
    rows: int
    mean_abs: tuple[float, ...]  # in AttributionDrift.features order
    distance: float | None  # normalised L1 between importance shares, 0..1
    top_rank_changes: tuple[tuple[str, int], ...]  # (feature, reference rank - window rank)
    status: str  # "ok" | "warning" | "no_data"


@dataclass(frozen=True)
class AttributionDrift:
    """Per window, how far the shares of mean |SHAP| moved from the reference data's.

    distance = ½ Σ_f |share_window(f) − share_reference(f)|, where share = mean |SHAP| of f
    divided by the sum over features: 0 means the model leans on features in the same
    proportions, 1 that it leans on entirely different ones. Ranks: 1 = most important.
    """

    model_name: str
    model_version: str
    granularity: str
    features: tuple[str, ...]  # reference importance order
    reference_mean_abs: tuple[float, ...]
    reference_rows: int
    windows: tuple[WindowAttribution, ...]
    threshold: float = RANK_SHIFT_WARN


def _shares(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total else values


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def importance_distance(reference: np.ndarray, window: np.ndarray) -> float:
    """Normalised L1 distance of two mean-|SHAP| vectors (0..1)."""
    return float(0.5 * np.abs(_shares(np.asarray(reference)) - _shares(np.asarray(window))).sum())


def attribution_drift(
    store: Store,
    selection: Selection,
    *,
    granularity: str = "week",
    sample_rows: int = DRIFT_SAMPLE_ROWS,
    seed: int = SEED,
    threshold: float = RANK_SHIFT_WARN,
) -> AttributionDrift:
    """Global importance per window against the reference data's (same sample size)."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
    explainer = get_explainer(store, version)
    with store.connect() as con:
        windows = calendar_windows(con, granularity, selection.start, selection.end)
        per_window = max(30, min(sample_rows, DRIFT_ROWS_TOTAL // max(1, len(windows))))
        if explainer.method == "permutation":
            per_window = PERMUTATION_ROWS
        where, params = selection.where()
        frame = con.execute(
            f"""
            SELECT * EXCLUDE (k) FROM (
                SELECT {window_start_sql(granularity)} AS window_start, {_feature_select(version)},
                       row_number() OVER (PARTITION BY {window_start_sql(granularity)}
                                          ORDER BY hash(prediction_id, ?), prediction_id) AS k
                FROM {log_table(con, selection.model_name)}
                WHERE {where} AND status = 'ok'
            ) WHERE k <= ? ORDER BY window_start
            """,
            [seed, *params, per_window],
        ).df()
    reference = background_frame(
        store,
        version,
        rows=per_window if explainer.method == "permutation" else max(per_window, BACKGROUND_ROWS),
    )
    ref_attr = explainer.explain(reference)
    ref_mean = np.abs(ref_attr.values).mean(axis=0)
    order = np.argsort(-ref_mean, kind="stable")
    features = tuple(ref_attr.features[j] for j in order)
    ref_mean = ref_mean[order]
    ref_ranks = _ranks(ref_mean)
    results = []
    attributions = explainer.explain(frame) if not frame.empty else None
    if attributions is not None and not attributions.complete:
        # The fallback's time budget ran out: later windows count as unexplained.
        frame = frame.iloc[: len(attributions.values)]
    for window in windows:
        # Window starts are clipped to the selection; rows carry the calendar start.
        key = pd.Timestamp(calendar_start(window.start, granularity))
        mask = (frame["window_start"] == key).to_numpy() if not frame.empty else np.array([])
        n = int(mask.sum()) if attributions is not None else 0
        if n == 0 or attributions is None:
            results.append(WindowAttribution(window.start, window.end, 0, (), None, (), "no_data"))
            continue
        mean_abs = np.abs(attributions.values[mask]).mean(axis=0)[order]
        distance = importance_distance(ref_mean, mean_abs)
        shifts = ref_ranks - _ranks(mean_abs)
        changes = tuple(
            (features[j], int(shifts[j]))
            for j in np.argsort(-np.abs(shifts), kind="stable")
            if shifts[j]
        )[:3]
        results.append(
            WindowAttribution(
                start=window.start,
                end=window.end,
                rows=n,
                mean_abs=tuple(float(v) for v in mean_abs),
                distance=distance,
                top_rank_changes=changes,
                status="warning" if distance > threshold else "ok",
            )
        )
    return AttributionDrift(
        model_name=version.model_name,
        model_version=version.model_version,
        granularity=granularity,
        features=features,
        reference_mean_abs=tuple(float(v) for v in ref_mean),
        reference_rows=len(reference),
        windows=tuple(results),
        threshold=threshold,
    )
