"""Ingesting delayed labels: they join stored predictions by prediction_id.

A label for an id that was never logged is quarantined; so is a label that differs from the
one already recorded (corrections are not accepted); the same label again is already present.
"""

from __future__ import annotations

from pathlib import Path

from vigil.core.contract import LABEL_COLUMNS
from vigil.core.errors import IngestError
from vigil.core.ingest.batches import Batch, IngestResult, Kind, finish
from vigil.core.ingest.checks import check_labels
from vigil.core.ingest.predictions import ingest_lock
from vigil.core.ingest.readers import load_raw
from vigil.core.registry.artifacts import sha256_file
from vigil.core.registry.versions import model_tables
from vigil.core.store.connection import Store, limit_memory
from vigil.core.store.sql import read_source, scalar


def ingest_labels(
    store: Store, model_name: str, path: Path, *, source_name: str | None = None
) -> IngestResult:
    """Validate and store one feedback file."""
    path = Path(path)
    source = source_name or str(path)
    read_source(path)
    sha = sha256_file(path)
    with ingest_lock, store.transaction() as con:
        limit_memory(con, store.home)
        tables = model_tables(con, model_name)
        columns = load_raw(con, path)
        batch = Batch(
            Kind.LABEL, model_name, source, sha, int(scalar(con, "SELECT nextval('batch_seq')"))
        )
        missing = [c for c in ("prediction_id", "label") if c not in columns]
        if missing:
            raise IngestError(
                f"{path}: a label file needs columns prediction_id and label; "
                f"missing: {', '.join(missing)}"
            )
        check_labels(con, tables, model_name, columns)
        read = int(scalar(con, "SELECT count(*) FROM checked"))
        stored = int(
            scalar(
                con, "SELECT count(*) FROM checked WHERE reason IS NULL AND stored_label IS NULL"
            )
        )
        con.execute(
            """
            INSERT INTO labels
            SELECT ?, id, label, label_timestamp, ?, now()::TIMESTAMP
            FROM checked WHERE reason IS NULL AND stored_label IS NULL
            """,
            [model_name, batch.batch_id],
        )
        ignored = sorted(c for c in columns if c not in {*LABEL_COLUMNS, "model_name"})
        return finish(con, batch, read=read, stored=stored, ignored=ignored)
