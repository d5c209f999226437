"""AppTest: the Registry page lists every version with its inventory entry, lineage and the
timeline of what was live when; it offers no way to change anything."""

from __future__ import annotations

from tests.app.helpers import run_page, texts
from vigil.core.govern import workflow as governance
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store


def frame_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_inventory_lineage_and_timeline(demo_store: Store) -> None:
    at = run_page(demo_store, "registry", user="vic")
    assert not at.exception
    assert at.title[0].value == "Model registry"
    inventory = frame_with(at, "risk tier")
    assert list(inventory["version"]) == ["1.0", "1.1"]
    assert list(inventory["status"]) == ["Production", "Pending approval"]
    assert list(inventory["aliases"]) == ["champion", ""]
    assert list(inventory["owner"]) == ["Retail Credit Analytics"] * 2
    assert list(inventory["review"]) == ["ok", "ok"]
    spells = frame_with(at, "live from (UTC)")
    assert list(spells["version"]) == ["1.0"]
    assert list(spells["until"]) == ["still live"]
    assert len(at.get("plotly_chart")) == 1
    text = texts(at)
    assert "german-credit@2026-10 (train split, seed 11)" in text  # lineage of 1.1
    assert "a71d09b" in text
    assert not [b for b in at.button if b.label != "Sign out"]


def test_overdue_review_is_flagged(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:  # test setup: pretend the review date has passed
        con.execute(
            "UPDATE model_versions SET next_review_date = DATE '2020-01-31' "
            "WHERE model_version = '1.0'"
        )
    at = run_page(demo_copy, "registry", user="vic")
    assert list(frame_with(at, "risk tier")["review"]) == ["⚠ overdue", "ok"]
    assert [w.value for w in at.warning] == [
        "Review overdue: credit-risk 1.0. Review the model and record a new date."
    ]


def test_timeline_after_promotion_and_rollback(demo_copy: Store) -> None:
    governance.override(demo_copy, User("adam", "admin"), "credit-risk", "1.1", "Accepted.")
    governance.approve(demo_copy, User("rita", "approver"), "credit-risk", "1.1", "Better.")
    governance.rollback(demo_copy, User("omar", "approver"), "credit-risk", "Complaints.")
    at = run_page(demo_copy, "registry", user="vic")
    spells = frame_with(at, "live from (UTC)")
    assert list(spells["version"]) == ["1.0", "1.1", "1.0"]
    assert list(spells["until"]) == ["archive by rita", "rollback by omar", "still live"]
    requests = frame_with(at, "request")
    assert list(requests["state"]) == ["approved", "approved"]


def test_empty_store(store: Store) -> None:
    at = run_page(store, "registry", user="vic")
    assert not at.exception
    assert "No model is registered yet. Register one with `vigil register`." in [
        i.value for i in at.info
    ]
