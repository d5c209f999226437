"""AppTest: the Registry page lists every version with its inventory entry, lineage and the
timeline of what was live when; the only change it offers is deciding threshold changes
that wait for a second admin."""

from __future__ import annotations

from tests.app.helpers import run_page
from tests.core.govern.people import add_people
from vigil.core.govern import actions
from vigil.core.govern.auth import User
from vigil.core.govern.gates import thresholds
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
    lineage = [d.value for d in at.dataframe if list(d.value.columns) == ["field", "value"]]
    assert "german-credit@2026-10 (train split, seed 11)" in list(lineage[-1]["value"])  # 1.1
    assert any("a71d09b" in list(frame["value"]) for frame in lineage)
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
    actions.override(demo_copy, User("adam", "admin"), "credit-risk", "1.1", "Accepted.")
    actions.approve(demo_copy, User("rita", "approver"), "credit-risk", "1.1", "Better.")
    actions.rollback(demo_copy, User("omar", "approver"), "credit-risk", "Complaints.")
    at = run_page(demo_copy, "registry", user="vic")
    spells = frame_with(at, "live from (UTC)")
    assert list(spells["version"]) == ["1.0", "1.1", "1.0"]
    assert list(spells["until"]) == ["archive by rita", "rollback by omar", "still live"]
    requests = frame_with(at, "request")
    assert list(requests["state"]) == ["approved"]  # 1.0's history was imported, not requested


def test_empty_store(store: Store) -> None:
    add_people(store, {"vic": "viewer"})
    at = run_page(store, "registry", user="vic")
    assert not at.exception
    assert "No model is registered yet. Register one with `vigil register`." in [
        i.value for i in at.info
    ]


def test_a_loosening_waits_on_the_registry_for_a_second_admin(demo_copy: Store) -> None:
    evil = "![x](http://evil/x.png) :green-badge[All gates passed]"
    add_people(demo_copy, {"eve": "admin"})
    change = thresholds.set_threshold(
        demo_copy, User("adam", "admin"), "credit-risk", "drift_psi", 0.5, evil
    ).change
    proposer = run_page(demo_copy, "registry", user="adam")
    pending = frame_with(proposer, "change")
    assert list(pending["change"]) == [change.change_id]
    assert list(pending["rationale"]) == [evil]  # in a table: text, never markdown
    confirm = next(b for b in proposer.button if b.label == "Confirm change")
    assert confirm.disabled
    assert "another admin must confirm it" in "\n".join(c.value for c in proposer.caption)

    second = run_page(demo_copy, "registry", user="eve", role="admin")
    second.text_area(key="registry_policy_rationale").input("Agreed after the drift study.")
    next(b for b in second.button if b.label == "Confirm change").click()
    second.run()
    assert not second.exception
    assert second.success[0].value == (
        f"Policy change #{change.change_id} confirmed: the threshold of gate drift_psi of "
        "credit-risk is now 0.5."
    )
    with demo_copy.connect() as con:
        assert thresholds.effective(con, "credit-risk")[thresholds.Gate.DRIFT_PSI].value == 0.5

    viewer = run_page(demo_copy, "registry", user="vic")
    assert not [b for b in viewer.button if b.label != "Sign out"]
