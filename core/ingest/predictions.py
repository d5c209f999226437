"""Ingesting prediction logs: validate every row in DuckDB, store the good ones, quarantine the
rest with file, line and reason, and count every row.

A prediction is never changed once stored. Re-sending a stored id with the same values counts
as already present; with other values it is a conflict and goes to quarantine, naming the
columns that differ.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from vigil.core import settings
from vigil.core.contract import CONTRACT_COLUMNS, FeatureSpec
from vigil.core.errors import StoreBusyError
from vigil.core.ingest import readers
from vigil.core.ingest.batches import (
    Clock,
    IngestResult,
    Kind,
    Outgoing,
    Progress,
    model_ingest,
    store_batch,
)
from vigil.core.ingest.checks import PredictionRules, TimeBounds, check_predictions
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import ModelVersion, list_versions, model_tables
from vigil.core.store.connection import Store
from vigil.core.store.slices import copy_in, copy_rows
from vigil.core.store.sql import quote_ident, scalar
from vigil.core.store.staging import staging

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

    The file is read and checked outside the store's lock; the stored rows it is compared
    with are copied in, and its rows appended, in short transactions, hidden from readers
    until its batch is published (core.store.pending). `source_name` is what the records
    name the file by (e.g. an upload's own name)."""
    path = Path(path)
    source = source_name or str(path)
    fmt = readers.file_format(path)  # fail fast on a missing file or unknown type
    sha = sha256_file(path)
    unit = "row" if fmt is readers.FileFormat.PARQUET else "line"
    with model_ingest(store, model_name):
        with store.connect(settings.lock_timeout_s()) as con:
            rules = prediction_rules(con, model_name, unit)
        with staging(store) as con:
            return _check_and_store(store, con, path, rules, Clock(progress), (source, sha))


def _check_and_store(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rules: PredictionRules,
    clock: Clock,
    source_sha: tuple[str, str],
) -> IngestResult:
    known = {*CONTRACT_COLUMNS, *rules.specs}
    loaded = readers.load(con, path, wanted=known, key_column="prediction_id")
    check_predictions(con, rules, loaded.columns)
    clock.report("read and checked", int(scalar(con, "SELECT count(*) FROM checked")))
    mark_conflicts(store, con, rules)
    _fresh(con, rules)
    ignored = sorted(c for c in loaded.columns if c not in known)
    log = quote_ident(rules.tables.log_table)
    return store_batch(
        store,
        con,
        Outgoing(Kind.PREDICTION, rules.model_name, *source_sha, log),
        ignored=[*ignored, *loaded.unreadable_names],
        raw_json=readers.raw_json(loaded, "r"),
        clock=clock,
    )


def mark_conflicts(store: Store, con: duckdb.DuckDBPyConnection, rules: PredictionRules) -> None:
    """Give a reason to rows whose id is stored with other values; list the rest as `seen`.

    The stored ids are copied in slices; only the stored rows sharing an id with the file
    are then copied whole, so a file of new rows costs one pass over the ids."""
    log = quote_ident(rules.tables.log_table)
    con.execute("CREATE OR REPLACE TEMP TABLE seen (_row BIGINT, differs VARCHAR)")
    if not scalar(con, "SELECT count(*) FROM checked WHERE reason IS NULL"):
        return
    copy_in(store, con, "stored_ids", "prediction_id, rowid AS rid", log)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE matched AS SELECT c._row, c.id, s.rid "
        "FROM checked c JOIN stored_ids s ON s.prediction_id = c.id WHERE c.reason IS NULL"
    )
    con.execute("DROP TABLE stored_ids")
    if not scalar(con, "SELECT count(*) FROM matched"):
        return
    pairs = [*COMPARED, *((n, n) for n in rules.specs)]
    columns = ", ".join(quote_ident(a) for a, _ in pairs)
    copy_rows(store, con, "stored_rows", f"rowid AS rid, prediction_id, {columns}", log, "matched")
    moved = scalar(
        con,
        "SELECT count(*) FROM matched m LEFT JOIN stored_rows s USING (rid) "
        "WHERE s.prediction_id IS DISTINCT FROM m.id",
    )
    if moved:
        raise StoreBusyError(
            f"Rows of {rules.model_name}'s log moved while this ingest compared them (another "
            "process deleted rows); try again."
        )
    differs = ", ".join(
        f"CASE WHEN l.{quote_ident(a)} IS DISTINCT FROM c.{quote_ident(b)} THEN '{a}' END"
        for a, b in pairs
    )
    con.execute(
        f"""
        INSERT INTO seen
        SELECT c._row, NULLIF(concat_ws(', ', {differs}), '') AS differs
        FROM checked c JOIN matched m USING (_row) JOIN stored_rows l USING (rid)
        """
    )
    con.execute("DROP TABLE stored_rows; DROP TABLE matched")
    con.execute(
        """
        UPDATE checked SET reason = format(
            'prediction_id ''{}'' is already stored with other values ({}); a stored '
            'prediction is never changed', checked.id, s.differs)
        FROM seen s WHERE s._row = checked._row AND s.differs IS NOT NULL
        """
    )


def _fresh(con: duckdb.DuckDBPyConnection, rules: PredictionRules) -> None:
    """Temp table `fresh`: the good rows whose id is not stored yet, as log rows, numbered
    in served_at order (`_seq`) for slice-by-slice appending."""
    feature_cols = "".join(f", {quote_ident(n)}" for n in rules.specs)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fresh AS
        SELECT id AS prediction_id, v_model_version AS model_version, served_at,
               prediction, predicted_label, latency_ms, status,
               now()::TIMESTAMP AS ingested_at {feature_cols},
               row_number() OVER (ORDER BY served_at, _row) - 1 AS _seq
        FROM checked c
        WHERE c.reason IS NULL AND c._row NOT IN (SELECT _row FROM seen)
        ORDER BY _seq
        """
    )
    con.execute("DROP TABLE seen")
