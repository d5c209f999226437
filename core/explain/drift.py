"""Attribution drift: does the model lean on different features than on its reference data?

Per window, distance = ½ Σ_f |share_window(f) − share_reference(f)|, where share = mean
|SHAP| of f divided by the sum over features: 0 means the model leans on features in the
same proportions, 1 that it leans on entirely different ones. Ranks: 1 = most important.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from vigil.core.explain.attributions import Attributions, Explainer, FloatArray, Method
from vigil.core.explain.importance import PERMUTATION_ROWS
from vigil.core.explain.sampling import (
    BACKGROUND_ROWS,
    SEED,
    background_frame,
    feature_select,
    get_explainer,
)
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.monitor.windows import Granularity, Window, Windowing
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store

DRIFT_SAMPLE_ROWS = 150  # per window
DRIFT_ROWS_TOTAL = 3000  # cap over all windows, so day windows stay fast
# A tenth of the importance mass moving to other features earns a warning; sampling noise
# at 150 rows per window is about 0.02-0.04 on the demo.
RANK_SHIFT_WARN = 0.1


class WindowStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class WindowAttribution:
    start: dt.datetime
    end: dt.datetime
    rows: int
    mean_abs: tuple[float, ...]  # in AttributionDrift.features order
    distance: float | None  # normalised L1 between importance shares, 0..1
    top_rank_changes: tuple[tuple[str, int], ...]  # (feature, reference rank - window rank)
    status: WindowStatus


@dataclass(frozen=True)
class AttributionDrift:
    """Per window, how far the shares of mean |SHAP| moved from the reference data's."""

    model_name: str
    model_version: str
    granularity: Granularity
    features: tuple[str, ...]  # reference importance order
    reference_mean_abs: tuple[float, ...]
    reference_rows: int
    windows: tuple[WindowAttribution, ...]
    threshold: float = RANK_SHIFT_WARN


def _shares(values: FloatArray) -> FloatArray:
    total = values.sum()
    return values / total if total else values


def ranks(values: FloatArray) -> npt.NDArray[np.int64]:
    """1 for the largest value, in a stable order for ties."""
    order = np.argsort(-values, kind="stable")
    result = np.empty(len(values), dtype=np.int64)
    result[order] = np.arange(1, len(values) + 1)
    return result


def importance_distance(reference: FloatArray, window: FloatArray) -> float:
    """Normalised L1 distance of two mean-|SHAP| vectors (0..1)."""
    return float(0.5 * np.abs(_shares(np.asarray(reference)) - _shares(np.asarray(window))).sum())


def _window_sample(
    store: Store,
    version: ModelVersion,
    selection: Selection,
    windowing: Windowing,
    windows: list[Window],
    per_window: int,
    seed: int,
) -> pd.DataFrame:
    """Up to `per_window` seeded rows of each window, with the window's key."""
    key = windowing.key_sql("served_at", windows)
    with store.connect() as con:
        where, params = selection.where()
        return con.execute(
            f"""
            SELECT * EXCLUDE (k) FROM (
                SELECT {key} AS window_key, {feature_select(version)},
                       row_number() OVER (PARTITION BY {key}
                                          ORDER BY hash(prediction_id, ?), prediction_id) AS k
                FROM {log_table(con, selection.model_name)}
                WHERE {where} AND status = 'ok'
            ) WHERE k <= ? ORDER BY window_key
            """,
            [seed, *params, per_window],
        ).df()


def _compare(
    window: Window,
    values: FloatArray,
    reference: FloatArray,
    order: npt.NDArray[np.int64],
    features: tuple[str, ...],
    threshold: float,
) -> WindowAttribution:
    if not len(values):
        return WindowAttribution(window.start, window.end, 0, (), None, (), WindowStatus.NO_DATA)
    mean_abs = np.abs(values).mean(axis=0)[order]
    distance = importance_distance(reference, mean_abs)
    shifts = ranks(reference) - ranks(mean_abs)
    changes = tuple(
        (features[j], int(shifts[j]))
        for j in np.argsort(-np.abs(shifts), kind="stable")
        if shifts[j]
    )[:3]
    return WindowAttribution(
        start=window.start,
        end=window.end,
        rows=len(values),
        mean_abs=tuple(float(v) for v in mean_abs),
        distance=distance,
        top_rank_changes=changes,
        status=WindowStatus.WARNING if distance > threshold else WindowStatus.OK,
    )


def _reference(
    store: Store, version: ModelVersion, explainer: Explainer, per_window: int
) -> tuple[Attributions, int]:
    rows = (
        per_window if explainer.method == Method.PERMUTATION else max(per_window, BACKGROUND_ROWS)
    )
    reference = background_frame(store, version, rows=rows)
    return explainer.explain(reference), len(reference)


def attribution_drift(
    store: Store,
    selection: Selection,
    *,
    granularity: Granularity = "week",
    sample_rows: int = DRIFT_SAMPLE_ROWS,
    seed: int = SEED,
    threshold: float = RANK_SHIFT_WARN,
) -> AttributionDrift:
    """Global importance per window against the reference data's (same sample size)."""
    with store.connect() as con:
        version = registry.get_version(con, selection.model_name, selection.model_version)
        windowing = Windowing.of(granularity)
        windows = windowing.windows(con, selection)
    explainer = get_explainer(store, version)
    per_window = max(30, min(sample_rows, DRIFT_ROWS_TOTAL // max(1, len(windows))))
    if explainer.method == Method.PERMUTATION:
        per_window = PERMUTATION_ROWS
    frame = _window_sample(store, version, selection, windowing, windows, per_window, seed)
    ref_attr, reference_rows = _reference(store, version, explainer, per_window)
    ref_mean = np.abs(ref_attr.values).mean(axis=0)
    order = np.argsort(-ref_mean, kind="stable")
    features = tuple(ref_attr.features[j] for j in order)
    ref_mean = ref_mean[order]
    values = np.zeros((0, len(features)))
    if not frame.empty:
        attributions = explainer.explain(frame)
        values = attributions.values
        # The fallback's time budget may run out: later windows count as unexplained.
        frame = frame.iloc[: len(values)]
    keys = frame["window_key"].to_numpy() if not frame.empty else np.array([])
    results = tuple(
        _compare(
            window,
            values[keys == np.datetime64(windowing.key(window))],
            ref_mean,
            order,
            features,
            threshold,
        )
        for window in windows
    )
    return AttributionDrift(
        model_name=version.model_name,
        model_version=version.model_version,
        granularity=granularity,
        features=features,
        reference_mean_abs=tuple(float(v) for v in ref_mean),
        reference_rows=reference_rows,
        windows=results,
        threshold=threshold,
    )
