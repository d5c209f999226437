"""A file's rows are appended in slices and appear at once: readers never see part of a file,
a killed ingest leaves nothing visible, and what it left is deleted before anyone re-runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.core.factories import log_rows, register_toy
from vigil.core.errors import StoreBusyError
from vigil.core.ingest.batches import Step
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.monitor.selection import log_table
from vigil.core.store import connection, locks, pending
from vigil.core.store.connection import Store
from vigil.core.store.slices import ROW_GROUP

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def toy(store: Store, tmp_path: Path) -> Store:
    register_toy(store, tmp_path)
    return store


def _parquet(path: Path, rows: int, prefix: str = "id") -> Path:
    duckdb.sql(
        f"""
        COPY (SELECT '{prefix}' || i AS prediction_id, 'toy' AS model_name, '1' AS model_version,
                     TIMESTAMP '2026-03-01' + to_seconds(i % 86400) AS timestamp,
                     (i % 100)::DOUBLE AS income, (i % 7) AS tenure,
                     ['north','south','east'][i % 3 + 1] AS region,
                     (i % 10) / 10 AS prediction, 5.0 AS latency_ms
              FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)
        """
    )
    return path


def _counts(store: Store) -> tuple[int, int, int]:
    """(rows in the log table, rows readers see, pending batches)."""
    with store.connect() as con:
        physical = con.execute("SELECT count(*) FROM log_toy").fetchone()
        visible = con.execute(f"SELECT count(*) FROM {log_table(con, 'toy')}").fetchone()
        waiting = con.execute("SELECT count(*) FROM pending_batches").fetchone()
    assert physical and visible and waiting
    return int(physical[0]), int(visible[0]), int(waiting[0])


def _forget_open(store: Store) -> None:
    """As if this were a new process: the next open migrates and recovers again."""
    connection._migrated.discard(store.db_path)


def test_rows_of_a_pending_batch_are_hidden_until_it_is_published(toy: Store) -> None:
    with toy.transaction() as con:
        batch = pending.begin(con, "prediction", "toy", "hand.csv")
        con.execute(
            "INSERT INTO log_toy (prediction_id, model_version, served_at, status, batch_id, "
            "ingested_at) VALUES ('x1', '1', TIMESTAMP '2026-03-01', 'ok', ?, now())",
            [batch],
        )
        con.execute("INSERT INTO labels VALUES ('toy', 'x1', 1, NULL, ?, now())", [batch])
        con.execute(
            "INSERT INTO quarantine VALUES (?, 'prediction', 'toy', 'hand.csv', 'sha', 3, "
            "'x2', 'bad', NULL, now())",
            [batch],
        )
    with toy.connect() as con:
        seen = [
            con.execute(f"SELECT count(*) FROM {t}").fetchone()
            for t in (log_table(con, "toy"), pending.LABELS, pending.QUARANTINE)
        ]
        assert seen == [(0,), (0,), (0,)]
        assert pending.freshness(con, "toy") == pending.Freshness(None, True)
    with toy.transaction() as con:
        pending.publish(con, batch, "sha", pending.Counts(2, 1, 1, 0))
    with toy.connect() as con:
        seen = [
            con.execute(f"SELECT count(*) FROM {t}").fetchone()
            for t in (log_table(con, "toy"), pending.LABELS, pending.QUARANTINE)
        ]
        assert seen == [(1,), (1,), (1,)]
        fresh = pending.freshness(con, "toy")
        recorded = con.execute(
            "SELECT source_file, file_sha256, rows_read, rows_stored, finished_at "
            "FROM ingest_batches WHERE batch_id = ?",
            [batch],
        ).fetchone()
    assert recorded is not None and recorded[:4] == ("hand.csv", "sha", 2, 1)
    assert fresh == pending.Freshness(recorded[4], False)


def test_a_dead_batch_is_deleted_on_open_unless_its_model_is_being_ingested(toy: Store) -> None:
    with toy.transaction() as con:
        batch = pending.begin(con, "prediction", "toy", "dead.csv")
        con.execute(
            "INSERT INTO log_toy (prediction_id, model_version, served_at, status, batch_id, "
            "ingested_at) VALUES ('x1', '1', TIMESTAMP '2026-03-01', 'ok', ?, now())",
            [batch],
        )
    with locks.model_lock(toy.home, "toy", timeout_s=1):  # an ingest of toy is alive
        _forget_open(toy)
        assert _counts(toy) == (1, 0, 1)
    _forget_open(toy)
    assert _counts(toy) == (0, 0, 0)


def test_a_second_ingest_of_a_model_waits_for_the_first(
    toy: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "0.5")
    path = tmp_path / "a.csv"
    log_rows(3).to_csv(path, index=False)
    with (
        locks.model_lock(toy.home, "toy", timeout_s=1),
        pytest.raises(StoreBusyError, match=r"^Another ingest of 'toy' is running"),
    ):
        ingest_predictions(toy, "toy", path)
    assert ingest_predictions(toy, "toy", path).stored == 3


def _kill_at_first_slice(home: Path, data: Path, kind: str) -> subprocess.CompletedProcess[str]:
    """A child that ingests `data` and kills itself with SIGKILL once a slice is committed."""
    run = "ingest_labels" if kind == "label" else "ingest_predictions"
    module = "labels" if kind == "label" else "predictions"
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from vigil.core.ingest.{module} import {run}
        from vigil.core.store.connection import Store

        def die(step):
            if step.name == "storing":
                os.kill(os.getpid(), 9)

        {run}(Store(Path({str(home)!r})), "toy", Path({str(data)!r}), progress=die)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "VIGIL_HOME": str(home)},
    )


def test_kill_between_two_slices_leaves_nothing_visible_and_a_rerun_stores_all(
    toy: Store, tmp_path: Path
) -> None:
    rows = ROW_GROUP * 2 + 1000  # more than the first slice (one row group)
    data = _parquet(tmp_path / "big.parquet", rows)
    child = _kill_at_first_slice(toy.home, data, "prediction")
    assert child.returncode == -9, child.stderr
    physical, visible, waiting = _counts(toy)
    assert (visible, waiting) == (0, 1)
    assert 0 < physical < rows  # a slice really was committed: the attack happened
    result = ingest_predictions(toy, "toy", data)
    assert (result.read, result.stored, result.already_present) == (rows, rows, 0)
    assert _counts(toy) == (rows, rows, 0)
    with toy.connect() as con:
        assert con.execute("SELECT count(DISTINCT prediction_id) FROM log_toy").fetchone() == (
            rows,
        )
        assert con.execute("SELECT count(*) FROM ingest_batches").fetchone() == (1,)


def test_a_killed_label_ingest_shows_no_label_and_the_rerun_stores_them(
    toy: Store, tmp_path: Path
) -> None:
    rows = ROW_GROUP * 2 + 10
    ingest_predictions(toy, "toy", _parquet(tmp_path / "logs.parquet", rows))
    labels = tmp_path / "labels.parquet"
    duckdb.sql(
        f"COPY (SELECT 'id' || i AS prediction_id, i % 2 AS label FROM range({rows}) t(i)) "
        f"TO '{labels}' (FORMAT parquet)"
    )
    child = _kill_at_first_slice(toy.home, labels, "label")
    assert child.returncode == -9, child.stderr
    with toy.connect() as con:
        physical = con.execute("SELECT count(*) FROM labels").fetchone()
        visible = con.execute(f"SELECT count(*) FROM {pending.LABELS}").fetchone()
    assert physical is not None and 0 < physical[0] < rows
    assert visible == (0,)
    _forget_open(toy)  # the next process to open the store deletes the dead batch
    with toy.connect() as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone() == (0,)
    result = ingest_labels(toy, "toy", labels)
    assert (result.stored, result.quarantined) == (rows, 0)


def test_progress_reports_each_slice_and_the_longest_hold(toy: Store, tmp_path: Path) -> None:
    rows = ROW_GROUP * 3
    steps: list[Step] = []
    ingest_predictions(toy, "toy", _parquet(tmp_path / "p.parquet", rows), progress=steps.append)
    names = [s.name for s in steps]
    assert names[0] == "read and checked" and names[-1] == "stored"
    storing = [s for s in steps if s.name == "storing"]
    assert len(storing) >= 2  # three row groups never fit the first slice (one group)
    assert [s.rows for s in storing] == sorted(s.rows for s in storing)
    assert storing[-1].rows == storing[-1].total == rows
    assert steps[-1].store_held_s is not None  # the longest hold, slices or not
    assert steps[-1].store_held_s >= max(s.store_held_s or 0 for s in storing)


def test_a_reader_in_this_process_waits_for_an_attached_ingest(toy: Store, tmp_path: Path) -> None:
    """In one process DuckDB refuses a second instance of the file (not an OS lock): the
    dashboard's reader threads must wait for an upload's slice like any other process."""
    from vigil.core.store.staging import attached, staging

    released = threading.Event()

    def hold() -> None:
        with staging(toy) as con, attached(toy, con):
            released.wait(0.6)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.3)
    started = time.monotonic()
    with toy.connect(timeout_s=10) as con:
        con.execute("SELECT 1").fetchone()
    holder.join()
    assert time.monotonic() - started > 0.1  # it did wait for the slice


def test_readers_waiting_go_before_the_next_write(tmp_path: Path) -> None:
    """The turn lock: a write waits (up to its patience) while a reader waits for the store."""
    deadline = time.monotonic() + 5
    with locks.waiting(tmp_path, deadline) as turn:
        assert turn
        started = time.monotonic()
        with locks.writing(tmp_path, patience_s=0.4):
            waited = time.monotonic() - started
    assert 0.35 < waited < 2
    started = time.monotonic()
    with locks.writing(tmp_path, patience_s=5):
        assert time.monotonic() - started < 0.2  # nobody waiting: no delay
        with locks.waiting(tmp_path, time.monotonic() + 0.2) as turn:
            assert not turn  # a reader sees the write going on without opening DuckDB


def test_stored_rows_keep_the_file_in_time_order(toy: Store, tmp_path: Path) -> None:
    rows = log_rows(6)
    rows["timestamp"] = [f"2026-03-01T1{9 - i}:00:00Z" for i in range(6)]
    path = tmp_path / "late-first.csv"
    rows.to_csv(path, index=False)
    ingest_predictions(toy, "toy", path)
    with toy.connect() as con:
        stored = con.execute("SELECT prediction_id FROM log_toy").fetchall()  # storage order
    assert [r[0] for r in stored] == list(pd.Series(rows["prediction_id"])[::-1])


def test_readers_of_the_ingests_own_process_wait_for_its_write(store: Store) -> None:
    """In one process DuckDB would let a reader in beside a connection that is open, so an
    upload's slice could wait for ever behind the dashboard's readers; they wait their turn."""
    with store.connect() as outer:  # an open unit of work: a nested open must not wait
        released = threading.Event()

        def write() -> None:
            with locks.writing(store.home, patience_s=5):
                released.wait(5)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.2)
        with store.connect(timeout_s=0.3):
            pass  # nested: answered at once although the writer has the turn
    with pytest.raises(StoreBusyError), store.connect(timeout_s=0.3):
        pass
    released.set()
    writer.join()
    with store.connect(timeout_s=1) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
    assert outer is not None
