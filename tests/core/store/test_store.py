"""The store: migrations on open, and two processes sharing one DuckDB file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.core.factories import add_ingester, log_rows, register_toy
from vigil.core.errors import StoreBusyError
from vigil.core.store import connection
from vigil.core.store.connection import Store, schema_version
from vigil.core.store.migrations import LATEST_VERSION

ROOT = Path(__file__).resolve().parents[3]


def _hold_lock(home: Path, seconds: float) -> subprocess.Popen:
    """Another process that opens the store and keeps it busy, as a long ingest would."""
    code = textwrap.dedent(
        f"""
        import time, sys
        from pathlib import Path
        from vigil.core.store.connection import Store
        with Store(Path({str(home)!r})).transaction() as con:
            print("locked", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_open_creates_the_latest_schema(store: Store) -> None:
    with store.connect() as con:
        assert schema_version(con) == LATEST_VERSION
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert {"models", "model_versions", "labels", "quarantine", "users", "audit_log"} <= tables


def test_a_second_process_waits_for_the_first(store: Store) -> None:
    holder = _hold_lock(store.home, 1.5)
    started = time.monotonic()
    with store.connect(timeout_s=30) as con:
        con.execute("SELECT 1").fetchone()
    waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert holder.returncode == 0
    assert waited > 0.5  # it really had to wait for the other process


def test_a_busy_store_gives_a_clear_message_after_the_timeout(store: Store) -> None:
    holder = _hold_lock(store.home, 5)
    try:
        with (
            pytest.raises(
                StoreBusyError, match=r"is in use by another process .* stayed locked for 0 s\. "
            ),
            store.connect(timeout_s=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_cli_ingest_runs_while_this_process_keeps_reading(store: Store, tmp_path: Path) -> None:
    """The dashboard (this process) and the command line (a child) work at the same time."""
    register_toy(store, tmp_path)
    files = []
    for part in range(3):
        rows = log_rows(400)
        rows["prediction_id"] = [f"f{part}-{i}" for i in range(400)]
        path = tmp_path / f"part{part}.csv"
        rows.to_csv(path, index=False)
        files.append(str(path))
    cli = subprocess.Popen(
        [sys.executable, "-m", "vigil", "ingest", "--model", "toy", *files, "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "VIGIL_HOME": str(store.home), **add_ingester(store)},
    )
    reads = 0
    while cli.poll() is None:
        with store.connect(timeout_s=30) as con:
            con.execute("SELECT count(*) FROM log_toy").fetchone()
        reads += 1
    out, err = cli.communicate()
    assert cli.returncode == 0, err
    assert [
        r["stored"] for r in pd.read_json(__import__("io").StringIO(out)).to_dict("records")
    ] == [400] * 3
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM log_toy").fetchone()[0] == 1200
    assert reads >= 1


def test_an_older_store_is_migrated_on_open_and_keeps_its_data(tmp_path: Path) -> None:
    import duckdb

    from vigil.core.store.migrations import MIGRATIONS

    path = tmp_path / "vigil.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    con.execute(MIGRATIONS[0][1])
    con.execute("INSERT INTO schema_version VALUES (1, now()::TIMESTAMP)")
    con.execute(
        "INSERT INTO users (username, role, password_hash, created_at) "
        "VALUES ('old', 'viewer', 'x', now()::TIMESTAMP)"
    )
    con.close()
    with Store(tmp_path).connect() as migrated:
        assert schema_version(migrated) == LATEST_VERSION
        assert migrated.execute("SELECT username FROM users").fetchall() == [("old",)]
        applied = [
            r[0]
            for r in migrated.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        ]
    assert applied == [v for v, _ in MIGRATIONS]


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    from vigil.core.errors import StoreError

    with Store(tmp_path).connect() as con:
        con.execute("INSERT INTO schema_version VALUES (999, now()::TIMESTAMP)")

    connection._migrated.discard(Store(tmp_path).db_path)
    with (
        pytest.raises(
            StoreError, match=r"^The store is at schema version 999, newer than this Vigil"
        ),
        Store(tmp_path).connect(),
    ):
        pass


def test_spill_files_of_a_killed_process_are_cleaned_on_the_next_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from vigil.core.store.connection import Store, limit_memory
        with Store(Path({str(home)!r})).connect() as con:
            con.execute("SET memory_limit = '40MB'; SET threads = 1")
            limit_memory(con, Path({str(home)!r}))
            con.execute("SET memory_limit = '40MB'")
            con.execute("CREATE TEMP TABLE big AS SELECT i, md5(i::VARCHAR) AS h "
                        "FROM range(3000000) t(i) ORDER BY h")
            print("spilled", flush=True)
            os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    left = list((home / "tmp").glob("duckdb_temp*"))
    assert left, "the killed process left no spill file; the test proves nothing"
    connection._migrated.discard(Store(home).db_path)
    with Store(home).connect():
        pass
    assert list((home / "tmp").glob("duckdb_temp*")) == []


def test_a_killed_ingest_leaves_nothing_and_a_rerun_stores_everything(
    store: Store, tmp_path: Path
) -> None:
    """kill -9 in the middle of an ingest: no partial file is visible, the re-run stores all."""
    register_toy(store, tmp_path)
    rows = log_rows(200_000)
    rows["prediction_id"] = [f"k{i}" for i in range(len(rows))]
    path = tmp_path / "big.csv"
    rows.to_csv(path, index=False)
    cli = subprocess.Popen(
        [sys.executable, "-m", "vigil", "ingest", "--model", "toy", str(path)],
        cwd=ROOT,
        env={**__import__("os").environ, "VIGIL_HOME": str(store.home), **add_ingester(store)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.5)
    cli.kill()
    cli.wait()
    with store.connect() as con:
        partial = con.execute("SELECT count(*) FROM log_toy").fetchone()
    assert partial in ((0,), (200_000,))
    from vigil.core.ingest.predictions import ingest_predictions

    result = ingest_predictions(store, "toy", path)
    assert result.stored + result.already_present == 200_000
    with store.connect() as con:
        assert con.execute("SELECT count(DISTINCT prediction_id) FROM log_toy").fetchone() == (
            200_000,
        )
