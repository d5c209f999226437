"""What ingestion has done: batches with their counts, and the quarantine, for people to review."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.govern import auth
from vigil.core.govern.auth import User
from vigil.core.ingest.batches import IngestResult, Progress
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.store.connection import Store
from vigil.core.store.pending import QUARANTINE


def batches(store: Store, model_name: str, limit: int = 500) -> pd.DataFrame:
    """One row per ingested file, newest first; counts as the run reported them."""
    with store.connect() as con:
        return con.execute(
            """
            SELECT batch_id, finished_at, kind, source_file AS file, rows_read AS read,
                   rows_stored AS stored, rows_quarantined AS quarantined,
                   rows_already_present AS already_present
            FROM ingest_batches WHERE model_name = ?
            ORDER BY batch_id DESC LIMIT ?
            """,
            [model_name, limit],
        ).df()


def quarantine(
    store: Store, model_name: str, *, kind: str | None = None, contains: str = "", limit: int = 1000
) -> pd.DataFrame:
    """Rejected rows with file, row, reason and the raw row as received."""
    sql = (
        "SELECT reason, source_file AS file, row_number AS row, prediction_id, kind, "
        f"quarantined_at, CAST(raw AS VARCHAR) AS raw_row FROM {QUARANTINE} WHERE model_name = ?"
    )
    params: list[object] = [model_name]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if contains:
        sql += " AND reason ILIKE ?"
        params.append(f"%{contains}%")
    sql += " ORDER BY quarantined_at DESC, file, row LIMIT ?"
    params.append(limit)
    with store.connect() as con:
        return con.execute(sql, params).df()


def ingest_upload(
    store: Store,
    user: User,
    model_name: str,
    *,
    filename: str,
    content: bytes,
    labels: bool,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest a file uploaded in the browser, under its own name, as the CLI would."""
    auth.require(user, "ingest", "ingest data")
    folder = Path(tempfile.mkdtemp(prefix="vigil-upload-"))
    try:
        path = folder / Path(filename).name
        path.write_bytes(content)
        run = ingest_labels if labels else ingest_predictions
        source = f"upload by {user.username}: {path.name}"
        result = run(store, model_name, path, source_name=source, progress=progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    refresh_after_ingest(Store(store.home), model_name)  # may wait as long as the ingest did
    return result
