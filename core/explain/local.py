"""One logged prediction explained: base value + one contribution per feature = output."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vigil.core.explain.attributions import Attributions, Method, OutputSpace, sigmoid1
from vigil.core.explain.sampling import PredictionNotFound, display, get_explainer
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.store.pending import LABELS

LOGGED_TOLERANCE = 1e-4  # the served score and the artifact's may differ by float rounding


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
    method: Method
    output_space: OutputSpace
    base_value: float
    output_value: float  # base_value + sum of contributions
    contributions: tuple[FeatureContribution, ...]  # largest |contribution| first
    logged_prediction: float | None
    label: float | None
    base_probability: float | None  # sigmoid(base) when output_space is log_odds
    probability: float | None
    elapsed_ms: float
    note: str | None = None


def _logged_row(
    store: Store, model_name: str, prediction_id: str, model_version: str | None
) -> tuple[pd.DataFrame, ModelVersion]:
    with store.connect() as con:
        params: list[object] = [model_name, prediction_id]
        version_filter = ""
        if model_version is not None:
            version_filter = " AND l.model_version = ?"
            params.append(model_version)
        row = con.execute(
            f"SELECT l.model_version, l.served_at, l.status, l.prediction, lb.label, l.* "
            f"EXCLUDE (model_version, served_at, status, prediction) "
            f"FROM {log_table(con, model_name)} l "
            f"LEFT JOIN {LABELS} lb ON lb.model_name = ? AND lb.prediction_id = l.prediction_id "
            f"WHERE l.prediction_id = ?{version_filter} LIMIT 1",
            params,
        ).df()
        if row.empty:
            where = f" for version {model_version}" if model_version else ""
            raise PredictionNotFound(
                f"No prediction with id '{prediction_id}' is logged for {model_name}{where}. "
                "Check the id (it is case-sensitive), or pick one from the recent predictions."
            )
        version = registry.get_version(con, model_name, str(row.loc[0, "model_version"]))
    return row, version


def explain_prediction(
    store: Store, model_name: str, prediction_id: str, *, model_version: str | None = None
) -> LocalExplanation:
    """Explain one logged prediction, found by its id in the model's log table."""
    row, version = _logged_row(store, model_name, prediction_id, model_version)
    started = time.perf_counter()
    explainer = get_explainer(store, version)
    attributions = explainer.explain(row)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return _local(version, row, attributions, elapsed_ms)


def _optional(value: object) -> float | None:
    return None if pd.isna(value) else float(value)  # type: ignore[arg-type]


def _local(
    version: ModelVersion, row: pd.DataFrame, attributions: Attributions, elapsed_ms: float
) -> LocalExplanation:
    values = attributions.values[0]
    order = np.argsort(-np.abs(values), kind="stable")
    contributions = tuple(
        FeatureContribution(
            attributions.features[j],
            display(row.loc[0, attributions.features[j]]),
            float(values[j]),
        )
        for j in order
    )
    output = float(attributions.outputs[0])
    logged = _optional(row.loc[0, "prediction"])
    log_odds = attributions.output_space == OutputSpace.LOG_ODDS
    probability = sigmoid1(output) if log_odds else None
    note = None
    recomputed = probability if probability is not None else output
    if logged is not None and abs(recomputed - logged) > LOGGED_TOLERANCE:
        note = (
            f"The logged prediction ({logged:.4f}) differs from the registered artifact's "
            f"output ({recomputed:.4f}): the service may not run the registered artifact."
        )
    return LocalExplanation(
        model_name=version.model_name,
        model_version=version.model_version,
        prediction_id=str(row.loc[0, "prediction_id"]),
        served_at=pd.Timestamp(row.loc[0, "served_at"]).to_pydatetime(),
        status=str(row.loc[0, "status"]),
        method=attributions.method,
        output_space=attributions.output_space,
        base_value=attributions.base_value,
        output_value=output,
        contributions=contributions,
        logged_prediction=logged,
        label=_optional(row.loc[0, "label"]),
        base_probability=sigmoid1(attributions.base_value) if log_odds else None,
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
            f"FROM {log_table(con, selection.model_name)} l LEFT JOIN {LABELS} lb "
            "ON lb.model_name = ? AND lb.prediction_id = l.prediction_id "
            f"WHERE {where} AND l.status = 'ok' ORDER BY l.served_at DESC, l.prediction_id "
            "LIMIT ?",
            [selection.model_name, *params, int(limit)],
        ).fetchall()
    return tuple(RecentPrediction(r[0], r[1], r[2], r[3]) for r in rows)
