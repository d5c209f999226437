"""Drift no single feature shows: a domain classifier trained to tell current rows from
reference rows. If it does better than chance (cross-validated ROC AUC above the threshold),
the joint distribution moved, even when no single feature's test says so (e.g. a correlation
flipped). Both sides are sampled in SQL to a bounded size, so the cost is bounded."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vigil.core.monitor.drift.results import DomainClassifierResult, DriftStatus
from vigil.core.monitor.drift.settings import DOMAIN_AUC
from vigil.core.monitor.selection import Selection, log_table, reference_table
from vigil.core.registry.versions import ModelVersion
from vigil.core.stats.drift_tests import MIN_ROWS
from vigil.core.store.sql import quote_ident

DOMAIN_SAMPLE = 2000  # rows per side the domain classifier sees at most
DOMAIN_SEED = 20260824
DOMAIN_FOLDS = 5


def _sample_sql(
    table: str, where: str, columns: list[str], limit: int, seed: int, row_key: str
) -> str:
    """A bounded, deterministic sample: rows ordered by a seeded hash of `row_key` (unique per
    row), first `limit` kept.

    DuckDB's USING SAMPLE ... REPEATABLE is only repeatable single-threaded; a hash order
    gives the same rows on any thread count, in one scan and a top-N heap of `limit` rows.
    """
    cols = ", ".join(quote_ident(c) for c in columns)
    return (
        f"SELECT {cols} FROM {table} WHERE {where} "
        f"ORDER BY hash({row_key}, {int(seed)}) LIMIT {int(limit)}"
    )


# Log rows are read through the published-batches relation, which has no rowid; their
# prediction_id is unique per model (ingest rejects duplicates). Reference rows keep rowid.
_LOG_ROW, _REFERENCE_ROW = "prediction_id", "rowid"


def _samples(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    reference: Selection | None,
    sample: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference rows, current rows) of the model's inputs, each at most `sample`."""
    names = [f.name for f in version.model_inputs]
    cur_where, cur_params = selection.where()
    log = log_table(con, version.model_name)
    current = con.execute(
        _sample_sql(log, cur_where, names, sample, seed, _LOG_ROW), cur_params
    ).df()
    if reference is None:
        ref_where, ref_params = "model_version = ?", [version.model_version]
        if selection.segment is not None:
            ref_where += f" AND CAST({quote_ident(selection.segment.column)} AS VARCHAR) = ?"
            ref_params.append(selection.segment.value)
        table, key = reference_table(con, version.model_name), _REFERENCE_ROW
    else:
        (ref_where, ref_params), table, key = reference.where(), log, _LOG_ROW
    query = _sample_sql(table, ref_where, names, sample, seed, key)
    ref = con.execute(query, ref_params).df()
    return ref, current


def _cross_validated_auc(
    version: ModelVersion, ref: pd.DataFrame, current: pd.DataFrame, seed: int, folds: int
) -> tuple[float, float]:
    """Mean and std of the ROC AUC over stratified folds, on balanced classes (n rows each)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    names = [f.name for f in version.model_inputs]
    frame = pd.concat([ref, current], ignore_index=True)
    target = np.r_[np.zeros(len(ref)), np.ones(len(current))]
    categorical = [f.name for f in version.model_inputs if f.categorical]
    for name in names:
        if name in categorical:
            frame[name] = frame[name].astype("string").fillna("<missing>").astype("category")
        else:
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
    return float(np.mean(scores)), float(np.std(scores))


def _result(
    auc: float | None, auc_std: float | None, threshold: float, n_ref: int, n_cur: int, folds: int
) -> DomainClassifierResult:
    if auc is None:
        return DomainClassifierResult(
            DriftStatus.TOO_FEW_ROWS, None, None, threshold, None, n_ref, n_cur, folds
        )
    drifted = auc > threshold
    status = DriftStatus.DRIFT if drifted else DriftStatus.NO_DRIFT
    return DomainClassifierResult(status, auc, auc_std, threshold, drifted, n_ref, n_cur, folds)


def domain_classifier(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    *,
    reference: Selection | None = None,
    sample: int = DOMAIN_SAMPLE,
    threshold: float = DOMAIN_AUC,
    seed: int = DOMAIN_SEED,
    folds: int = DOMAIN_FOLDS,
) -> DomainClassifierResult:
    """Train a classifier to tell current rows from reference rows on the model's inputs."""
    ref, current = _samples(con, version, selection, reference, sample, seed)
    n = min(len(ref), len(current))
    if n < MIN_ROWS or n < folds * 2:
        return _result(None, None, threshold, len(ref), len(current), folds)
    # Balanced classes, so AUC 0.5 means "cannot tell them apart".
    auc, auc_std = _cross_validated_auc(version, ref.iloc[:n], current.iloc[:n], seed, folds)
    return _result(auc, auc_std, threshold, n, n, folds)


def cached_domain_classifier(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    selection: Selection,
    *,
    reference: Selection | None,
    sample: int,
    threshold: float,
    cacheable: bool,
) -> DomainClassifierResult:
    """The domain classifier, its AUC kept in drift_domain_cache for whole-day ranges against
    the reference data (the sample is deterministic, so the same rows give the same AUC)."""
    if not cacheable:
        return domain_classifier(
            con, version, selection, reference=reference, sample=sample, threshold=threshold
        )
    key: list[Any] = [
        version.model_name,
        version.model_version,
        selection.start,
        selection.end,
        sample,
    ]
    row = con.execute(
        "SELECT auc, auc_std, reference_n, current_n, folds FROM drift_domain_cache "
        "WHERE model_name = ? AND model_version = ? AND window_start = ? AND window_end = ? "
        "AND sample = ?",
        key,
    ).fetchone()
    if row is not None:
        return _result(row[0], row[1], threshold, *row[2:])
    result = domain_classifier(
        con, version, selection, reference=reference, sample=sample, threshold=threshold
    )
    con.execute(
        "INSERT INTO drift_domain_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*key, result.auc, result.auc_std, result.reference_n, result.current_n, result.folds],
    )
    return result
