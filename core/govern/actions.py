"""Promotion actions: request, approve, reject, override, withdraw and roll back.

- Approving a request approves the version AND makes it the champion in the same transaction
  (the previous champion is archived). The evidence the approver saw is the evidence the
  release rests on; a separate "promote later" step would let the release drift away from
  the reviewed evidence.
- Gates run at request time (stored, shown to reviewers) and again inside the approval
  transaction. A failed gate blocks approval unless an admin recorded an override of exactly
  those gates, with its own rationale; the audit shows the override as its own record.
- Rollback puts the most recent earlier champion back (archived -> production) and marks the
  current one rolled back, in one transaction, after checking the restored artifact's hash.
  No gates: rollback is the emergency exit.
- Two reviewers deciding the same request at once: DuckDB's write conflict or the request's
  row version lets exactly one win; the other gets a VigilError naming who decided.

Every action re-reads the acting user's role and status and checks its rule from
core.govern.rules inside its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from vigil.core.errors import ArtifactError, RegistryError
from vigil.core.govern import lifecycle, rules
from vigil.core.govern.auth import User
from vigil.core.govern.decisions import raise_for
from vigil.core.govern.evidence import gate_evidence, snapshot
from vigil.core.govern.gates import checks
from vigil.core.govern.gates.results import GatePhase, GateReport
from vigil.core.govern.principals import recent_grants, require_current
from vigil.core.govern.requests import PromotionRequest, latest_request, pending_request
from vigil.core.govern.retry import write
from vigil.core.govern.timeline import read_timeline, rollback_target
from vigil.core.registry import artifacts
from vigil.core.registry.versions import ModelVersion, Status, aliases, get_version
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store


@dataclass(frozen=True)
class Outcome:
    """What an action did: the version's new status and the audit records written."""

    action: str
    model_name: str
    model_version: str
    status: Status
    audit_seqs: tuple[int, ...]
    decision_hash: str
    message: str


def _check_rationale(rationale: str, what: str) -> str:
    if not rationale or not rationale.strip():
        raise RegistryError(f"A rationale is required to {what}; say why in a sentence or two.")
    return rationale.strip()


def _already_decided(
    con: duckdb.DuckDBPyConnection, version: ModelVersion, request: PromotionRequest | None
) -> None:
    """The loser of a race: say who decided, instead of a generic state message."""
    if request is not None or version.status is Status.PENDING_APPROVAL:
        return
    last = latest_request(con, version.model_name, version.model_version)
    if last is None or last.decided_at is None:
        return
    raise RegistryError(
        f"Promotion request #{last.request_id} for {version.model_name} "
        f"{version.model_version} was already decided: {last.state} by {last.decided_by} "
        f"at {last.decided_at:%Y-%m-%d %H:%M:%S} UTC. Your decision was not recorded."
    )


def _expect(request: PromotionRequest, expected_row_version: int | None) -> int:
    """The row version the decision must find, refusing a page loaded before another change."""
    if expected_row_version is not None and request.row_version != expected_row_version:
        raise lifecycle.RequestConflictError(
            f"Promotion request #{request.request_id} for {request.model_name} "
            f"{request.model_version} changed since you loaded it (someone else acted on it); "
            "reload to see its state."
        )
    return request.row_version


def _evidence(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    version: ModelVersion,
    report: GateReport,
    request: PromotionRequest,
) -> dict[str, Any]:
    evidence: dict[str, Any] = to_jsonable(snapshot(con, version, report, request, store=store))
    return evidence


def request_promotion(
    store: Store, user: User, model_name: str, model_version: str, rationale: str
) -> tuple[Outcome, GateReport]:
    """Put a version up for approval; gates run now and are stored with the request."""
    rationale = _check_rationale(rationale, f"request promotion of {model_name} {model_version}")

    def work(con: duckdb.DuckDBPyConnection) -> tuple[Outcome, GateReport]:
        require_current(con, user)
        version = get_version(con, model_name, model_version)
        raise_for(rules.request_rule(user, version))
        report = checks.run_gates(con, store.home, model_name, model_version)
        record = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="request_promotion",
            to_status=Status.PENDING_APPROVAL,
            rationale=rationale,
            evidence={"gates": to_jsonable(gate_evidence(report))},
        )
        request_id = record["evidence"]["request_id"]
        checks.save_results(con, request_id, GatePhase.REQUEST, report)
        failed = f"; failed gates: {', '.join(report.failed_labels)}" if report.failed else ""
        message = (
            f"Promotion of {model_name} {model_version} requested (request #{request_id}){failed}."
        )
        outcome = Outcome(
            "request_promotion", model_name, model_version, Status.PENDING_APPROVAL,
            (record["seq"],), record["hash"], message,
        )  # fmt: skip
        return outcome, report

    return write(store, f"Request promotion of {model_name} {model_version}", work)


def _promote(
    con: duckdb.DuckDBPyConnection,
    user: User,
    model_name: str,
    model_version: str,
    rationale: str,
    decision_seq: int,
) -> tuple[list[int], str | None]:
    """Archive the current champion (if any) and make the approved version champion."""
    seqs = []
    previous = aliases(con, model_name).get(lifecycle.CHAMPION)
    if previous is not None:
        spell = read_timeline(con, model_name).current
        archived = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=previous,
            action="archive",
            to_status=Status.ARCHIVED,
            rationale=f"Superseded by {model_version}: {rationale}",
            evidence={
                "superseded_by": model_version,
                "decision_seq": decision_seq,
                "live_from": spell.start.isoformat() if spell else None,
            },
        )
        seqs.append(archived["seq"])
    promoted = lifecycle.apply_transition(
        con,
        actor=user,
        model_name=model_name,
        model_version=model_version,
        action="promote",
        to_status=Status.PRODUCTION,
        alias=lifecycle.CHAMPION,
        rationale=rationale,
        evidence={"decision_seq": decision_seq, "previous_champion": previous},
    )
    seqs.append(promoted["seq"])
    return seqs, previous


def approve(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Outcome:
    """Approve the pending request and make the version champion, archiving the previous one.

    Gates are re-run inside the transaction; the evidence snapshot is what they found.
    """
    rationale = _check_rationale(rationale, f"approve {model_name} {model_version}")

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        require_current(con, user)
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        _already_decided(con, version, request)
        raise_for(rules.decide_rule(user, version, request, "approve", "approve"))
        report = checks.run_gates(con, store.home, model_name, model_version)
        grants = recent_grants(con, user.username)
        raise_for(rules.approve_rule(user, version, request, report, grants))
        assert request is not None  # the rules refuse a missing request
        row_version = _expect(request, expected_row_version)
        checks.save_results(con, request.request_id, GatePhase.APPROVAL, report)
        approved = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="approve",
            to_status=Status.APPROVED,
            rationale=rationale,
            evidence=_evidence(con, store, version, report, request),
            expected_row_version=row_version,
        )
        seqs, previous = _promote(con, user, model_name, model_version, rationale, approved["seq"])
        replaced = f" (replacing {previous}, archived)." if previous else "."
        message = f"Approved {model_name} {model_version}; it is now the champion{replaced}"
        return Outcome(
            "approve", model_name, model_version, Status.PRODUCTION,
            (approved["seq"], *seqs), approved["hash"], message,
        )  # fmt: skip

    return write(store, f"Approve {model_name} {model_version}", work)


def reject(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Outcome:
    """Reject the pending request; the evidence snapshot records what the reviewer saw."""
    rationale = _check_rationale(rationale, f"reject {model_name} {model_version}")

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        require_current(con, user)
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        _already_decided(con, version, request)
        raise_for(rules.decide_rule(user, version, request, "reject", "reject"))
        assert request is not None
        row_version = _expect(request, expected_row_version)
        report = checks.run_gates(con, store.home, model_name, model_version)
        checks.save_results(con, request.request_id, GatePhase.APPROVAL, report)
        record = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="reject",
            to_status=Status.REJECTED,
            rationale=rationale,
            evidence=_evidence(con, store, version, report, request),
            expected_row_version=row_version,
        )
        return Outcome(
            "reject", model_name, model_version, Status.REJECTED, (record["seq"],),
            record["hash"], f"Rejected {model_name} {model_version}.",
        )  # fmt: skip

    return write(store, f"Reject {model_name} {model_version}", work)


def override(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Outcome:
    """An admin records that the currently failing gates are accepted, and why.

    The override covers exactly the gates failing now; if another gate fails at approval
    time, approval is blocked again. The overriding admin may not also approve.
    """
    rationale = _check_rationale(rationale, f"override gates for {model_name} {model_version}")

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        require_current(con, user)
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        report = checks.run_gates(con, store.home, model_name, model_version)
        grants = recent_grants(con, user.username)
        raise_for(rules.override_rule(user, version, request, report, grants))
        assert request is not None
        failing = [r.gate.value for r in report.results if not r.passed]
        record = lifecycle.record_override(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            gates=sorted(set(failing) | set(request.override_gates)),
            rationale=rationale,
            evidence=_evidence(con, store, version, report, request),
            expected_row_version=_expect(request, expected_row_version),
        )
        message = (
            f"Override of {', '.join(report.failed_labels)} recorded for {model_name} "
            f"{model_version}; another approver may now approve it."
        )
        return Outcome(
            "override_gates", model_name, model_version, Status.PENDING_APPROVAL,
            (record["seq"],), record["hash"], message,
        )  # fmt: skip

    return write(store, f"Override gates for {model_name} {model_version}", work)


def withdraw(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Outcome:
    """The requester takes a pending request back; the version is registered again."""
    rationale = _check_rationale(
        rationale, f"withdraw the request for {model_name} {model_version}"
    )

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        require_current(con, user)
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        _already_decided(con, version, request)
        raise_for(rules.withdraw_rule(user, version, request))
        assert request is not None
        record = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="withdraw",
            to_status=Status.REGISTERED,
            rationale=rationale,
            evidence={"request_id": request.request_id},
            expected_row_version=_expect(request, expected_row_version),
        )
        message = f"Withdrew request #{request.request_id} for {model_name} {model_version}."
        return Outcome(
            "withdraw", model_name, model_version, Status.REGISTERED, (record["seq"],),
            record["hash"], message,
        )  # fmt: skip

    return write(store, f"Withdraw the request for {model_name} {model_version}", work)


def _restore_evidence(
    con: duckdb.DuckDBPyConnection, model_name: str, target: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the rollback's two records say about the spells they end and resume."""
    timeline = read_timeline(con, model_name)
    spell = timeline.current
    earlier = next((i for i in reversed(timeline.intervals) if i.model_version == target), None)
    down = {
        "restored_version": target,
        "live_from": spell.start.isoformat() if spell else None,
        "live_until": "this record",
    }
    up = {
        "previously_live_from": earlier.start.isoformat() if earlier else None,
        "previously_live_until": earlier.end.isoformat() if earlier and earlier.end else None,
    }
    return down, up


def rollback(store: Store, user: User, model_name: str, rationale: str) -> Outcome:
    """Put the previous champion back in one step; the current one becomes rolled back."""
    rationale = _check_rationale(rationale, f"roll back {model_name}")

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        require_current(con, user)
        champion = aliases(con, model_name).get(lifecycle.CHAMPION)
        target = rollback_target(con, model_name)
        raise_for(rules.rollback_rule(user, model_name, champion, target))
        assert champion is not None and target is not None
        restored = get_version(con, model_name, target)
        try:
            artifacts.verified_bytes(
                Path(store.home) / restored.artifact_path, restored.artifact_sha256
            )
        except ArtifactError as err:
            raise RegistryError(f"Cannot roll back {model_name} to {target}: {err}") from err
        down_evidence, up_evidence = _restore_evidence(con, model_name, target)
        down = lifecycle.apply_transition(
            con, actor=user, model_name=model_name, model_version=champion,
            action="rollback", to_status=Status.ROLLED_BACK, rationale=rationale,
            evidence=down_evidence,
        )  # fmt: skip
        up = lifecycle.apply_transition(
            con, actor=user, model_name=model_name, model_version=target, action="restore",
            to_status=Status.PRODUCTION, alias=lifecycle.CHAMPION, rationale=rationale,
            evidence={"rolled_back_version": champion, "decision_seq": down["seq"], **up_evidence},
        )  # fmt: skip
        message = (
            f"Rolled {model_name} back: {target} is champion again; {champion} is rolled back."
        )
        return Outcome(
            "rollback", model_name, target, Status.PRODUCTION, (down["seq"], up["seq"]),
            down["hash"], message,
        )  # fmt: skip

    return write(store, f"Roll back {model_name}", work)
