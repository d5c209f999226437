"""Ingesting delayed labels: they join stored predictions by prediction_id.

A label for an id that was never logged is quarantined; so is a label that differs from the
one already recorded (corrections are not accepted); the same label again is already present.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from vigil.core import settings
from vigil.core.contract import LABEL_COLUMNS
from vigil.core.errors import IngestError
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
from vigil.core.ingest.checks import (
    TimeBounds,
    model_name_check,
    quoted,
    text,
    timestamp_expr,
)
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import ModelTables, list_versions, model_tables
from vigil.core.store.connection import Store
from vigil.core.store.slices import copy_in
from vigil.core.store.sql import quote_ident, scalar
from vigil.core.store.staging import staging


def ingest_labels(
    store: Store,
    model_name: str,
    path: Path,
    *,
    source_name: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Validate and store one feedback file: read outside the store's lock, checked against
    copies of the stored prediction ids and labels, appended in short transactions and
    published at once (core.ingest.batches)."""
    path = Path(path)
    source = source_name or str(path)
    readers.file_format(path)  # fail fast on a missing file or unknown type
    sha = sha256_file(path)
    with model_ingest(store, model_name):
        with store.connect(settings.lock_timeout_s()) as con:
            tables = model_tables(con, model_name)
            bounds = TimeBounds.for_versions(list_versions(con, model_name), _now(con))
        with staging(store) as con:
            clock = Clock(progress)
            loaded = readers.load(
                con, path, wanted={*LABEL_COLUMNS, "model_name"}, key_column="prediction_id"
            )
            columns = loaded.columns
            missing = [c for c in ("prediction_id", "label") if c not in columns]
            if missing:
                raise IngestError(
                    f"{path}: a label file needs columns prediction_id and label; "
                    f"missing: {', '.join(missing)}"
                )
            unit = "row" if loaded.format is readers.FileFormat.PARQUET else "line"
            _copy_stored(store, con, tables, model_name)
            check_labels(con, tables.task, model_name, columns, bounds, unit)
            clock.report("read and checked", int(scalar(con, "SELECT count(*) FROM checked")))
            _fresh_labels(con, model_name)
            ignored = sorted(c for c in columns if c not in {*LABEL_COLUMNS, "model_name"})
            return store_batch(
                store,
                con,
                Outgoing(Kind.LABEL, model_name, source, sha, "labels"),
                ignored=[*ignored, *loaded.unreadable_names],
                raw_json=readers.raw_json(loaded, "r"),
                clock=clock,
            )


def _now(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    value = scalar(con, "SELECT now()::TIMESTAMP")
    assert isinstance(value, dt.datetime)
    return value


def _copy_stored(
    store: Store, con: duckdb.DuckDBPyConnection, tables: ModelTables, model_name: str
) -> None:
    """Temp tables `stored_ids` (the model's logged prediction ids) and `stored_labels`."""
    copy_in(store, con, "stored_ids", "prediction_id", quote_ident(tables.log_table))
    copy_in(
        store,
        con,
        "stored_labels",
        "prediction_id, label",
        "labels",
        "model_name = ?",
        [model_name],
    )


def _fresh_labels(con: duckdb.DuckDBPyConnection, model_name: str) -> None:
    """Temp table `fresh`: good labels not recorded yet, as label rows numbered for appending."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE fresh AS
        SELECT ? AS model_name, id AS prediction_id, label, label_timestamp,
               now()::TIMESTAMP AS ingested_at, row_number() OVER (ORDER BY _row) - 1 AS _seq
        FROM checked WHERE reason IS NULL AND stored_label IS NULL
        ORDER BY _seq
        """,
        [model_name],
    )
    con.execute("DROP TABLE stored_ids; DROP TABLE stored_labels")


def _value_problems(binary: bool, bounds: TimeBounds) -> str:
    """SQL over CTE `joined`: the label's and its time's problems."""
    not_binary = (
        "WHEN label NOT IN (0, 1) THEN format('label {} is not 0 or 1', label_raw)"
        if binary
        else ""
    )
    earliest = bounds.overall_earliest
    in_range = bounds.check(
        "label_timestamp",
        "label_timestamp",
        "ts_raw",
        f"TIMESTAMP '{earliest:%Y-%m-%d %H:%M:%S}'" if earliest else "NULL::TIMESTAMP",
        "a year before the model was trained or registered (VIGIL_INGEST_PAST_DAYS)",
    )
    return f"""
        CASE WHEN label_raw IS NULL THEN 'label is empty'
             WHEN label IS NULL THEN format('label: {{}} is not a number', {quoted("label_raw")})
             WHEN NOT isfinite(label) THEN 'label is not a finite number'
             {not_binary}
        END,
        CASE WHEN ts_raw IS NOT NULL AND label_timestamp IS NULL THEN
             format('label_timestamp: {{}} is not a date-time', {quoted("ts_raw")}) END,
        {in_range}"""


def check_labels(
    con: duckdb.DuckDBPyConnection,
    task: str,
    model_name: str,
    columns: dict[str, str],
    bounds: TimeBounds,
    unit: str,
) -> None:
    """Build temp table `checked` for a label file, joining the copies of stored prediction
    ids (`stored_ids`) and labels (`stored_labels`)."""
    has_ts = "label_timestamp" in columns
    label_ts = timestamp_expr(columns, "label_timestamp") if has_ts else "NULL"
    ts_raw = text('"label_timestamp"') if has_ts else "NULL"
    model_check = (
        model_name_check(text("model_name"), model_name) if "model_name" in columns else "NULL"
    )
    where = "on line" if unit == "line" else "in row"
    values = _value_problems(task == "binary_classification", bounds)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH v AS (
            SELECT _row, _nested, {text("prediction_id")} AS id,
                   {text("label")} AS label_raw,
                   TRY_CAST({text("label")} AS DOUBLE) AS label,
                   {ts_raw} AS ts_raw,
                   {label_ts}::TIMESTAMP AS label_timestamp,
                   {model_check} AS model_problem
            FROM raw
        ),
        joined AS (
            SELECT v.*, p.prediction_id IS NOT NULL AS known,
                   l.label AS stored_label,
                   min(_row) OVER (PARTITION BY id) AS first_row
            FROM v
            LEFT JOIN (SELECT DISTINCT prediction_id FROM stored_ids) p
                   ON p.prediction_id = v.id
            LEFT JOIN stored_labels l ON l.prediction_id = v.id
        )
        SELECT _row, id, label, label_timestamp, stored_label,
               coalesce(_nested, NULLIF(concat_ws('; ',
                   model_problem,
                   CASE WHEN id IS NULL THEN 'prediction_id is empty' END,
                   {values},
                   CASE WHEN id IS NOT NULL AND NOT known THEN
                        format('no prediction with id ''{{}}'' has been ingested for {model_name}',
                               id) END,
                   CASE WHEN id IS NOT NULL AND _row > first_row THEN
                        format('duplicate prediction_id ''{{}}'' (first {where} {{}})',
                               id, first_row) END,
                   CASE WHEN stored_label IS NOT NULL AND label IS NOT NULL
                             AND stored_label <> label THEN
                        format('a label for ''{{}}'' is already recorded ({{}}); corrections are '
                               'not accepted', id, stored_label) END
               ), '')) AS reason
        FROM joined
        """
    )
