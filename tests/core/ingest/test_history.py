"""Uploads go through the same validation as the command line, and need the right role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.factories import log_rows, register_toy
from vigil.core.errors import PermissionDenied
from vigil.core.govern.auth import User
from vigil.core.ingest import history as ingest_history
from vigil.core.store.connection import Store


def test_upload_is_ingested_and_listed(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path)
    rows = log_rows(3)
    rows.loc[0, "tenure"] = "x"
    result = ingest_history.ingest_upload(
        store,
        User("dana", "analyst"),
        "toy",
        filename="../../etc/logs.csv",
        content=rows.to_csv(index=False).encode(),
        labels=False,
    )
    assert (result.read, result.stored, result.quarantined) == (3, 2, 1)
    files = ingest_history.batches(store, "toy")
    assert list(files["file"]) == ["upload by dana: logs.csv"]
    rejected = ingest_history.quarantine(store, "toy")
    assert list(rejected["reason"]) == ["tenure: 'x' is not an integer"]
    assert '"tenure":"x"' in rejected["raw_row"][0]


def test_viewers_cannot_upload(store: Store) -> None:
    with pytest.raises(
        PermissionDenied,
        match=r"^vic is a viewer and cannot ingest data; it needs one of: analyst, admin\.$",
    ):
        ingest_history.ingest_upload(
            store, User("vic", "viewer"), "toy", filename="a.csv", content=b"", labels=False
        )
