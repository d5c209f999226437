"""The spool's way into the store: closed spool files become ingested prediction logs.

Per model, the closed files of every worker are merged into one batch file under `ready/`
(fsync'd before the originals are deleted), which goes through the one public entry point,
`vigil.core.ingest.predictions.ingest_predictions`, like any producer's file: same validation,
same quarantine, same counts. A crash at any step leaves either the originals or the batch
file, and re-ingesting a batch is a no-op ("already present"). What the log contract has no
column for (worker, request id, arm, route) goes to `serve_predictions`; worker-minute
metrics go to `serve_metrics`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from vigil.core.errors import StoreBusyError, StoreError, UnknownModelError, VigilError
from vigil.core.ingest import predictions as ingest
from vigil.core.serve.spool import CLOSED_SUFFIX, recover_orphans
from vigil.core.store.connection import Store

log = logging.getLogger("vigil.gateway")
METRICS_STREAM = "_metrics"
READY = "ready"
FAILED = "failed"
METRIC_COLUMNS = (
    "minute",
    "worker",
    "requests",
    "errors",
    "rows_scored",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "latency_max",
    "cpu_percent",
    "rss_mb",
)


@dataclass(frozen=True)
class SpoolIngest:
    """One batch file ingested: rows read and stored (see the ingest history for the rest)."""

    model_name: str
    batch_file: str
    read: int
    stored: int
    quarantined: int
    already_present: int


MAX_BATCH_BYTES = 4 << 20  # bounds how long one ingest keeps the publisher waiting


def spool_dir(store: Store) -> Path:
    return store.home / "spool"


def _merge(stream: Path) -> None:
    """Move every closed file of a stream into one fsync'd batch file, then delete them."""
    files: list[Path] = []
    size = 0
    for path in sorted(stream.glob(f"*{CLOSED_SUFFIX}")):
        if files and size + path.stat().st_size > MAX_BATCH_BYTES:
            break
        files.append(path)
        size += path.stat().st_size
    if not files:
        return
    ready = stream / READY
    ready.mkdir(exist_ok=True)
    target = ready / f"batch-{time.time_ns()}{CLOSED_SUFFIX}"
    tmp = target.with_name("." + target.name + ".tmp")
    with open(tmp, "wb") as out:
        for path in files:
            out.write(path.read_bytes())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    for path in files:
        path.unlink()


def _side_rows(store: Store, model_name: str, batch: Path) -> None:
    """Worker, request id, arm and route of each logged prediction (idempotent)."""
    with store.transaction() as con:
        con.execute(
            """
            INSERT INTO serve_predictions
            SELECT ?, s.prediction_id, s.request_id, s.arm, s.route_id, s.worker,
                   s.timestamp::TIMESTAMP
            FROM read_json(?, format = 'newline_delimited', columns = {
                prediction_id: 'VARCHAR', request_id: 'VARCHAR', arm: 'VARCHAR',
                route_id: 'BIGINT', worker: 'VARCHAR', timestamp: 'TIMESTAMPTZ'}) s
            WHERE NOT EXISTS (
                SELECT 1 FROM serve_predictions p
                WHERE p.model_name = ? AND p.prediction_id = s.prediction_id
                  AND p.served_at >= (SELECT min(timestamp)::TIMESTAMP FROM read_json(?,
                      format = 'newline_delimited', columns = {timestamp: 'TIMESTAMPTZ'})))
            """,
            [model_name, str(batch), model_name, str(batch)],
        )


def _ingest_stream(store: Store, stream: Path) -> list[SpoolIngest]:
    _merge(stream)
    done = []
    for batch in sorted((stream / READY).glob(f"*{CLOSED_SUFFIX}")):
        if batch.stat().st_size == 0:
            batch.unlink()
            continue
        try:
            result = ingest.ingest_predictions(
                store, stream.name, batch, source_name=f"gateway spool {batch.name}"
            )
            _side_rows(store, stream.name, batch)
        except (StoreBusyError, StoreError, UnknownModelError):
            raise  # try again on the next round (the model was served: the store is amiss)
        except VigilError as err:  # the file itself cannot be ingested: set it aside, say so
            failed = stream / FAILED
            failed.mkdir(exist_ok=True)
            os.replace(batch, failed / batch.name)
            log.error("spool batch %s set aside in %s: %s", batch.name, failed, err)
            continue
        batch.unlink()
        done.append(
            SpoolIngest(
                stream.name,
                batch.name,
                result.read,
                result.stored,
                result.quarantined,
                result.already_present,
            )
        )
    return done


def _ingest_metrics(store: Store, stream: Path) -> int:
    _merge(stream)
    count = 0
    for batch in sorted((stream / READY).glob(f"*{CLOSED_SUFFIX}")):
        rows = [json.loads(line) for line in batch.read_text().splitlines() if line.strip()]
        with store.transaction() as con:
            for row in rows:
                con.execute(
                    f"INSERT OR REPLACE INTO serve_metrics ({', '.join(METRIC_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(METRIC_COLUMNS))})",
                    [row.get(c) for c in METRIC_COLUMNS],
                )
        count += len(rows)
        batch.unlink()
    return count


def backlog(store: Store) -> bool:
    """Do closed spool files (or merged batches) still wait for an ingest round?"""
    root = spool_dir(store)
    if not root.is_dir():
        return False
    return any(
        next(folder.glob(f"*{CLOSED_SUFFIX}"), None) is not None
        for stream in root.iterdir()
        if stream.is_dir()
        for folder in (stream, stream / READY)
    )


def ingest_spool(store: Store) -> list[SpoolIngest]:
    """Ingest everything the workers closed (and what dead workers left open)."""
    root = spool_dir(store)
    if not root.is_dir():
        return []
    recover_orphans(root)
    results: list[SpoolIngest] = []
    for stream in sorted(p for p in root.iterdir() if p.is_dir()):
        if stream.name == METRICS_STREAM:
            _ingest_metrics(store, stream)
        else:
            results.extend(_ingest_stream(store, stream))
    return results
