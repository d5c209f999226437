"""Policy changes are decisions: one audited table of thresholds, a rationale for every change,
and a change that loosens a gate waits for a second admin who is not a sock puppet."""

from __future__ import annotations

import contextlib
import json
import threading

import duckdb
import pytest

from tests.cli.helpers import vigil
from tests.conftest import DEMO_PASSWORD
from tests.core.govern.people import add_people
from vigil.core.errors import PermissionDenied, VigilError
from vigil.core.govern import actions, audit, users
from vigil.core.govern.auth import User
from vigil.core.govern.decisions import Blocked, FourEyesError, GateFailedError
from vigil.core.govern.gates import checks, thresholds
from vigil.core.govern.policy import changes as policy
from vigil.core.govern.policy.changes import ChangeState
from vigil.core.govern.policy.thresholds import PolicyKind, ThresholdKey, applied, stored
from vigil.core.monitor.drift import settings as drift_settings
from vigil.core.store.connection import Store
from vigil.core.store.schema import (
    m001_foundation,
    m002_profiles,
    m003_alerts,
    m004_governance,
    m005_policy,
)

MODEL = "credit-risk"
ADAM = User("adam", "admin")
EVE = User("eve", "admin")
RITA = User("rita", "approver")


def drift_psi(store: Store) -> thresholds.Limit:
    with store.connect() as con:
        return thresholds.effective(con, MODEL)[thresholds.Gate.DRIFT_PSI]


def last_record(store: Store) -> dict:
    with store.connect() as con:
        return audit.query(con)[-1]


@pytest.fixture
def two_admins(demo_copy: Store) -> Store:
    """The demo plus eve, a second admin the store has had from the start (not made by adam)."""
    add_people(demo_copy, {"eve": "admin", "frank": "admin"})
    return demo_copy


def test_a_tightening_applies_at_once_with_its_rationale(demo_copy: Store) -> None:
    outcome = thresholds.set_threshold(
        demo_copy, ADAM, MODEL, "drift_psi", 0.2, "Stricter after the October shift."
    )
    assert outcome.change.state is ChangeState.APPLIED and not outcome.change.loosens
    assert outcome.message == (
        "The threshold of gate drift_psi of credit-risk is now 0.2 (was 0.25)."
    )
    assert drift_psi(demo_copy) == thresholds.Limit(0.2, True, 0.2)
    record = last_record(demo_copy)
    assert (record["action"], record["actor"], record["rationale"]) == (
        "set_gate_threshold",
        "adam",
        "Stricter after the October shift.",
    )
    assert (record["evidence"]["gate"], record["evidence"]["new"]) == ("drift_psi", 0.2)
    assert outcome.change.proposal_seq == record["seq"]


def test_every_change_needs_a_rationale(demo_copy: Store) -> None:
    with pytest.raises(VigilError) as err:
        thresholds.set_threshold(demo_copy, ADAM, MODEL, "drift_psi", 0.2, "  ")
    assert str(err.value) == (
        "A rationale is required to change the threshold of gate drift_psi of credit-risk; "
        "say why in a sentence or two."
    )
    with pytest.raises(PermissionDenied):
        thresholds.set_threshold(demo_copy, RITA, MODEL, "drift_psi", 0.2, "I want it.")
    assert drift_psi(demo_copy).value == 0.25


def test_one_admin_cannot_loosen_a_gate_alone(demo_copy: Store) -> None:
    """The attack of issue 9: `vigil gate-threshold --value 5` by one admin let 1.1 through."""
    outcome = thresholds.set_threshold(
        demo_copy, ADAM, MODEL, "drift_psi", 5, "Drift is expected this quarter."
    )
    assert outcome.change.state is ChangeState.PENDING and outcome.change.loosens
    assert outcome.message.endswith(
        f"waits for a second admin to confirm it (vigil policy confirm {outcome.change.change_id})."
    )
    assert drift_psi(demo_copy).value == 0.25  # nothing changed yet
    assert "drift_psi" in checks.check_gates(demo_copy, MODEL, "1.1").failed
    with pytest.raises(GateFailedError):
        actions.approve(demo_copy, RITA, MODEL, "1.1", "The gate was raised.")
    with pytest.raises(FourEyesError, match="another admin must confirm it"):
        policy.confirm(demo_copy, ADAM, outcome.change.change_id, "Confirming my own.")
    assert last_record(demo_copy)["action"] == "propose_gate_threshold"


def test_a_second_admin_confirms_and_the_gate_uses_it(two_admins: Store) -> None:
    change = thresholds.set_threshold(
        two_admins, ADAM, MODEL, "drift_psi", 0.5, "Drift is the October shift."
    ).change
    decision = policy.can_confirm(two_admins, EVE, change.change_id)
    assert decision.allowed, decision.reason
    outcome = policy.confirm(two_admins, EVE, change.change_id, "Agreed: seasonal shift.")
    assert outcome.change.state is ChangeState.APPLIED
    assert (outcome.change.decided_by, outcome.change.decision_rationale) == (
        "eve",
        "Agreed: seasonal shift.",
    )
    assert drift_psi(two_admins) == thresholds.Limit(0.5, True, 0.5)
    drift = checks.check_gates(two_admins, MODEL, "1.1").result(thresholds.Gate.DRIFT_PSI)
    assert (drift.outcome, drift.threshold) == ("pass", 0.5)
    record = last_record(two_admins)
    assert (record["action"], record["actor"]) == ("set_gate_threshold", "eve")
    assert record["evidence"]["proposed_by"] == "adam"
    assert record["evidence"]["confirmed_by"] == "eve"
    with two_admins.connect() as con:
        row = stored(con, MODEL, PolicyKind.GATE)[0]
    assert (row.set_by, row.confirmed_by, row.audit_seq, row.backed) == (
        "adam",
        "eve",
        record["seq"],
        True,
    )
    with pytest.raises(VigilError, match="is applied"):
        policy.confirm(two_admins, EVE, change.change_id, "Twice.")


def test_a_sock_puppet_admin_cannot_confirm(demo_copy: Store, monkeypatch) -> None:
    users.add(demo_copy, ADAM, "sock", "admin", "sock-password", "Backup admin.")
    change = thresholds.set_threshold(demo_copy, ADAM, MODEL, "drift_psi", 5, "Let it pass.").change
    sock = User("sock", "admin")
    decision = policy.can_confirm(demo_copy, sock, change.change_id)
    assert (decision.allowed, decision.blocked) == (False, Blocked.NEW_APPROVER)
    assert decision.reason.startswith("Four-eyes: sock got its rights from adam (audit record ")
    with pytest.raises(FourEyesError):
        policy.confirm(demo_copy, sock, change.change_id, "Confirmed.")
    assert drift_psi(demo_copy).value == 0.25
    monkeypatch.setenv("VIGIL_NEW_APPROVER_HOURS", "0")  # the grant is no longer recent
    assert policy.can_confirm(demo_copy, sock, change.change_id).allowed


def test_reject_keeps_the_threshold_and_the_proposer_may_withdraw(two_admins: Store) -> None:
    first = thresholds.set_threshold(two_admins, ADAM, MODEL, "drift_psi", 0.4, "Try.").change
    outcome = policy.reject(two_admins, EVE, first.change_id, "Not without a drift study.")
    assert outcome.change.state is ChangeState.REJECTED
    second = thresholds.set_threshold(two_admins, ADAM, MODEL, "drift_psi", 0.4, "Again.").change
    assert policy.reject(two_admins, ADAM, second.change_id, "Withdrawn.").change.decided_by == (
        "adam"
    )
    with pytest.raises(PermissionDenied):
        policy.reject(two_admins, RITA, second.change_id, "Not mine.")
    assert drift_psi(two_admins).value == 0.25
    assert policy.pending_changes(two_admins) == ()


def test_confirm_refused_when_the_threshold_moved_since(two_admins: Store) -> None:
    loose = thresholds.set_threshold(two_admins, ADAM, MODEL, "drift_psi", 0.5, "Looser.").change
    thresholds.set_threshold(two_admins, EVE, MODEL, "drift_psi", 0.2, "Stricter meanwhile.")
    with pytest.raises(VigilError, match="changed since policy change"):
        policy.confirm(two_admins, EVE, loose.change_id, "ok")
    assert drift_psi(two_admins).value == 0.2


def test_two_admins_confirming_at_once_apply_it_once(two_admins: Store) -> None:
    change = thresholds.set_threshold(two_admins, ADAM, MODEL, "drift_psi", 0.5, "Loosen.").change
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def act(user: User) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=30)
        try:
            results[user.username] = policy.confirm(two_admins, user, change.change_id, "Yes.")
        except Exception as err:
            results[user.username] = err

    threads = [threading.Thread(target=act, args=(u,)) for u in (EVE, User("frank", "admin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    won = [r for r in results.values() if isinstance(r, policy.ChangeOutcome)]
    lost = [r for r in results.values() if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], VigilError) and not isinstance(lost[0], duckdb.Error)
    with two_admins.connect() as con:
        applied_records = audit.query(con, audit.AuditFilter(action="set_gate_threshold"))
    assert len(applied_records) == 1


def test_a_threshold_written_behind_vigils_back_fails_its_gate(demo_copy: Store) -> None:
    """A direct database edit that loosens a gate makes the gate fail instead of pass."""
    with demo_copy.transaction() as con:
        con.execute(
            "INSERT INTO policy_thresholds VALUES ('credit-risk', 'gate', 'drift_psi', '*', 5.0, "
            "'adam', NULL, now()::TIMESTAMP, NULL)"
        )
    limit = drift_psi(demo_copy)
    assert (limit.backed, limit.stored) == (False, 5.0)
    result = checks.check_gates(demo_copy, MODEL, "1.1").result(thresholds.Gate.DRIFT_PSI)
    assert result.outcome == "fail"
    assert "not the one the audit log records: it was changed outside Vigil" in result.detail
    # an edit of a value set through Vigil is caught the same way
    thresholds.set_threshold(demo_copy, ADAM, MODEL, "fairness_parity", 0.9, "Stricter.")
    with demo_copy.transaction() as con:
        con.execute("UPDATE policy_thresholds SET threshold = 0.1 WHERE name = 'fairness_parity'")
    fairness = checks.check_gates(demo_copy, MODEL, "1.1").result(thresholds.Gate.FAIRNESS_PARITY)
    assert fairness.outcome == "fail" and fairness.threshold == 0.1


def test_an_audit_record_says_what_it_set() -> None:
    assert applied("set_gate_threshold", "m", {"gate": "drift_psi", "new": 0.3}) == (
        ThresholdKey("m", PolicyKind.GATE, "drift_psi"),
        0.3,
    )
    assert applied("reset_drift_threshold", "m", {"feature": "age", "test": "psi"}) == (
        ThresholdKey("m", PolicyKind.DRIFT, "psi", "age"),
        None,
    )
    assert applied("set_alert_threshold", "m", {"rule_id": 7, "threshold": 2}) == (
        ThresholdKey("m", PolicyKind.ALERT, "7"),
        2.0,
    )
    assert applied("propose_gate_threshold", "m", {"gate": "drift_psi", "new": 9}) is None


def test_migration_moves_old_thresholds_with_their_records() -> None:
    con = duckdb.connect()
    for module in (m001_foundation, m002_profiles, m003_alerts, m004_governance):
        con.execute(module.SQL)
    con.execute("INSERT INTO gate_thresholds VALUES ('m', 'drift_psi', 0.3, 'adam', now())")
    con.execute("INSERT INTO drift_settings VALUES ('m', 'age', 'psi', 0.2)")
    for seq, action, evidence in (
        (1, "set_gate_threshold", {"gate": "drift_psi", "old": 0.25, "new": 0.3}),
        (2, "set_drift_threshold", {"feature": "age", "test": "psi", "threshold": 0.2}),
    ):
        con.execute(
            "INSERT INTO audit_log VALUES (?, now(), 'adam', 'admin', ?, 'm', NULL, NULL, NULL, "
            "NULL, 'why', ?, 'prev', 'hash')",
            [seq, action, json.dumps(evidence)],
        )
    con.execute(m005_policy.SQL)
    gates_found = stored(con, "m", PolicyKind.GATE)
    drift_found = stored(con, "m", PolicyKind.DRIFT)
    assert [(t.key.name, t.value, t.audit_seq, t.backed) for t in gates_found] == [
        ("drift_psi", 0.3, 1, True)
    ]
    assert [(t.key.feature, t.key.name, t.value, t.audit_seq, t.backed) for t in drift_found] == [
        ("age", "psi", 0.2, 2, True)
    ]
    assert con.execute("SELECT * FROM drift_settings").fetchall() == [("m", "age", "psi", 0.2)]
    with pytest.raises(duckdb.Error):  # the old tables are read-only views now
        con.execute("INSERT INTO gate_thresholds VALUES ('m', 'x', 1, 'a', now())")


def test_the_policy_path_is_refused_to_a_stale_admin(two_admins: Store) -> None:
    users.set_role(two_admins, EVE, "adam", "viewer", "Moved to audit.")
    with pytest.raises(PermissionDenied, match="changed from admin to viewer"):
        thresholds.set_threshold(two_admins, ADAM, MODEL, "drift_psi", 0.2, "Old session.")
    assert drift_psi(two_admins).value == 0.25
    change = thresholds.set_threshold(two_admins, EVE, MODEL, "drift_psi", 0.5, "Loosen.").change
    with pytest.raises(PermissionDenied):
        policy.confirm(two_admins, ADAM, change.change_id, "Stale admin confirms.")


# --- drift thresholds go through the same path -------------------------------------------


def test_drift_thresholds_loosened_by_an_analyst_wait_for_an_admin(demo_copy: Store) -> None:
    dana = User("dana", "analyst")
    with demo_copy.connect() as con:
        assert drift_settings.load_settings(con, MODEL).overrides == {}
    tighter = drift_settings.set_threshold(
        demo_copy, dana, MODEL, test="psi", threshold=0.05, rationale="Catch small shifts."
    )
    assert tighter.change.state is ChangeState.APPLIED
    looser = drift_settings.set_threshold(
        demo_copy, dana, MODEL, test="psi", threshold=0.3, rationale="Too many alarms."
    )
    assert looser.change.state is ChangeState.PENDING and looser.change.loosens
    alpha = drift_settings.set_threshold(
        demo_copy, dana, MODEL, test="ks", threshold=0.001, rationale="Fewer false alarms."
    )
    assert alpha.change.loosens  # a smaller alpha flags less drift
    with demo_copy.connect() as con:
        assert drift_settings.load_settings(con, MODEL).overrides == {("*", "psi"): 0.05}
    policy.confirm(demo_copy, ADAM, looser.change.change_id, "Alarm fatigue is real.")
    with demo_copy.connect() as con:
        assert drift_settings.load_settings(con, MODEL).overrides == {("*", "psi"): 0.3}
    with pytest.raises(VigilError, match="rationale is required"):
        drift_settings.set_threshold(demo_copy, dana, MODEL, test="psi", threshold=0.1)


def test_a_drift_threshold_written_behind_vigils_back_is_ignored(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute(
            "INSERT INTO policy_thresholds VALUES ('credit-risk', 'drift', 'dataset_share', '*', "
            "0.99, 'dana', NULL, now()::TIMESTAMP, NULL)"
        )
        assert drift_settings.load_settings(con, MODEL).dataset_share() == (
            drift_settings.DATASET_SHARE
        )


def test_the_command_line_needs_a_rationale_and_a_second_admin(demo_copy: Store) -> None:
    env = {"VIGIL_PASSWORD": DEMO_PASSWORD}
    base = ("gate-threshold", "--model", MODEL, "--gate", "drift_psi", "--value", "5")
    missing = vigil(demo_copy.home, *base, "--user", "adam", env=env)
    assert missing.returncode == 2 and "--rationale" in missing.stderr
    asked = vigil(
        demo_copy.home, *base, "--rationale", "Let it through.", "--user", "adam", env=env
    )
    assert asked.returncode == 0, asked.stderr
    assert "waits for a second admin to confirm it (vigil policy confirm 1)" in asked.stdout
    listed = vigil(demo_copy.home, "policy", "list")
    assert "#1 pending  gate drift_psi of credit-risk: default → 5 (loosens), proposed by adam" in (
        listed.stdout
    )
    own = vigil(
        demo_copy.home, "policy", "confirm", "1", "--rationale", "Me again.", "--user", "adam",
        env=env,
    )  # fmt: skip
    assert own.returncode == 1
    assert "another admin must confirm it" in own.stderr
    assert drift_psi(demo_copy).value == 0.25
