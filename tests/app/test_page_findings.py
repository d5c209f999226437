"""AppTest: the Findings page opens a finding, shows that an open high finding blocks
promotion, and closes it only through a second person; viewers change nothing."""

from __future__ import annotations

from tests.app.helpers import run_page, texts
from vigil.core.evidence import findings
from vigil.core.evidence.findings import FindingStatus
from vigil.core.store.connection import Store

MODEL = "credit-risk"
EVIDENCE = "Recalibrated on November data; ECE 0.012 on the holdout (VAL-118)."


def _open(store: Store) -> None:
    at = run_page(store, "findings", user="dana")
    at.text_input(key="findings_new_title").input("Calibration off for under-25s")
    at.text_area(key="findings_new_description").input("Observed 0.31, predicted 0.22.")
    at.text_input(key="findings_new_owner").input("Retail Credit Analytics")
    at.text_area(key="findings_new_plan").input("Recalibrate on recent data.")
    next(b for b in at.button if b.label == "Open finding").click()
    at.run()
    assert not at.exception, at.exception
    assert "Finding opened." in [s.value for s in at.success]


def test_open_propose_and_close_by_a_second_person(demo_copy: Store) -> None:
    _open(demo_copy)
    [finding] = findings.list_findings(demo_copy, MODEL)
    assert finding.severity.value == "high" and finding.opened_by == "dana"
    at = run_page(demo_copy, "findings", user="omar")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Open high (block promotion)"] == "1"
    assert list(at.dataframe[0].value["blocks promotion"]) == ["yes"]
    at.text_area(key="findings_evidence").input(EVIDENCE)
    next(b for b in at.button if b.label == "Propose closure").click()
    at.run()
    assert "Closure proposed: a second person confirms it." in [s.value for s in at.success]
    assert "omar opened it or proposed its closure; a second person must confirm." in texts(at)
    assert not [b for b in at.button if b.label == "Confirm closure"]
    analyst = run_page(demo_copy, "findings", user="dana")
    assert "dana is an analyst; approvers and admins confirm closures." in texts(analyst)
    rita = run_page(demo_copy, "findings", user="rita")
    rita.text_input(key="findings_close_why").input("Report VAL-118 checked.")
    next(b for b in rita.button if b.label == "Confirm closure").click()
    rita.run()
    assert "Finding closed." in [s.value for s in rita.success]
    [closed] = findings.list_findings(demo_copy, MODEL)
    assert closed.status is FindingStatus.CLOSED and closed.closed_by == "rita"


def test_viewer_reads_only(demo_copy: Store) -> None:
    _open(demo_copy)
    at = run_page(demo_copy, "findings", user="vic")
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["title"]) == ["Calibration off for under-25s"]
    assert not at.get("form")
    assert not at.get("expander")


def test_empty_register(demo_store: Store) -> None:
    at = run_page(demo_store, "findings", user="vic")
    assert not at.exception
    assert "No finding matches." in [c.value for c in at.caption]
