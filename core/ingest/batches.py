"""What one ingest run does with a checked file: its quarantine records, its rows, its batch.

Every run satisfies read = stored + quarantined + already_present. A row quarantined before
is not quarantined twice (it is counted as quarantined again, but no new record is written).
The rows and records are appended in slices, each a short transaction, and appear to
readers at once when the batch is published (core.store.pending).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import duckdb

from vigil.core import settings
from vigil.core.store import locks, pending, slices
from vigil.core.store.connection import Store
from vigil.core.store.sql import quote_literal, scalar
from vigil.core.store.staging import attached

T = TypeVar("T")


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
    """Progress of one file: rows so far (of `total` when known), seconds so far, and the
    longest time the store was held at once."""

    name: str
    rows: int
    elapsed_s: float
    store_held_s: float | None = None
    total: int | None = None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else None


Progress = Callable[[Step], None]


class Clock:
    """Times one file's ingest, keeps its longest hold of the store, reports its steps."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._started = time.monotonic()
        self.longest_hold = 0.0

    def report(
        self, name: str, rows: int, total: int | None = None, held: float | None = None
    ) -> None:
        if held is not None:
            self.longest_hold = max(self.longest_hold, held)
        if self._progress is not None:
            elapsed = time.monotonic() - self._started
            self._progress(Step(name, rows, elapsed, held, total))


@dataclass(frozen=True)
class Outgoing:
    """Where a checked file goes: its kind, model, name and hash, and the store table that
    its rows (temp table `fresh`, numbered by `_seq`) are appended to."""

    kind: Kind
    model_name: str
    source: str
    sha256: str
    table: str


@contextmanager
def model_ingest(store: Store, model_name: str) -> Iterator[None]:
    """Hold the model's ingest lock for a whole ingest (two ingests of one model would
    interleave their slices); first delete what a dead ingest of the model left pending."""
    timeout_s = settings.lock_timeout_s()
    with locks.model_lock(store.home, model_name, timeout_s):
        with store.transaction(timeout_s) as con:
            pending.recover(con, model_name)
        yield


def _refusals(con: duckdb.DuckDBPyConnection, raw_json: str) -> int:
    """Temp table `refused`: the rows of `checked` with a reason and those of `rejected`."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE refused AS
        SELECT c._row, c.id, c.reason, {raw_json} AS raw
        FROM checked c JOIN raw r USING (_row) WHERE c.reason IS NOT NULL
        UNION ALL
        SELECT _row, NULL, reason, to_json(raw) FROM rejected
        """
    )
    return int(scalar(con, "SELECT count(*) FROM refused"))


def _new_refusals(store: Store, con: duckdb.DuckDBPyConnection, out: Outgoing) -> int:
    """Temp table `new_refusals`: refused rows that no earlier run over the same file (same
    hash) quarantined, numbered for appending; returns how many."""
    if scalar(con, "SELECT count(*) FROM refused"):
        slices.copy_in(
            store,
            con,
            "known_refusals",
            "row_number",
            "quarantine",
            "kind = ? AND model_name = ? AND file_sha256 = ?",
            [out.kind.value, out.model_name, out.sha256],
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE known_refusals (row_number BIGINT)")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE new_refusals AS
        SELECT _row AS row_number, id AS prediction_id, reason, raw,
               row_number() OVER (ORDER BY _row) - 1 AS _seq
        FROM refused WHERE _row NOT IN (SELECT row_number FROM known_refusals)
        ORDER BY _seq
        """
    )
    con.execute("DROP TABLE known_refusals")
    return int(scalar(con, "SELECT count(*) FROM new_refusals"))


def _top_reasons(con: duckdb.DuckDBPyConnection) -> tuple[ReasonCount, ...]:
    reasons = con.execute(
        """
        SELECT regexp_replace(reason, '''[^'']*''', '…', 'g') AS kind, count(*) AS n
        FROM refused GROUP BY 1 ORDER BY n DESC, kind LIMIT 10
        """
    ).fetchall()
    return tuple(ReasonCount(str(r), int(n)) for r, n in reasons)


def _in_store(
    store: Store, con: duckdb.DuckDBPyConnection, action: Callable[[], T], clock: Clock
) -> T:
    """`action` with the store attached, in one short transaction (its hold is recorded)."""
    with attached(store, con) as taken:
        result = action()
    clock.longest_hold = max(clock.longest_hold, time.monotonic() - taken)
    return result


def store_batch(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    out: Outgoing,
    *,
    ignored: list[str],
    raw_json: str,
    clock: Clock,
) -> IngestResult:
    """Quarantine what `checked` and `rejected` refuse, append `fresh`, publish the batch.

    Read counts every record of the file (parsed or not); already present is what is left
    once stored and quarantined rows are taken away. Until the batch is published its rows
    are hidden; if anything fails they are deleted (what a killed process leaves is deleted
    by the next ingest of the model, see model_ingest, or the next open of the store)."""
    read = int(
        scalar(con, "SELECT (SELECT count(*) FROM checked) + (SELECT count(*) FROM rejected)")
    )
    quarantined = _refusals(con, raw_json)
    reasons = _top_reasons(con)
    new_records = _new_refusals(store, con, out)
    stored = int(scalar(con, "SELECT count(*) FROM fresh"))
    counts = pending.Counts(read, stored, quarantined, read - stored - quarantined)
    if stored + new_records <= slices.ROW_GROUP:  # one short transaction does it all
        batch_id = _in_store(store, con, lambda: _all_at_once(con, out, counts), clock)
    else:
        batch_id = _in_slices(store, con, out, counts, (stored, new_records), clock)
    con.execute("DROP TABLE fresh; DROP TABLE refused; DROP TABLE new_refusals")
    con.execute("DROP TABLE raw; DROP TABLE checked; DROP TABLE rejected")
    clock.report("stored", read, read, clock.longest_hold)
    return IngestResult(
        file=out.source,
        kind=out.kind,
        model_name=out.model_name,
        batch_id=batch_id,
        read=read,
        stored=stored,
        quarantined=quarantined,
        already_present=counts.already_present,
        new_quarantine_records=new_records,
        top_reasons=reasons,
        ignored_columns=tuple(ignored),
    )


def _selects(out: Outgoing, batch_id: int) -> tuple[str, str]:
    """What `fresh` and `new_refusals` store: their columns plus the batch's own."""
    tag = f"{batch_id}::BIGINT AS batch_id"
    fields = ", ".join(
        f"{quote_literal(value)} AS {name}"
        for name, value in (
            ("kind", out.kind.value),
            ("model_name", out.model_name),
            ("source_file", out.source),
            ("file_sha256", out.sha256),
        )
    )
    return (
        f"* EXCLUDE (_seq), {tag}",
        f"* EXCLUDE (_seq), {tag}, {fields}, now()::TIMESTAMP AS quarantined_at",
    )


def _all_at_once(con: duckdb.DuckDBPyConnection, out: Outgoing, counts: pending.Counts) -> int:
    """A small file in one transaction: registered, stored and published together."""
    batch_id = pending.begin(con, out.kind.value, out.model_name, out.source)
    rows, refusals = _selects(out, batch_id)
    con.execute(f"INSERT INTO {out.table} BY NAME SELECT {rows} FROM fresh ORDER BY _seq")
    con.execute(f"INSERT INTO quarantine BY NAME SELECT {refusals} FROM new_refusals ORDER BY _seq")
    pending.publish(con, batch_id, out.sha256, counts)
    return batch_id


def _in_slices(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    out: Outgoing,
    counts: pending.Counts,
    sizes: tuple[int, int],
    clock: Clock,
) -> int:
    """A big file: registered as pending, its rows and then its new quarantine records
    appended slice by slice, published; on failure its rows are deleted again."""
    stored, new_records = sizes
    total = stored + new_records
    begin = functools.partial(pending.begin, con, out.kind.value, out.model_name, out.source)
    batch_id = _in_store(store, con, begin, clock)
    rows, refusals = _selects(out, batch_id)
    try:
        slices.append(
            store,
            con,
            "fresh",
            out.table,
            rows,
            lambda done, held: clock.report("storing", done, total, held),
        )
        slices.append(
            store,
            con,
            "new_refusals",
            "quarantine",
            refusals,
            lambda done, held: clock.report("storing", stored + done, total, held),
        )
        _in_store(store, con, lambda: pending.publish(con, batch_id, out.sha256, counts), clock)
    except BaseException:
        with contextlib.suppress(Exception):
            _in_store(store, con, lambda: pending.recover(con, out.model_name), clock)
        raise
    return batch_id
