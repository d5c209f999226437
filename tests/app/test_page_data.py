"""AppTest: the Data page shows files and quarantine; only analysts and admins may upload, and
an upload shows its progress."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.app.helpers import run_page, texts
from tests.core.factories import register_toy
from vigil.core.govern.auth import User
from vigil.core.ingest import history as ingest_history
from vigil.core.ingest.batches import Step
from vigil.core.store.connection import Store
from vigil.core.store.slices import ROW_GROUP
from vigil.pages.data import upload_progress


def test_viewer_sees_files_and_quarantine_but_no_upload(demo_store: Store) -> None:
    at = run_page(demo_store, "data", user="vic")
    assert not at.exception
    assert "Ingest" not in [b.label for b in at.button]
    assert "ingestion is for analysts and admins" in texts(at)
    shown = at.dataframe[1].value
    expected = ingest_history.quarantine(demo_store, "credit-risk")
    assert len(shown) == len(expected) == 6
    assert set(shown["reason"]) == set(expected["reason"])


def test_analyst_gets_the_upload_form(demo_store: Store) -> None:
    at = run_page(demo_store, "data", user="dana")
    assert not at.exception
    assert "Ingest" in [b.label for b in at.button]


def test_quarantine_filter(demo_store: Store) -> None:
    at = run_page(demo_store, "data", user="vic")
    at.text_input(key="data_q_contains").input("duplicate").run()
    assert list(at.dataframe[1].value["reason"]) == [
        "duplicate prediction_id 'cr-bad-5' (first on line 7)"
    ]


def test_upload_progress_follows_the_ingest_slice_by_slice(store: Store, tmp_path: Path) -> None:
    """The bar the Data page draws from a real upload's steps: half for reading and checking,
    the rest in proportion to the rows stored, then full."""
    register_toy(store, tmp_path)
    rows = ROW_GROUP * 2 + 500
    path = tmp_path / "logs.parquet"
    duckdb.sql(
        f"""
        COPY (SELECT 'u' || i AS prediction_id, '1' AS model_version,
                     TIMESTAMP '2026-03-01' + to_seconds(i % 86400) AS timestamp,
                     (i % 100)::DOUBLE AS income, (i % 7) AS tenure, 'north' AS region,
                     0.5 AS prediction, 5.0 AS latency_ms
              FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)
        """
    )
    steps: list[Step] = []
    ingest_history.ingest_upload(
        store,
        User("dana", "analyst"),
        "toy",
        filename="logs.parquet",
        content=path.read_bytes(),
        labels=False,
        progress=steps.append,
    )
    bars = [upload_progress(s) for s in steps]
    shares = [share for share, _ in bars]
    assert shares == sorted(shares) and shares[0] == 0.5 and shares[-1] == 1.0
    storing = [(s, bar) for s, bar in zip(steps, bars, strict=True) if s.name == "storing"]
    assert len(storing) >= 2
    for step, (share, words) in storing:
        assert share == pytest.approx(0.5 + 0.5 * step.rows / rows)
        assert words.startswith(f"Storing {step.rows:,} of {rows:,} rows · ")
        assert words.endswith(" s left")
    assert bars[0][1].startswith(f"Read and checked {rows:,} rows")
    assert bars[-1][1].startswith(f"Stored: {rows:,} rows read in ")
