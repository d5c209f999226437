"""The rows explanations are computed on, and one explainer per registered artifact.

Rows are sampled in SQL (a seeded hash order, so the same selection gives the same sample on
every run and in every process); only the sampled rows' feature columns leave DuckDB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from vigil.core.errors import VigilError
from vigil.core.explain.attributions import Explainer
from vigil.core.explain.explainer import build_explainer
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.registry import artifacts
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident

BACKGROUND_ROWS = 100  # shap's usual background size: exact enough, ~1 ms per TreeSHAP row
CACHE_SIZE = 8
SEED = 0


class PredictionNotFound(VigilError):
    """No logged prediction has the requested id."""


class NothingToExplain(VigilError):
    """The selection (or the reference) has no rows to explain."""


# Explainer cache: per (store, model, version, artifact hash), least recently used out.
_cache: OrderedDict[tuple[str, str, str, str], Explainer] = OrderedDict()
_cache_lock = threading.Lock()


def feature_select(version: ModelVersion, alias: str = "") -> str:
    """The version's model inputs as a SQL select list."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote_ident(f.name)}" for f in version.model_inputs)


def background_frame(
    store: Store, version: ModelVersion, rows: int = BACKGROUND_ROWS
) -> pd.DataFrame:
    """A seeded sample of the version's reference data: the baseline SHAP compares against."""
    with store.connect() as con:
        frame = con.execute(
            f"SELECT {feature_select(version)} FROM {reference_table(con, version.model_name)} "
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


def sample_logs(
    store: Store, version: ModelVersion, selection: Selection, rows: int, seed: int
) -> pd.DataFrame:
    """A seeded sample of the selection's successful predictions (model inputs only)."""
    where, params = selection.where()
    with store.connect() as con:
        return con.execute(
            f"SELECT {feature_select(version)} FROM {log_table(con, selection.model_name)} "
            f"WHERE {where} AND status = 'ok' ORDER BY hash(prediction_id, ?), prediction_id "
            "LIMIT ?",
            [*params, seed, rows],
        ).df()


def display(value: object) -> str:
    """A logged value as a reviewer reads it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(missing)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
