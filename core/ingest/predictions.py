"""Ingesting prediction logs: validate every row in DuckDB, store the good ones, quarantine the
rest with file, line and reason, and count every row.

A prediction is never changed once stored. Re-sending a stored id with the same values counts
as already present; with other values it is a conflict and goes to quarantine, naming the
columns that differ.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import duckdb

from vigil.core.contract import CONTRACT_COLUMNS, FeatureSpec
from vigil.core.ingest import readers
from vigil.core.ingest.batches import IngestResult, Kind, Progress, Step, finish, new_batch
from vigil.core.ingest.checks import PredictionRules, TimeBounds, check_predictions
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import ModelVersion, list_versions, model_tables
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_ident, scalar
from vigil.core.store.staging import attached, staging

# One writer per process at a time: DuckDB's optimistic transactions would let two threads
# insert the same prediction_id, since log tables carry no unique index (it costs too much
# memory at 10M+ rows); ingestion enforces uniqueness itself.
ingest_lock = threading.Lock()

# Stored columns a re-sent prediction must match, as (log column, `checked` column).
COMPARED = (
    ("model_version", "v_model_version"),
    ("served_at", "served_at"),
    ("prediction", "prediction"),
    ("predicted_label", "predicted_label"),
    ("latency_ms", "latency_ms"),
    ("status", "status"),
)


def feature_union(
    versions: list[ModelVersion],
) -> tuple[dict[str, FeatureSpec], dict[str, list[str]]]:
    """Every feature any version declares, and which versions need a value for it."""
    specs: dict[str, FeatureSpec] = {}
    needing: dict[str, list[str]] = {}
    for version in versions:
        for spec in version.features:
            specs.setdefault(spec.name, spec)
            needing.setdefault(spec.name, [])
            if not spec.nullable:
                needing[spec.name].append(version.model_version)
    return specs, needing


def prediction_rules(con: duckdb.DuckDBPyConnection, model_name: str, unit: str) -> PredictionRules:
    """What rows of this model are checked against, read from the registry."""
    tables = model_tables(con, model_name)
    versions = list_versions(con, model_name)
    specs, needing = feature_union(versions)
    now = scalar(con, "SELECT now()::TIMESTAMP")
    assert isinstance(now, dt.datetime)
    return PredictionRules(
        tables=tables,
        model_name=model_name,
        versions=[v.model_version for v in versions],
        specs=specs,
        needing=needing,
        bounds=TimeBounds.for_versions(versions, now),
        unit=unit,
    )


def ingest_predictions(
    store: Store,
    model_name: str,
    path: Path,
    *,
    source_name: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Validate and store one prediction-log file for a registered model.

    The file is read and checked outside the store's lock; the store is attached only to
    compare with stored rows and append, in one transaction. `source_name` is what the
    records name the file by (e.g. an upload's own name)."""
    path = Path(path)
    source = source_name or str(path)
    fmt = readers.file_format(path)  # fail fast on a missing file or unknown type
    sha = sha256_file(path)
    unit = "row" if fmt is readers.FileFormat.PARQUET else "line"
    report = progress or (lambda step: None)
    with ingest_lock:
        with store.connect() as con:
            rules = prediction_rules(con, model_name, unit)
        known = {*CONTRACT_COLUMNS, *rules.specs}
        with staging(store) as con:
            started = time.monotonic()
            loaded = readers.load(con, path, wanted=known, key_column="prediction_id")
            check_predictions(con, rules, loaded.columns)
            rows = int(scalar(con, "SELECT count(*) FROM checked"))
            report(Step("read and checked", rows, time.monotonic() - started))
            with attached(store, con) as locked_at:
                batch = new_batch(con, Kind.PREDICTION, model_name, source, sha)
                mark_conflicts(con, rules)
                stored = _store_fresh(con, rules, batch.batch_id)
                ignored = sorted(c for c in loaded.columns if c not in known)
                result = finish(
                    con,
                    batch,
                    stored=stored,
                    ignored=[*ignored, *loaded.unreadable_names],
                    raw_json=readers.raw_json(loaded, "r"),
                )
            report(Step("stored", rows, time.monotonic() - started, time.monotonic() - locked_at))
            return result


def mark_conflicts(con: duckdb.DuckDBPyConnection, rules: PredictionRules) -> None:
    """Give a reason to rows whose id is stored with other values; mark the rest as seen."""
    log = quote_ident(rules.tables.log_table)
    pairs = [*COMPARED, *((n, n) for n in rules.specs)]
    differs = ", ".join(
        f"CASE WHEN l.{quote_ident(a)} IS DISTINCT FROM c.{quote_ident(b)} THEN '{a}' END"
        for a, b in pairs
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE seen AS
        SELECT c._row, NULLIF(concat_ws(', ', {differs}), '') AS differs
        FROM checked c JOIN {log} l ON l.prediction_id = c.id
        WHERE c.reason IS NULL
        """
    )
    con.execute(
        """
        UPDATE checked SET reason = format(
            'prediction_id ''{}'' is already stored with other values ({}); a stored '
            'prediction is never changed', checked.id, s.differs)
        FROM seen s WHERE s._row = checked._row AND s.differs IS NOT NULL
        """
    )


def _store_fresh(con: duckdb.DuckDBPyConnection, rules: PredictionRules, batch_id: int) -> int:
    """Append the good rows whose id is not stored yet; returns how many."""
    log = quote_ident(rules.tables.log_table)
    feature_cols = "".join(f", {quote_ident(n)}" for n in rules.specs)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fresh AS
        SELECT c.* FROM checked c
        WHERE c.reason IS NULL AND c._row NOT IN (SELECT _row FROM seen)
        """
    )
    stored = int(scalar(con, "SELECT count(*) FROM fresh"))
    con.execute(
        f"""
        INSERT INTO {log} BY NAME
        SELECT id AS prediction_id, v_model_version AS model_version, served_at,
               prediction, predicted_label, latency_ms, status,
               {batch_id}::BIGINT AS batch_id, now()::TIMESTAMP AS ingested_at
               {feature_cols}
        FROM fresh ORDER BY served_at
        """
    )
    con.execute("DROP TABLE fresh; DROP TABLE seen")
    return stored
