"""Ingesting several files in one run: each file is all-or-nothing on its own, and the run
reports every file's outcome, so a failure on file 2 never hides that file 1 was stored."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.errors import VigilError
from vigil.core.ingest.batches import IngestResult, Kind, Step
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


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands: the file's last step, and the share of all bytes done so far."""

    file: str
    step: Step
    bytes_done: int
    bytes_total: int
    elapsed_s: float

    @property
    def seconds_left(self) -> float | None:
        """Time left, assuming the bytes still to come go as fast as those done."""
        if not self.bytes_done or self.bytes_done >= self.bytes_total:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done


def step_share(step: Step) -> float:
    """How much of a file's ingest is done at `step`: reading and checking is about half of
    it, appending the rows the other half."""
    if step.name == "stored":
        return 1.0
    if step.total:
        return 0.5 + 0.5 * min(step.rows, step.total) / step.total
    return 0.5


def share_done(step: Step, size: int) -> int:
    """Bytes of a file of `size` bytes counted as done at `step`."""
    return int(size * step_share(step))


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def ingest_files(
    store: Store,
    model_name: str,
    paths: Sequence[Path],
    kind: Kind,
    *,
    progress: Callable[[RunProgress], None] | None = None,
) -> IngestRun:
    """Ingest each file in turn, go on after one that fails, then re-evaluate alert rules."""
    run = ingest_labels if kind is Kind.LABEL else ingest_predictions
    outcomes: list[FileOutcome] = []
    total = sum(_size(Path(p)) for p in paths)
    done, started = 0, time.monotonic()
    for path in paths:
        size = _size(Path(path))

        def report(step: Step, path: Path = Path(path), size: int = size, done: int = done) -> None:
            if progress is not None:
                elapsed = time.monotonic() - started
                progress(
                    RunProgress(str(path), step, done + share_done(step, size), total, elapsed)
                )

        try:
            result = run(store, model_name, Path(path), progress=report)
        except VigilError as err:
            outcomes.append(FileOutcome(str(path), Outcome.FAILED, error=str(err)))
        else:
            outcomes.append(FileOutcome(str(path), Outcome.INGESTED, result=result))
        done += size
    failing: int | None = None
    if any(o.result is not None and o.result.stored for o in outcomes):
        failing = len(refresh_after_ingest(store, model_name).failures)
    return IngestRun(tuple(outcomes), failing)
