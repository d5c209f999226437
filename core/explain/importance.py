"""Which features a version leans on: mean |SHAP| over a seeded sample of its predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vigil.core.explain.attributions import Attributions, FloatArray, Method, OutputSpace, Progress
from vigil.core.explain.sampling import (
    SEED,
    NothingToExplain,
    display,
    get_explainer,
    sample_logs,
)
from vigil.core.monitor.selection import Selection
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store

GLOBAL_SAMPLE_ROWS = 300
PERMUTATION_ROWS = 20  # per sample, when the slow model-agnostic fallback explains


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |SHAP| per feature over a seeded sample, plus the sample for a beeswarm."""

    model_name: str
    model_version: str
    method: Method
    output_space: OutputSpace
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


def rank_colour(column: pd.Series) -> FloatArray:
    """0..1 by the value's rank in the sample; empty for text, which has no low or high."""
    if not pd.api.types.is_numeric_dtype(column):
        return np.array([])
    ranks = column.rank(method="average").to_numpy(dtype=float)
    if not len(ranks) or np.isnan(ranks).all():
        return np.full(len(ranks), 0.5)
    span = np.nanmax(ranks) - np.nanmin(ranks)
    scaled = (ranks - np.nanmin(ranks)) / span if span else np.full(len(ranks), 0.5)
    return np.asarray(np.nan_to_num(scaled, nan=0.5), dtype=np.float64)  # missing: mid-scale


def _importance(
    version: ModelVersion, frame: pd.DataFrame, attributions: Attributions
) -> GlobalImportance:
    mean_abs = np.abs(attributions.values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    n = len(attributions.values)
    sample = frame.iloc[:n]
    names = [attributions.features[j] for j in order]
    return GlobalImportance(
        model_name=version.model_name,
        model_version=version.model_version,
        method=attributions.method,
        output_space=attributions.output_space,
        features=tuple(names),
        mean_abs=tuple(float(mean_abs[j]) for j in order),
        rows=n,
        complete=attributions.complete,
        shap_values=tuple(tuple(float(v) for v in attributions.values[:, j]) for j in order),
        feature_values=tuple(tuple(display(v) for v in sample[f].tolist()) for f in names),
        colour=tuple(tuple(float(v) for v in rank_colour(sample[f])) for f in names),
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
    if explainer.method == Method.PERMUTATION:
        sample_rows = min(sample_rows, PERMUTATION_ROWS)
    frame = sample_logs(store, version, selection, sample_rows, seed)
    if frame.empty:
        raise NothingToExplain(
            f"{selection.model_name} {selection.model_version} served no successful "
            "predictions in the selected range; widen the range or clear the segment."
        )
    attributions = explainer.explain(frame, progress=progress)
    return _importance(version, frame, attributions)
