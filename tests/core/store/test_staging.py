"""An ingest checks its file outside the store's lock and writes it in short slices: another
process keeps reading, and sees the file all at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.core.factories import add_ingester, register_toy
from vigil.core.monitor.selection import log_table
from vigil.core.registry.versions import list_versions
from vigil.core.store.connection import Store

ROOT = Path(__file__).resolve().parents[3]


def test_models_answer_quickly_during_a_million_row_ingest(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path)
    data = tmp_path / "logs.parquet"
    duckdb.sql(
        f"""
        COPY (SELECT 'id' || i AS prediction_id, 'toy' AS model_name, '1' AS model_version,
                     TIMESTAMP '2026-03-01' + to_seconds(i % 86400) AS timestamp,
                     (i % 100)::DOUBLE AS income, (i % 7) AS tenure,
                     ['north','south','east'][i % 3 + 1] AS region,
                     (i % 10) / 10 AS prediction, 5.0 AS latency_ms
              FROM range(1000000) t(i)) TO '{data}' (FORMAT parquet)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "vigil", "ingest", "--model", "toy", str(data)],
        cwd=ROOT,
        env={**os.environ, "VIGIL_HOME": str(store.home), **add_ingester(store)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    page = Store(store.home, lock_timeout_s=4.0)  # a page's store, with a generous timeout
    waits, seen = [], set()
    while child.poll() is None:
        asked = time.monotonic()
        with page.connect() as con:
            assert [v.model_version for v in list_versions(con, "toy")] == ["1"]
            row = con.execute(f"SELECT count(*) FROM {log_table(con, 'toy')}").fetchone()
        waits.append(time.monotonic() - asked)
        seen.add(row[0] if row else None)
        time.sleep(0.1)
    assert child.wait() == 0, child.stderr.read() if child.stderr else ""
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM log_toy").fetchone() == (1_000_000,)
    assert len(waits) >= 5  # the reads really ran during the ingest
    assert seen <= {0, 1_000_000}, seen  # the file appeared all at once
    # target < 2 s; measured max 0.6-0.8 s on a busy 2-core machine (slices of ~0.5 s); the
    # margin is for slower CI
    assert max(waits) < 4.0, waits
