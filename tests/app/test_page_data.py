"""AppTest: the Data page shows files and quarantine; only analysts and admins may upload."""

from __future__ import annotations

from tests.app.helpers import run_page, texts
from vigil.core.ingest import history as ingest_history
from vigil.core.store.connection import Store


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
