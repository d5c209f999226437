"""Done when: on the demo, a high finding blocks approval of the candidate until a second
person closes it; the gate names the finding, and an override recorded before the finding
was opened does not cover it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from vigil.core.errors import VigilError
from vigil.core.evidence import finding_actions
from vigil.core.evidence.finding_actions import FourEyesFindingError
from vigil.core.govern import actions
from vigil.core.govern.auth import User
from vigil.core.govern.decisions import GateFailedError
from vigil.core.govern.gates.checks import check_gates
from vigil.core.govern.gates.specs import Gate
from vigil.core.store.connection import Store

MODEL, CANDIDATE = "credit-risk", "1.1"
DANA, RITA = User("dana", "analyst"), User("rita", "approver")
OMAR, ADAM = User("omar", "approver"), User("adam", "admin")


def test_a_high_finding_blocks_approval_until_a_second_person_closes_it(
    demo_copy: Store,
) -> None:
    failing = [r.gate for r in check_gates(demo_copy, MODEL, CANDIDATE).results if not r.passed]
    if failing:  # the demo's own failing gates, accepted before the finding exists
        actions.override(demo_copy, ADAM, MODEL, CANDIDATE, "Drift accepted: 1.1 saw October.")
    finding = finding_actions.open_finding(
        demo_copy,
        RITA,
        MODEL,
        title="Under-25s approved less often than validated",
        description="Approval rate ratio 0.75 for applicants under 25 in November.",
        severity="high",
        source="validation",
        owner="Retail Credit Analytics",
        remediation_plan="Recalibrate and re-run the fairness review.",
        due_date=dt.date(2099, 1, 31),
    )
    gate = check_gates(demo_copy, MODEL, CANDIDATE).result(Gate.FINDINGS)
    assert gate.outcome == "fail"
    assert f"#{finding.finding_id}" in gate.detail and "rita" not in gate.detail
    with pytest.raises(GateFailedError):
        actions.approve(demo_copy, OMAR, MODEL, CANDIDATE, "Looks good to me.")
    with pytest.raises(VigilError, match="No failed gate needs an override"):
        actions.override(demo_copy, ADAM, MODEL, CANDIDATE, "Accept the finding too.")
    with demo_copy.transaction() as con:  # even an override naming the gate does not lift it
        con.execute(
            "UPDATE promotion_requests SET override_gates = ? WHERE state = 'pending'",
            [json.dumps([*(str(g) for g in failing), "findings"])],
        )
    with pytest.raises(GateFailedError):
        actions.approve(demo_copy, OMAR, MODEL, CANDIDATE, "The override covers it.")
    with demo_copy.transaction() as con:
        con.execute(
            "UPDATE promotion_requests SET override_gates = ? WHERE state = 'pending'",
            [json.dumps([str(g) for g in failing])],
        )
    finding_actions.propose_closure(
        demo_copy, DANA, finding.finding_id, "Recalibrated; ratio 0.91 on the November holdout."
    )
    with pytest.raises(GateFailedError):  # a proposal is not a closure
        actions.approve(demo_copy, OMAR, MODEL, CANDIDATE, "Looks good to me.")
    with pytest.raises(FourEyesFindingError):  # the person who opened it cannot close it
        finding_actions.close_finding(demo_copy, RITA, finding.finding_id, "Fixed.")
    finding_actions.close_finding(demo_copy, OMAR, finding.finding_id, "Holdout report checked.")
    assert check_gates(demo_copy, MODEL, CANDIDATE).result(Gate.FINDINGS).outcome == "pass"
    outcome = actions.approve(demo_copy, RITA, MODEL, CANDIDATE, "Finding closed; approved.")
    assert outcome.status == "production"
