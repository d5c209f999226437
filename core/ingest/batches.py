"""What one ingest run did with a file: its result, its quarantine records and its batch row.

Every run satisfies read = stored + quarantined + already_present. A row quarantined before
is not quarantined twice (it is counted as quarantined again, but no new record is written).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from vigil.core.store.sql import scalar


class Kind(enum.StrEnum):
    """What a file holds."""

    PREDICTION = "prediction"
    LABEL = "label"


@dataclass(frozen=True)
class ReasonCount:
    """How many rows were rejected for one kind of reason (quoted values elided)."""

    reason: str
    rows: int


@dataclass(frozen=True)
class IngestResult:
    """What happened to every row of one file."""

    file: str
    kind: Kind
    model_name: str
    batch_id: int
    read: int
    stored: int
    quarantined: int
    already_present: int
    new_quarantine_records: int
    top_reasons: tuple[ReasonCount, ...] = ()
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """Progress of one file: rows so far, seconds so far, and how long the store was held."""

    name: str
    rows: int
    elapsed_s: float
    store_held_s: float | None = None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else None


Progress = Callable[[Step], None]


@dataclass(frozen=True)
class Batch:
    """Identifies one run over one file: the records it writes all carry these."""

    kind: Kind
    model_name: str
    source: str
    sha256: str
    batch_id: int


def new_batch(
    con: duckdb.DuckDBPyConnection, kind: Kind, model_name: str, source: str, sha256: str
) -> Batch:
    return Batch(kind, model_name, source, sha256, int(scalar(con, "SELECT nextval('batch_seq')")))


def _quarantine_and_count(
    con: duckdb.DuckDBPyConnection, batch: Batch, raw_json: str
) -> tuple[int, int, tuple[ReasonCount, ...]]:
    """Write new quarantine records for the rows of `checked` with a reason and the records
    of `rejected`; a row quarantined before (same file, same line) is not written again."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE refused AS
        SELECT c._row, c.id, c.reason, {raw_json} AS raw
        FROM checked c JOIN raw r USING (_row) WHERE c.reason IS NOT NULL
        UNION ALL
        SELECT _row, NULL, reason, to_json(raw) FROM rejected
        """
    )
    quarantined = int(scalar(con, "SELECT count(*) FROM refused"))
    before = int(scalar(con, "SELECT count(*) FROM quarantine"))
    con.execute(
        """
        INSERT INTO quarantine
        SELECT ?, ?, ?, ?, ?, f._row, f.id, f.reason, f.raw, now()::TIMESTAMP
        FROM refused f
        WHERE NOT EXISTS (
            SELECT 1 FROM quarantine q
            WHERE q.kind = ? AND q.model_name = ? AND q.file_sha256 = ? AND q.row_number = f._row
        )
        """,
        [
            batch.batch_id, batch.kind.value, batch.model_name, batch.source, batch.sha256,
            batch.kind.value, batch.model_name, batch.sha256,
        ],
    )  # fmt: skip
    new_records = int(scalar(con, "SELECT count(*) FROM quarantine")) - before
    reasons = con.execute(
        """
        SELECT regexp_replace(reason, '''[^'']*''', '…', 'g') AS kind, count(*) AS n
        FROM refused GROUP BY 1 ORDER BY n DESC, kind LIMIT 10
        """
    ).fetchall()
    con.execute("DROP TABLE refused")
    return quarantined, new_records, tuple(ReasonCount(str(r), int(n)) for r, n in reasons)


def _record_batch(con: duckdb.DuckDBPyConnection, result: IngestResult, sha: str) -> None:
    con.execute(
        "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, "
        "now()::TIMESTAMP)",
        [
            result.batch_id, result.kind.value, result.model_name, result.file, sha,
            result.read, result.stored, result.quarantined, result.already_present,
        ],
    )  # fmt: skip


def finish(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    *,
    stored: int,
    ignored: list[str],
    raw_json: str,
) -> IngestResult:
    """Quarantine what `checked` and `rejected` refuse, record the batch, count every row.

    Read counts every record of the file (parsed or not); already present is what is left
    once stored and quarantined rows are taken away."""
    read = int(
        scalar(con, "SELECT (SELECT count(*) FROM checked) + (SELECT count(*) FROM rejected)")
    )
    quarantined, new_records, reasons = _quarantine_and_count(con, batch, raw_json)
    result = IngestResult(
        file=batch.source,
        kind=batch.kind,
        model_name=batch.model_name,
        batch_id=batch.batch_id,
        read=read,
        stored=stored,
        quarantined=quarantined,
        already_present=read - stored - quarantined,
        new_quarantine_records=new_records,
        top_reasons=reasons,
        ignored_columns=tuple(ignored),
    )
    _record_batch(con, result, batch.sha256)
    con.execute("DROP TABLE raw; DROP TABLE checked; DROP TABLE rejected")
    return result
