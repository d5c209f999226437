"""Ingesting several files in one run: each file is all-or-nothing on its own, and the run
reports every file's outcome, so a failure on file 2 never hides that file 1 was stored."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.errors import VigilError
from vigil.core.ingest.batches import IngestResult, Kind
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.store.connection import Store


class Outcome(enum.StrEnum):
    INGESTED = "ingested"  # read to the end: rows stored, quarantined or already present
    FAILED = "failed"  # nothing of the file was stored


@dataclass(frozen=True)
class FileOutcome:
    file: str
    outcome: Outcome
    result: IngestResult | None = None
    error: str | None = None


@dataclass(frozen=True)
class IngestRun:
    """Every file's outcome, and how many alert windows fail after what was stored."""

    files: tuple[FileOutcome, ...]
    failing_alert_windows: int | None  # None: nothing stored, alerts not re-evaluated

    @property
    def failed(self) -> tuple[FileOutcome, ...]:
        return tuple(f for f in self.files if f.outcome is Outcome.FAILED)

    @property
    def results(self) -> tuple[IngestResult, ...]:
        return tuple(f.result for f in self.files if f.result is not None)


def ingest_files(store: Store, model_name: str, paths: Sequence[Path], kind: Kind) -> IngestRun:
    """Ingest each file in turn, go on after one that fails, then re-evaluate alert rules."""
    run = ingest_labels if kind is Kind.LABEL else ingest_predictions
    outcomes: list[FileOutcome] = []
    for path in paths:
        try:
            result = run(store, model_name, Path(path))
        except VigilError as err:
            outcomes.append(FileOutcome(str(path), Outcome.FAILED, error=str(err)))
        else:
            outcomes.append(FileOutcome(str(path), Outcome.INGESTED, result=result))
    failing: int | None = None
    if any(o.result is not None and o.result.stored for o in outcomes):
        failing = len(refresh_after_ingest(store, model_name).failures)
    return IngestRun(tuple(outcomes), failing)
