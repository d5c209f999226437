"""AppTest: the Audit page verifies the chain, filters the log, and names a tampered record."""

from __future__ import annotations

from tests.app.helpers import run_page
from vigil.core.store.connection import Store


def test_chain_intact_and_filters(demo_store: Store) -> None:
    at = run_page(demo_store, "audit", user="vic")
    assert not at.exception
    with demo_store.connect() as con:
        total = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert [s.value for s in at.success] == [f"Chain intact: {total} records verified."]
    log = next(d.value for d in at.dataframe if "rationale" in d.value.columns)
    assert list(log["seq"]) == list(range(total, 0, -1))  # newest first
    at.selectbox(key="audit_actor").set_value("rita")
    at.run()
    log = next(d.value for d in at.dataframe if "rationale" in d.value.columns)
    assert list(log["action"]) == ["promote", "approve"]
    assert "2 records match." in [c.value for c in at.caption]
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Export CSV", "Export JSON", "Download sign-off report (HTML)"]
    assert not [b for b in at.button if b.label != "Sign out"]


def test_tampered_record_is_named_in_red(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute("UPDATE audit_log SET rationale = 'rubber stamp' WHERE seq = 4")
    at = run_page(demo_copy, "audit", user="vic")
    assert [e.value for e in at.error] == [
        "Chain broken at record 4: Record 4 (approve by rita) was edited after it was written: "
        "its content no longer matches its hash."
    ]
    assert not at.success


def test_empty_store(store: Store) -> None:
    at = run_page(store, "audit", user="vic")
    assert not at.exception
    assert [s.value for s in at.success] == ["Chain intact: 0 records verified."]
    assert "No audit record matches these filters." in [i.value for i in at.info]
