"""Governance rules: roles, four-eyes, gates and overrides, atomicity, one champion, races."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.core.factories import write_inputs
from tests.core.govern.people import add_people
from vigil.core.alerts import records as alert_records
from vigil.core.contract import parse_metadata
from vigil.core.errors import PermissionDenied, RegistryError, VigilError
from vigil.core.govern import actions, audit, lifecycle, requests, retry, rules
from vigil.core.govern.auth import User
from vigil.core.govern.decisions import Blocked, Decision, FourEyesError, GateFailedError
from vigil.core.govern.gates import checks, specs, thresholds
from vigil.core.govern.policy import changes as policy
from vigil.core.govern.timeline import timeline
from vigil.core.monitor.performance.report import performance_report
from vigil.core.monitor.selection import Selection
from vigil.core.registry.versions import aliases, get_version, register_version
from vigil.core.store.connection import Store
from vigil.core.views.inventory import inventory

MODEL = "credit-risk"
DANA = User("dana", "analyst")
RITA = User("rita", "approver")
OMAR = User("omar", "approver")
ADAM = User("adam", "admin")
VIC = User("vic", "viewer")
DRIFT_OVERRIDE = (
    "Drift is the October shift in credit_amount and purpose; 1.1 was trained after it."
)


def state(store: Store) -> dict:
    """Everything a transition may touch, to compare before and after."""
    with store.connect() as con:
        return {
            "statuses": con.execute(
                "SELECT model_version, status FROM model_versions ORDER BY 1"
            ).fetchall(),
            "aliases": con.execute(
                "SELECT alias, model_version FROM aliases ORDER BY 1"
            ).fetchall(),
            "audit": con.execute("SELECT count(*), max(seq) FROM audit_log").fetchone(),
            "requests": con.execute(
                "SELECT request_id, state, row_version, override_by FROM promotion_requests "
                "ORDER BY 1"
            ).fetchall(),
            "gate_results": con.execute("SELECT count(*) FROM gate_results").fetchone()[0],
        }


def status(store: Store, version: str) -> str:
    with store.connect() as con:
        return get_version(con, MODEL, version).status


def champion(store: Store) -> str | None:
    with store.connect() as con:
        return aliases(con, MODEL).get("champion")


def records(store: Store) -> list[dict]:
    with store.connect() as con:
        return audit.query(con)


# --- the demo's starting point -------------------------------------------------------------


def test_demo_has_one_pending_request_by_dana(demo_store: Store) -> None:
    request = requests.get_request(demo_store, MODEL, "1.1")
    assert request is not None
    assert (request.state, request.requested_by, request.row_version) == ("pending", "dana", 1)
    assert champion(demo_store) == "1.0"


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [DANA, VIC])
def test_roles_that_may_not_decide(demo_store: Store, user: User) -> None:
    for check in (rules.can_approve, rules.can_reject):
        decision = check(demo_store, user, MODEL, "1.1")
        assert (decision.allowed, decision.blocked) == (False, "role")
    decision = rules.can_rollback(demo_store, user, MODEL)
    assert (decision.allowed, decision.blocked) == (False, "role")
    decision = rules.can_override(demo_store, user, MODEL, "1.1")
    assert (decision.allowed, decision.blocked) == (False, "role")
    article = "an" if user.role == "analyst" else "a"
    assert rules.can_approve(demo_store, user, MODEL, "1.1").reason == (
        f"{user.username} is {article} {user.role}; only approver, admin may approve promotions."
    )


@pytest.mark.parametrize(
    ("action", "args"),
    [
        (actions.approve, (MODEL, "1.1", "ok")),
        (actions.reject, (MODEL, "1.1", "no")),
        (actions.override, (MODEL, "1.1", "fine")),
        (actions.rollback, (MODEL, "undo")),
        (actions.request_promotion, (MODEL, "1.0", "again")),
    ],
)
def test_viewer_changes_nothing(demo_copy: Store, action, args) -> None:
    before = state(demo_copy)
    with pytest.raises(PermissionDenied):
        action(demo_copy, VIC, *args)
    assert state(demo_copy) == before


def test_analyst_may_request_but_not_decide(demo_copy: Store) -> None:
    with pytest.raises(PermissionDenied) as err:
        actions.approve(demo_copy, DANA, MODEL, "1.1", "mine is good")
    assert str(err.value) == "dana is an analyst; only approver, admin may approve promotions."
    actions.reject(demo_copy, OMAR, MODEL, "1.1", "Drift not explained yet.")
    decision = rules.can_request_promotion(demo_copy, DANA, MODEL, "1.1")
    assert decision.allowed
    outcome, report = actions.request_promotion(
        demo_copy, DANA, MODEL, "1.1", "Drift analysis attached."
    )
    assert status(demo_copy, "1.1") == "pending_approval"
    assert report.failed == ("fairness_live", "drift_psi", "robustness", "monotonic", "open_alerts")
    assert outcome.message == (
        "Promotion of credit-risk 1.1 requested (request #2); failed gates: Fairness on live "
        "traffic (four-fifths rule), Drift against "
        "production traffic (max PSI), Robustness on live traffic (decision flips), Declared "
        "monotonic relations on live traffic, No open critical alert on the candidate."
    )
    with demo_copy.connect() as con:
        stored = checks.saved_results(con, 2)
    assert [(r.phase, r.gate, r.outcome) for r in stored] == [
        ("request", r.gate, r.outcome) for r in report.results
    ]


def test_request_requires_a_requestable_status(demo_store: Store) -> None:
    decision = rules.can_request_promotion(demo_store, DANA, MODEL, "1.0")
    assert decision == Decision(
        False,
        "credit-risk 1.0 is Production; only a registered, rejected or rolled-back version "
        "can be put up for promotion.",
        Blocked.STATE,
    )


# --- four-eyes -------------------------------------------------------------------------------


def test_requester_cannot_decide_their_own_request(demo_copy: Store) -> None:
    actions.reject(demo_copy, OMAR, MODEL, "1.1", "Needs a drift analysis.")
    actions.request_promotion(demo_copy, RITA, MODEL, "1.1", "Drift analysis done.")
    for check, verb in ((rules.can_approve, "approve"), (rules.can_reject, "reject")):
        decision = check(demo_copy, RITA, MODEL, "1.1")
        assert decision == Decision(
            False,
            f"Four-eyes: you (rita) requested its promotion; someone else must {verb} "
            "credit-risk 1.1.",
            Blocked.FOUR_EYES,
        )
    with pytest.raises(FourEyesError):
        actions.reject(demo_copy, RITA, MODEL, "1.1", "changed my mind")
    assert rules.can_reject(demo_copy, OMAR, MODEL, "1.1").allowed


def test_registrant_cannot_approve(store: Store, tmp_path: Path) -> None:
    """adam registers and rita requests: adam (an admin) still may not approve."""
    add_people(store, {"adam": "admin", "rita": "approver"})
    meta_path, artifact, reference = write_inputs(tmp_path, "1")
    import json

    meta = parse_metadata(json.loads(meta_path.read_text()))
    register_version(
        store,
        meta,
        artifact=artifact,
        reference=reference,
        registered_by="adam",
        registered_by_role="admin",
    )
    actions.request_promotion(store, RITA, "toy", "1", "First toy model.")
    decision = rules.can_approve(store, ADAM, "toy", "1")
    assert decision.blocked == "four_eyes"
    assert decision.reason == (
        "Four-eyes: you (adam) registered this version; someone else must approve toy 1."
    )
    decision = rules.can_override(store, ADAM, "toy", "1")
    assert decision.blocked == "four_eyes"


def test_overriding_admin_cannot_also_approve(demo_copy: Store) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    decision = rules.can_approve(demo_copy, ADAM, MODEL, "1.1")
    assert decision == Decision(
        False,
        "Four-eyes: you (adam) overrode its failed gates; someone else must approve "
        "credit-risk 1.1.",
        Blocked.FOUR_EYES,
    )


# --- gates and overrides ---------------------------------------------------------------------


def test_failed_gate_blocks_approval(demo_copy: Store) -> None:
    before = state(demo_copy)
    decision = rules.can_approve(demo_copy, RITA, MODEL, "1.1")
    assert (decision.allowed, decision.blocked) == (False, "gates")
    worst = max(checks.check_gates(demo_copy, MODEL, "1.1").feature_psi, key=lambda p: p.psi)
    assert worst.feature == "credit_amount"
    assert decision.reason.startswith(
        "Gate check failed — Fairness on live traffic (four-fifths rule): On 7,"
    )
    assert (
        f"; Drift against production traffic (max PSI): max PSI {worst.psi:.3f} (credit_amount)"
        in decision.reason
    )
    assert ".." not in decision.reason
    assert decision.reason.endswith(
        "Approval is blocked unless an admin records an override with its rationale."
    )
    with pytest.raises(GateFailedError) as err:
        actions.approve(demo_copy, RITA, MODEL, "1.1", "Looks better.")
    assert str(err.value) == decision.reason
    assert state(demo_copy) == before


def test_only_admins_override(demo_copy: Store) -> None:
    with pytest.raises(PermissionDenied) as err:
        actions.override(demo_copy, RITA, MODEL, "1.1", "I accept the drift.")
    assert str(err.value) == "rita is an approver; only admin may override failed gates."


def test_override_then_approve_promotes_and_archives(demo_copy: Store) -> None:
    override = actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    request = requests.get_request(demo_copy, MODEL, "1.1")
    assert request.override_gates == (
        "drift_psi", "fairness_live", "monotonic", "open_alerts", "robustness"
    )  # fmt: skip
    assert (request.override_by, request.row_version) == ("adam", 2)
    decision = rules.can_approve(demo_copy, RITA, MODEL, "1.1")
    assert decision.allowed
    assert decision.reason == (
        "Failed gates (Fairness on live traffic (four-fifths rule), Drift against production "
        "traffic (max PSI), Robustness on live traffic "
        "(decision flips), Declared monotonic relations on live traffic, No open critical alert "
        f"on the candidate) were overridden by adam (audit record {override.audit_seqs[0]})."
    )

    outcome = actions.approve(demo_copy, RITA, MODEL, "1.1", "Higher AUC, drift accepted.")
    assert outcome.message == (
        "Approved credit-risk 1.1; it is now the champion (replacing 1.0, archived)."
    )
    assert (status(demo_copy, "1.1"), status(demo_copy, "1.0")) == ("production", "archived")
    assert champion(demo_copy) == "1.1"
    log = records(demo_copy)
    tail = [
        (
            r["seq"],
            r["actor"],
            r["action"],
            r["model_version"],
            r["from_status"],
            r["to_status"],
            r["alias"],
        )
        for r in log[-4:]
    ]
    assert tail == [
        (
            override.audit_seqs[0],
            "adam",
            "override_gates",
            "1.1",
            "pending_approval",
            "pending_approval",
            None,
        ),
        (outcome.audit_seqs[0], "rita", "approve", "1.1", "pending_approval", "approved", None),
        (outcome.audit_seqs[1], "rita", "archive", "1.0", "production", "archived", None),
        (outcome.audit_seqs[2], "rita", "promote", "1.1", "approved", "production", "champion"),
    ]
    assert log[-4]["rationale"] == DRIFT_OVERRIDE
    assert log[-4]["evidence"]["overridden_gates"] == [
        "drift_psi", "fairness_live", "monotonic", "open_alerts", "robustness"
    ]  # fmt: skip
    approval = log[-3]
    assert approval["hash"] == outcome.decision_hash
    evidence = approval["evidence"]
    assert evidence["request"]["override_by"] == "adam"
    assert evidence["gates"]["passed"] is False
    assert {r["gate"]: r["outcome"] for r in evidence["gates"]["results"]}["drift_psi"] == "fail"
    assert evidence["drift"]["window"]["champion_version"] == "1.0"
    assert evidence["drift"]["window"]["rows"] > 10_000
    assert set(evidence["drift"]["psi"]) >= {"credit_amount", "purpose", "sex"}
    with demo_copy.connect() as con:
        holdout = get_version(con, MODEL, "1.1").validation_metrics["holdout"]
    assert evidence["key_metrics"]["candidate"]["roc_auc"] == holdout["roc_auc"]
    assert (
        evidence["fairness"]["demographic_parity_ratio_sex"]
        == (holdout["demographic_parity_ratio_sex"])
    )
    assert [t["model_version"] for t in evidence["traffic"]] == ["1.1", "1.0"]
    window = evidence["drift"]["window"]
    for name in ("1.1", "1.0"):
        expected = performance_report(
            demo_copy,
            Selection(
                MODEL,
                name,
                dt.datetime.fromisoformat(window["start"]).replace(tzinfo=None),
                dt.datetime.fromisoformat(window["end"]).replace(tzinfo=None),
            ),
            "week",
            intervals=False,
        ).overall
        live = evidence["live_performance"][name]
        assert (live["predictions"], live["labelled"]) == (expected.predictions, expected.labelled)
        assert live["metrics"]["roc_auc"] == pytest.approx(expected.value("roc_auc"))
    assert evidence["request_id"] == 1
    request = requests.list_requests(demo_copy, MODEL)[0]
    assert (request.state, request.decided_by, request.decision_seq) == (
        "approved",
        "rita",
        outcome.audit_seqs[0],
    )
    with demo_copy.connect() as con:
        phases = [r.phase for r in checks.saved_results(con, 1)]
        assert audit.verify(con).valid
        assert audit.state_mismatches(con) == []
    assert phases.count("approval") == len(specs.GATES)  # every gate ran again at approval


def test_override_covers_only_the_gates_failing_then(demo_copy: Store) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    with demo_copy.connect() as con:
        version = get_version(con, MODEL, "1.1")
    path = demo_copy.home / version.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    decision = rules.can_approve(demo_copy, RITA, MODEL, "1.1")
    assert decision.blocked == "gates"
    assert "Artifact hash intact" in decision.reason
    assert "Drift against production traffic" not in decision.reason


def test_approval_without_failed_gates_needs_no_override(demo_copy: Store) -> None:
    add_people(demo_copy, {"eve": "admin"})
    loosened = (("drift_psi", 0.5), ("robustness", 0.5), ("monotonic", 1.0), ("fairness_live", 0.7))
    for gate, value in loosened:
        change = thresholds.set_threshold(demo_copy, ADAM, MODEL, gate, value, "Seasonal.")
        policy.confirm(demo_copy, User("eve", "admin"), change.change.change_id, "Agreed.")
    for alert in alert_records.overview_status(demo_copy, MODEL, "1.1"):
        alert_records.resolve(demo_copy, DANA, alert.alert_id, note="Explained by the drift.")
    outcome = actions.approve(demo_copy, OMAR, MODEL, "1.1", "All gates pass.")
    assert outcome.status == "production"
    assert champion(demo_copy) == "1.1"


def test_rationale_is_required(demo_copy: Store) -> None:
    with pytest.raises(RegistryError) as err:
        actions.approve(demo_copy, RITA, MODEL, "1.1", "   ")
    assert str(err.value) == (
        "A rationale is required to approve credit-risk 1.1; say why in a sentence or two."
    )


def test_reject(demo_copy: Store) -> None:
    outcome = actions.reject(demo_copy, OMAR, MODEL, "1.1", "Drift in purpose unexplained.")
    assert status(demo_copy, "1.1") == "rejected"
    assert champion(demo_copy) == "1.0"
    record = records(demo_copy)[-1]
    assert (record["action"], record["actor"], record["rationale"]) == (
        "reject",
        "omar",
        "Drift in purpose unexplained.",
    )
    assert record["evidence"]["gates"]["results"]
    assert outcome.decision_hash == record["hash"]
    with pytest.raises(RegistryError) as err:
        actions.approve(demo_copy, RITA, MODEL, "1.1", "too late")
    assert str(err.value).startswith(
        "Promotion request #1 for credit-risk 1.1 was already decided: rejected by omar at "
    )


# --- rollback and the timeline ---------------------------------------------------------------


def test_rollback_restores_the_previous_champion(demo_copy: Store) -> None:
    decision = rules.can_rollback(demo_copy, OMAR, MODEL)
    assert decision == Decision(
        False,
        "credit-risk 1.0 is the first champion on record; there is no earlier approved "
        "champion to roll back to.",
        Blocked.STATE,
    )
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    actions.approve(demo_copy, RITA, MODEL, "1.1", "Higher AUC.")
    assert rules.can_rollback(demo_copy, OMAR, MODEL).allowed
    outcome = actions.rollback(demo_copy, OMAR, MODEL, "Approval rate for long loans fell.")
    assert outcome.message == (
        "Rolled credit-risk back: 1.0 is champion again; 1.1 is rolled back."
    )
    assert (status(demo_copy, "1.0"), status(demo_copy, "1.1")) == ("production", "rolled_back")
    assert champion(demo_copy) == "1.0"
    down, up = records(demo_copy)[-2:]
    assert (down["action"], down["model_version"], down["to_status"]) == (
        "rollback",
        "1.1",
        "rolled_back",
    )
    assert (up["action"], up["model_version"], up["alias"]) == ("restore", "1.0", "champion")
    spells = timeline(demo_copy, MODEL).intervals
    assert [(i.model_version, i.started_by, i.ended_by) for i in spells] == [
        ("1.0", "import_deployment", "archive"),  # the demo's imported history
        ("1.1", "promote", "rollback"),
        ("1.0", "restore", None),
    ]
    assert down["evidence"]["live_from"] == spells[1].start.isoformat()
    assert up["evidence"]["previously_live_until"] == spells[0].end.isoformat()
    # 1.1 was rolled back: it is not a target for another rollback
    decision = rules.can_rollback(demo_copy, OMAR, MODEL)
    assert (decision.allowed, decision.blocked) == (False, "state")


# --- atomicity and the one-champion rule -----------------------------------------------------


def test_failure_midway_leaves_no_half_change(demo_copy: Store, monkeypatch) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    before = state(demo_copy)
    real = lifecycle.apply_transition

    def failing(con, **kwargs):
        if kwargs["action"] == "promote":
            raise RuntimeError("disk full")  # after approve and archive were written
        return real(con, **kwargs)

    monkeypatch.setattr(lifecycle, "apply_transition", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        actions.approve(demo_copy, RITA, MODEL, "1.1", "Higher AUC.")
    assert state(demo_copy) == before
    monkeypatch.setattr(lifecycle, "apply_transition", real)
    actions.approve(demo_copy, RITA, MODEL, "1.1", "Higher AUC.")
    assert champion(demo_copy) == "1.1"


def test_one_champion_enforced_in_code_and_db(demo_copy: Store) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    before = state(demo_copy)
    with pytest.raises(lifecycle.InvariantError) as err, demo_copy.transaction() as con:
        lifecycle.apply_transition(
            con,
            actor=RITA,
            model_name=MODEL,
            model_version="1.1",
            action="approve",
            to_status="approved",
            rationale="x",
        )
        lifecycle.apply_transition(
            con,
            actor=RITA,
            model_name=MODEL,
            model_version="1.1",
            action="promote",
            to_status="production",
            alias="champion",
            rationale="x",
        )
    assert str(err.value) == (
        "credit-risk would have 2 versions in production (1.0, 1.1); only one champion is "
        "allowed. Nothing was changed."
    )
    assert state(demo_copy) == before
    with pytest.raises(duckdb.ConstraintException), demo_copy.transaction() as con:
        con.execute("INSERT INTO aliases VALUES (?, 'champion', '1.1', now()::TIMESTAMP)", [MODEL])
    assert state(demo_copy) == before


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second", [actions.reject, actions.approve], ids=["approve-vs-reject", "approve-twice"]
)
def test_two_reviewers_at_once_exactly_one_wins(demo_copy: Store, monkeypatch, second) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    version = requests.get_request(demo_copy, MODEL, "1.1").row_version
    real = checks.run_gates
    barrier = threading.Barrier(2)
    calls: list[int] = []

    def slow_gates(*args, **kwargs):
        report = real(*args, **kwargs)
        calls.append(1)
        if len(calls) <= 2:  # the first two calls meet; a retry runs alone
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)  # both are inside their transactions now
        time.sleep(0.05)
        return report

    monkeypatch.setattr(checks, "run_gates", slow_gates)
    retries: list[int] = []  # _write draws a random back-off only after a write conflict
    real_random = retry.random.random
    monkeypatch.setattr(retry.random, "random", lambda: retries.append(1) or real_random())
    results: dict[str, object] = {}

    def act(user: User, action) -> None:
        try:
            results[user.username] = action(
                demo_copy,
                user,
                MODEL,
                "1.1",
                f"Decision by {user.username}.",
                expected_row_version=version,
            )
        except Exception as err:
            results[user.username] = err

    threads = [
        threading.Thread(target=act, args=(RITA, actions.approve)),
        threading.Thread(target=act, args=(OMAR, second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [u for u, r in results.items() if isinstance(r, actions.Outcome)]
    losers = [u for u, r in results.items() if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    error = results[losers[0]]
    assert isinstance(error, VigilError), repr(error)
    assert not isinstance(error, duckdb.Error)
    won = results[winners[0]]
    assert (
        f"was already decided: {'approved' if won.action == 'approve' else 'rejected'} "
        f"by {winners[0]}"
        in str(error)
        or "changed since you loaded it" in str(error)
        or "decided by someone else meanwhile" in str(error)
    ), str(error)
    decisions = [
        r
        for r in records(demo_copy)
        if r["action"] in ("approve", "reject") and r["model_version"] == "1.1"
    ]
    assert [d["actor"] for d in decisions] == [winners[0]]
    with demo_copy.connect() as con:
        assert audit.verify(con).valid
        assert audit.state_mismatches(con) == []


def test_stale_page_is_refused(demo_copy: Store) -> None:
    loaded = requests.get_request(demo_copy, MODEL, "1.1").row_version
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    with pytest.raises(lifecycle.RequestConflictError) as err:
        actions.approve(demo_copy, RITA, MODEL, "1.1", "ok", expected_row_version=loaded)
    assert str(err.value) == (
        "Promotion request #1 for credit-risk 1.1 changed since you loaded it (someone else "
        "acted on it); reload to see its state."
    )


def test_conflict_that_persists_becomes_a_clear_error(demo_copy: Store, monkeypatch) -> None:
    def always_conflict(con, **kwargs):
        raise duckdb.TransactionException("TransactionContext Error: Conflict on tuple deletion!")

    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT_OVERRIDE)
    monkeypatch.setattr(lifecycle, "apply_transition", always_conflict)
    monkeypatch.setattr(retry, "WRITE_ATTEMPTS", 2)
    with pytest.raises(retry.ConcurrentChangeError) as err:
        actions.approve(demo_copy, RITA, MODEL, "1.1", "ok")
    assert str(err.value) == (
        "Approve credit-risk 1.1: another change to the registry was being recorded at the same "
        "moment, and this one could not be completed. Nothing was changed; reload and try again."
    )


def test_decision_is_frozen(demo_store: Store) -> None:
    decision = rules.can_reject(demo_store, RITA, MODEL, "1.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = False  # type: ignore[misc]


# --- the lifecycle primitive -------------------------------------------------------------------


def test_statuses_move_only_along_allowed_transitions(demo_copy: Store) -> None:
    before = state(demo_copy)
    with pytest.raises(RegistryError) as err, demo_copy.transaction() as con:
        lifecycle.apply_transition(
            con,
            actor=RITA,
            model_name=MODEL,
            model_version="1.1",
            action="promote",
            to_status="production",
            alias="champion",
            rationale="skip the approval",
        )
    assert str(err.value) == "credit-risk 1.1 is Pending approval; it cannot move to Production."
    with pytest.raises(lifecycle.InvariantError) as err, demo_copy.transaction() as con:
        lifecycle.apply_transition(
            con,
            actor=RITA,
            model_name=MODEL,
            model_version="1.1",
            action="approve",
            to_status="approved",
            alias="champion",
            rationale="alias without production",
        )
    assert str(err.value) == (
        "credit-risk 1.1: the champion alias goes with production status (asked for status "
        "approved with alias champion)."
    )
    assert state(demo_copy) == before


def test_inventory_flags_overdue_reviews(demo_store: Store) -> None:
    rows = inventory(demo_store, today=dt.date(2027, 1, 1))
    assert [(r.model_version, r.review_overdue, r.aliases) for r in rows] == [
        ("1.0", True, ("champion",)),  # review due 2026-12-27
        ("1.1", False, ()),
    ]


def test_migration_backfills_requests_of_pending_versions(demo_copy: Store) -> None:
    """A store that had pending versions before migration 4 gets their open requests back."""
    from vigil.core.store.schema import m004_governance

    backfill = (
        "INSERT INTO promotion_requests"
        + m004_governance.SQL.split("INSERT INTO promotion_requests", 1)[1]
    )
    with demo_copy.transaction() as con:
        con.execute("DELETE FROM promotion_requests")
        con.execute(backfill)
    asked = [
        r["seq"]
        for r in records(demo_copy)
        if r["action"] == "request_promotion" and r["model_version"] == "1.1"
    ]
    request = requests.get_request(demo_copy, MODEL, "1.1")
    assert (request.state, request.requested_by, request.request_seq, request.row_version) == (
        "pending",
        "dana",
        asked[-1],
        1,
    )
    assert [r.model_version for r in requests.list_requests(demo_copy)] == ["1.1"]
