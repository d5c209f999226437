"""Findings register: opening, the promotion block of open high findings, and closure with
evidence and a second person, attacked by the same person, a viewer, an analyst and direct
database edits."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.core.errors import PermissionDenied
from vigil.core.evidence import finding_actions as actions
from vigil.core.evidence import findings
from vigil.core.evidence.common import EvidenceError, StaleEditError
from vigil.core.evidence.finding_actions import FourEyesFindingError
from vigil.core.evidence.findings import FindingStatus, Severity
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
DANA, RITA, OMAR = User("dana", "analyst"), User("rita", "approver"), User("omar", "approver")
ADAM, VIC = User("adam", "admin"), User("vic", "viewer")
DUE = dt.date(2099, 1, 31)
EVIDENCE = "Recalibrated on November data; ECE 0.012 on the holdout (report VAL-118)."


def _open(store: Store, user: User = DANA, severity: str = "high") -> findings.Finding:
    return actions.open_finding(
        store,
        user,
        MODEL,
        title="Calibration drift for applicants under 25",
        description="Observed default rate 0.31 against 0.22 predicted in October.",
        severity=severity,
        source="monitoring",
        owner="Retail Credit Analytics",
        remediation_plan="Recalibrate and re-run the fairness review.",
        due_date=DUE,
        model_version="1.0",
    )


def _blocking(store: Store) -> list[int]:
    with store.connect() as con:
        return [f.finding_id for f in findings.blocking_findings(con, MODEL)]


def test_open_high_finding_blocks_until_closed_by_a_second_person(demo_copy: Store) -> None:
    finding = _open(demo_copy)
    assert finding.status is FindingStatus.OPEN and finding.opened_by == "dana"
    assert _blocking(demo_copy) == [finding.finding_id]
    proposed = actions.propose_closure(demo_copy, DANA, finding.finding_id, EVIDENCE)
    assert proposed.status is FindingStatus.CLOSURE_PROPOSED
    assert _blocking(demo_copy) == [finding.finding_id]  # a proposal does not lift the block
    closed = actions.close_finding(demo_copy, RITA, finding.finding_id, "Evidence checked.")
    assert closed.status is FindingStatus.CLOSED and closed.closed_by == "rita"
    assert _blocking(demo_copy) == []
    with demo_copy.connect() as con:
        logged = [
            (r["action"], r["actor"])
            for r in audit.query(con, audit.AuditFilter(model_name=MODEL))
            if "finding" in r["action"]
        ]
        assert findings.finding_mismatches(con) == []
        assert audit.verify(con).valid
    assert logged == [
        ("open_finding", "dana"),
        ("propose_finding_closure", "dana"),
        ("close_finding", "rita"),
    ]
    with pytest.raises(EvidenceError, match="closed findings stay closed"):
        actions.update_finding(demo_copy, RITA, finding.finding_id, {"owner": "X Team"}, "Late.")


def test_medium_finding_does_not_block(demo_copy: Store) -> None:
    _open(demo_copy, severity="medium")
    assert _blocking(demo_copy) == []


def test_the_opener_cannot_close_even_as_an_approver(demo_copy: Store) -> None:
    finding = _open(demo_copy, RITA)
    actions.propose_closure(demo_copy, RITA, finding.finding_id, EVIDENCE)
    with pytest.raises(FourEyesFindingError, match="rita opened finding"):
        actions.close_finding(demo_copy, RITA, finding.finding_id, "All good.")
    assert not actions.can_close(RITA, findings.list_findings(demo_copy)[0]).allowed
    actions.close_finding(demo_copy, OMAR, finding.finding_id, "Checked the report.")
    assert _blocking(demo_copy) == []


def test_the_proposer_cannot_confirm_their_own_proposal(demo_copy: Store) -> None:
    finding = _open(demo_copy, RITA)
    actions.propose_closure(demo_copy, OMAR, finding.finding_id, EVIDENCE)
    with pytest.raises(FourEyesFindingError, match="omar proposed closing"):
        actions.close_finding(demo_copy, OMAR, finding.finding_id, "Mine is fine.")
    with pytest.raises(FourEyesFindingError, match="rita opened"):
        actions.close_finding(demo_copy, RITA, finding.finding_id, "Fine.")
    assert actions.can_close(ADAM, findings.list_findings(demo_copy)[0]).allowed
    actions.close_finding(demo_copy, ADAM, finding.finding_id, "Third person confirms.")


def test_roles_evidence_and_order_are_enforced(demo_copy: Store) -> None:
    with pytest.raises(PermissionDenied):
        _open(demo_copy, VIC)
    finding = _open(demo_copy)
    with pytest.raises(EvidenceError, match="no proposed closure"):
        actions.close_finding(demo_copy, RITA, finding.finding_id, "Looks fixed.")
    with pytest.raises(PermissionDenied):
        actions.propose_closure(demo_copy, VIC, finding.finding_id, EVIDENCE)
    with pytest.raises(EvidenceError, match="Evidence of the remediation is required"):
        actions.propose_closure(demo_copy, DANA, finding.finding_id, "done")
    actions.propose_closure(demo_copy, DANA, finding.finding_id, EVIDENCE)
    with pytest.raises(PermissionDenied, match="dave is an analyst"):
        actions.close_finding(demo_copy, User("dave", "analyst"), finding.finding_id, "Fine.")
    with pytest.raises(PermissionDenied):
        actions.close_finding(demo_copy, VIC, finding.finding_id, "Fine by me.")
    with pytest.raises(StaleEditError):
        actions.close_finding(
            demo_copy, RITA, finding.finding_id, "Checked.", expected_row_version=1
        )
    actions.reject_closure(demo_copy, OMAR, finding.finding_id, "The report covers 1.1 only.")
    reopened = findings.list_findings(demo_copy)[0]
    assert reopened.status is FindingStatus.OPEN and reopened.closure_evidence is None
    assert _blocking(demo_copy) == [finding.finding_id]


def test_lowering_a_high_severity_needs_a_second_person(demo_copy: Store) -> None:
    finding = _open(demo_copy, RITA)
    with pytest.raises(FourEyesFindingError):
        actions.update_finding(
            demo_copy, RITA, finding.finding_id, {"severity": "low"}, "Overstated."
        )
    with pytest.raises(PermissionDenied):
        actions.update_finding(
            demo_copy, DANA, finding.finding_id, {"severity": "low"}, "Overstated."
        )
    updated = actions.update_finding(
        demo_copy, DANA, finding.finding_id, {"remediation_plan": "Retrain on 2026 data."}, "Plan."
    )
    assert updated.severity is Severity.HIGH and updated.row_version == 2
    actions.update_finding(demo_copy, OMAR, finding.finding_id, {"severity": "medium"}, "Minor.")
    assert _blocking(demo_copy) == []


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE findings SET status = 'closed', closed_by = 'omar'",
        "UPDATE findings SET severity = 'low'",
        "DELETE FROM findings",
    ],
)
def test_direct_database_edits_do_not_lift_the_block(demo_copy: Store, tamper: str) -> None:
    finding = _open(demo_copy)
    with demo_copy.transaction() as con:  # an edit behind Vigil's back
        con.execute(tamper)
    assert _blocking(demo_copy) == [finding.finding_id]
    with demo_copy.connect() as con:
        [problem] = findings.finding_mismatches(con)
    assert problem.startswith(f"Finding #{finding.finding_id}")
