"""AppTest: the Inventory page lists every model's entry, lets each role edit only its fields
(audited), shows the change history, and builds the evidence pack with download buttons."""

from __future__ import annotations

from tests.app.helpers import run_page, texts
from tests.core.govern.people import add_people
from vigil.core.evidence import inventory
from vigil.core.govern import audit
from vigil.core.store.connection import Store

MODEL = "credit-risk"


def _entry(at) -> dict[str, str]:
    frame = next(d.value for d in at.dataframe if list(d.value.columns) == ["field", "value"])
    return dict(zip(frame["field"], frame["value"], strict=True))


def test_viewer_reads_the_entry_and_builds_the_pack(demo_store: Store) -> None:
    at = run_page(demo_store, "inventory", user="vic")
    assert not at.exception, at.exception
    assert at.title[0].value == "Model inventory"
    overview = at.dataframe[0].value
    assert list(overview["model"]) == [MODEL]
    assert list(overview["tier"]) == ["high"] and list(overview["recorded"]) == ["from metadata"]
    entry = _entry(at)
    expected = inventory.entry(demo_store, MODEL)
    assert entry["Owner"] == expected.owner and entry["Limitations"] == expected.limitations
    assert "Viewers read the inventory; analysts, approvers and admins edit it." in texts(at)
    at.button(key="pack_build").click()
    at.run(timeout=120)
    assert not at.exception, at.exception
    with demo_store.connect() as con:
        head, records = con.execute(
            "SELECT hash, seq FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert f"Audit chain checkpoint: {records} records, head hash {head}." in texts(at)
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Download evidence pack (PDF)", "Download bundle (JSON)"]


def test_analyst_edits_documentation_fields_only(demo_copy: Store) -> None:
    at = run_page(demo_copy, "inventory", user="dana")
    assert not at.exception, at.exception
    assert at.selectbox(key="inventory_field_materiality_tier").disabled
    assert at.text_input(key="inventory_field_validator").disabled
    assert not at.text_area(key="inventory_field_limitations").disabled
    at.text_area(key="inventory_field_limitations").input("Not for business loans. **bold?**")
    at.text_area(key="inventory_why").input("Wording agreed with validation.")
    next(b for b in at.button if b.label == "Save entry").click()
    at.run()
    assert not at.exception, at.exception
    assert "Inventory entry of credit-risk saved." in [s.value for s in at.success]
    assert _entry(at)["Limitations"] == "Not for business loans. **bold?**"  # as text
    history = next(d.value for d in at.dataframe if "rationale" in d.value.columns)
    assert list(history["rationale"]) == ["Wording agreed with validation."]
    with demo_copy.connect() as con:
        [record] = audit.query(con, audit.AuditFilter(action="update_inventory"))
    assert record["actor"] == "dana"
    assert set(record["evidence"]["changes"]) == {"limitations"}


def test_approver_cannot_name_a_developer_as_validator(demo_copy: Store) -> None:
    at = run_page(demo_copy, "inventory", user="rita")
    assert not at.text_input(key="inventory_field_validator").disabled
    at.text_input(key="inventory_field_validator").input("dana")
    at.text_area(key="inventory_why").input("Validator named.")
    next(b for b in at.button if b.label == "Save entry").click()
    at.run()
    assert [e.value for e in at.error] == [
        "dana registered a version of credit-risk or asked for its promotion, so cannot be its "
        "independent validator; name someone outside its development."
    ]
    assert not inventory.entry(demo_copy, MODEL).recorded


def test_empty_store(store: Store) -> None:
    add_people(store, {"vic": "viewer"})
    at = run_page(store, "inventory", user="vic")
    assert not at.exception
    assert "No model is registered yet. Register one with `vigil register`." in [
        i.value for i in at.info
    ]
