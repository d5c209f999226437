"""Ingesting prediction logs: validate every row in DuckDB, store the good ones, quarantine the
rest with file, row and reason, and count every row.

Re-ingesting a file changes nothing: stored ids are skipped (already present).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from vigil.core.contract import CONTRACT_COLUMNS, FeatureSpec
from vigil.core.ingest.batches import Batch, IngestResult, Kind, finish
from vigil.core.ingest.checks import check_predictions
from vigil.core.ingest.readers import load_raw
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import list_versions, model_tables
from vigil.core.store.connection import Store, limit_memory
from vigil.core.store.sql import quote_ident, read_source, scalar

# One writer per process at a time: DuckDB's optimistic transactions would let two threads
# insert the same prediction_id, since log tables carry no unique index (it costs too much
# memory at 10M+ rows); ingestion enforces uniqueness itself.
ingest_lock = threading.Lock()


def feature_union(
    con: duckdb.DuckDBPyConnection, model_name: str
) -> tuple[dict[str, FeatureSpec], dict[str, list[str]]]:
    """Every feature any version declares, and which versions need a value for it."""
    specs: dict[str, FeatureSpec] = {}
    needing: dict[str, list[str]] = {}
    for version in list_versions(con, model_name):
        for spec in version.features:
            specs.setdefault(spec.name, spec)
            needing.setdefault(spec.name, [])
            if not spec.nullable:
                needing[spec.name].append(version.model_version)
    return specs, needing


def ingest_predictions(
    store: Store, model_name: str, path: Path, *, source_name: str | None = None
) -> IngestResult:
    """Validate and store one prediction-log file for a registered model.

    `source_name` is what the records name the file by (e.g. an upload's own name)."""
    path = Path(path)
    source = source_name or str(path)
    read_source(path)  # fail fast on a missing file or unknown type, before taking the lock
    sha = sha256_file(path)
    with ingest_lock, store.transaction() as con:
        limit_memory(con, store.home)
        tables = model_tables(con, model_name)
        versions = [v.model_version for v in list_versions(con, model_name)]
        specs, needing = feature_union(con, model_name)
        columns = load_raw(con, path)
        batch = Batch(
            Kind.PREDICTION,
            model_name,
            source,
            sha,
            int(scalar(con, "SELECT nextval('batch_seq')")),
        )
        check_predictions(con, tables, model_name, versions, specs, needing, columns)
        known = {*CONTRACT_COLUMNS, *specs}
        ignored = sorted(c for c in columns if c not in known)
        read = int(scalar(con, "SELECT count(*) FROM checked"))
        log = quote_ident(tables.log_table)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fresh AS
            SELECT c.* FROM checked c
            WHERE c.reason IS NULL AND NOT EXISTS (
                SELECT 1 FROM {log} l WHERE l.prediction_id = c.id)
            """
        )
        stored = int(scalar(con, "SELECT count(*) FROM fresh"))
        feature_cols = ", ".join(quote_ident(n) for n in specs)
        con.execute(
            f"""
            INSERT INTO {log} BY NAME
            SELECT id AS prediction_id, v_model_version AS model_version, served_at,
                   prediction, predicted_label, latency_ms, status,
                   {batch.batch_id}::BIGINT AS batch_id, now()::TIMESTAMP AS ingested_at,
                   {feature_cols}
            FROM fresh ORDER BY served_at
            """
        )
        con.execute("DROP TABLE fresh")
        return finish(con, batch, read=read, stored=stored, ignored=ignored)
