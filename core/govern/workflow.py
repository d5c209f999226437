"""Promotion governance: request, approve, reject, override and roll back, with every rule.

Design (what a bank's model-risk function asks for):
- Approving a request approves the version AND makes it the champion in the same transaction
  (the previous champion is archived). The evidence the approver saw is the evidence the
  release rests on; a separate "promote later" step would let the release drift away from
  the reviewed evidence, and the demo's journey is request -> approve -> live.
- Four-eyes: whoever registered the version, requested its promotion, or recorded a gate
  override on the request may not decide it (approve or reject).
- Gates run at request time (stored, shown to reviewers) and again inside the approval
  transaction. A failed gate blocks approval unless an admin recorded an override of exactly
  those gates, with its own rationale; the audit shows the override as its own record.
- Rollback puts the most recent earlier champion back (status archived -> production) and
  marks the current one rolled back, in one transaction, after checking the restored
  artifact's hash. No gates: rollback is the emergency exit.
- Two reviewers deciding the same request at once: DuckDB's write conflict or the request's
  row version lets exactly one win; the other gets a VigilError naming who decided.

`can_*` functions return a Decision so pages show (or disable, with the reason) the buttons
without re-implementing a rule; the actions call the very same rule functions.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from vigil.core.errors import ArtifactError, PermissionDenied, RegistryError, VigilError
from vigil.core.govern import gates as gate_checks
from vigil.core.govern import lifecycle
from vigil.core.govern.auth import PERMISSIONS, ROLES, User
from vigil.core.govern.timeline import read_timeline
from vigil.core.monitor.selection import Selection, log_table
from vigil.core.registry.versions import STATUS_LABELS, ModelVersion, aliases, get_version
from vigil.core.store.connection import Store

T = TypeVar("T")
WRITE_ATTEMPTS = 5


class FourEyesError(PermissionDenied):
    """The acting user is the one who registered, requested or overrode; someone else decides."""


class GateFailedError(RegistryError):
    """A gate failed and no admin override covers it."""


class ConcurrentChangeError(RegistryError):
    """Another change was recorded at the same moment; this one was not made."""


@dataclass(frozen=True)
class Decision:
    """Whether a user may take an action now, and why not. `blocked_by` tells a page whether
    to hide the button ("role") or show it disabled with the reason (anything else)."""

    allowed: bool
    reason: str
    blocked_by: str | None = None  # None | "role" | "state" | "four_eyes" | "gates"


@dataclass(frozen=True)
class PromotionRequest:
    request_id: int
    model_name: str
    model_version: str
    state: str
    requested_by: str
    requested_by_role: str
    requested_at: dt.datetime
    request_rationale: str
    request_seq: int | None
    decided_by: str | None
    decided_by_role: str | None
    decided_at: dt.datetime | None
    decision_rationale: str | None
    decision_seq: int | None
    override_by: str | None
    override_at: dt.datetime | None
    override_rationale: str | None
    override_gates: tuple[str, ...]
    override_seq: int | None
    row_version: int


@dataclass(frozen=True)
class Outcome:
    """What an action did: the version's new status and the audit records written."""

    action: str
    model_name: str
    model_version: str
    status: str
    audit_seqs: tuple[int, ...]
    decision_hash: str
    message: str


# --- reading -----------------------------------------------------------------------------


def _request_from_row(row: dict[str, Any]) -> PromotionRequest:
    overridden = row["override_gates"]
    return PromotionRequest(
        **{k: v for k, v in row.items() if k != "override_gates"},
        override_gates=tuple(json.loads(overridden)) if overridden else (),
    )


def _fetch_requests(
    con: duckdb.DuckDBPyConnection, where: str, params: list[Any]
) -> list[PromotionRequest]:
    cursor = con.execute(
        f"SELECT * FROM promotion_requests {where} ORDER BY request_id DESC", params
    )
    names = [d[0] for d in cursor.description]
    return [_request_from_row(dict(zip(names, r, strict=True))) for r in cursor.fetchall()]


def pending_request(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> PromotionRequest | None:
    found = _fetch_requests(
        con,
        "WHERE model_name = ? AND model_version = ? AND state = 'pending'",
        [model_name, model_version],
    )
    return found[0] if found else None


def list_requests(
    store: Store, model_name: str | None = None, state: str | None = None
) -> tuple[PromotionRequest, ...]:
    """Promotion requests, newest first, optionally of one model and/or in one state."""
    clauses, params = [], []
    if model_name:
        clauses.append("model_name = ?")
        params.append(model_name)
    if state:
        clauses.append("state = ?")
        params.append(state)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    with store.connect() as con:
        return tuple(_fetch_requests(con, where, params))


def get_request(store: Store, model_name: str, model_version: str) -> PromotionRequest | None:
    """The version's open promotion request, if any."""
    with store.connect() as con:
        return pending_request(con, model_name, model_version)


def rollback_target(con: duckdb.DuckDBPyConnection, model_name: str) -> str | None:
    """The most recent earlier champion that can be put back (archived, not rolled back)."""
    statuses = dict(
        con.execute(
            "SELECT model_version, status FROM model_versions WHERE model_name = ?", [model_name]
        ).fetchall()
    )
    for version in read_timeline(con, model_name).previous_champions():
        if statuses.get(version) == "archived":
            return version
    return None


# --- rules (one function per action; used by can_* and by the action itself) ------------


def _role_decision(user: User, permission: str, what: str) -> Decision | None:
    if user.can(permission):
        return None
    allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
    article = "an" if user.role[0] in "aeiou" else "a"
    return Decision(
        False, f"{user.username} is {article} {user.role}; only {allowed} may {what}.", "role"
    )


def _request_rule(user: User, version: ModelVersion) -> Decision:
    denied = _role_decision(user, "request_promotion", "request a promotion")
    if denied:
        return denied
    if version.status not in ("registered", "rolled_back", "rejected"):
        return Decision(
            False,
            f"{version.model_name} {version.model_version} is {version.status_label}; only a "
            "registered, rejected or rolled-back version can be put up for promotion.",
            "state",
        )
    return Decision(True, f"{user.username} may request promotion of {version.model_version}.")


def _decide_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    permission: str,
    verb: str,
) -> Decision:
    """Role, state and four-eyes rules shared by approve and reject."""
    denied = _role_decision(user, permission, f"{verb} promotions")
    if denied:
        return denied
    if version.status != "pending_approval" or request is None:
        return Decision(
            False,
            f"{version.model_name} {version.model_version} is {version.status_label}; there "
            f"is no pending promotion request to {verb}.",
            "state",
        )
    roles = []
    if version.registered_by == user.username:
        roles.append("registered this version")
    if request.requested_by == user.username:
        roles.append("requested its promotion")
    if request.override_by == user.username:
        roles.append("overrode its failed gates")
    if roles:
        return Decision(
            False,
            f"Four-eyes: you ({user.username}) {' and '.join(roles)}; someone else must "
            f"{verb} {version.model_name} {version.model_version}.",
            "four_eyes",
        )
    return Decision(True, f"{user.username} may {verb} request #{request.request_id}.")


def _uncovered_failures(
    report: gate_checks.GateReport, request: PromotionRequest | None
) -> list[gate_checks.GateResult]:
    covered = set(request.override_gates) if request else set()
    return [r for r in report.results if not r.passed and r.gate not in covered]


def _approve_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    report: gate_checks.GateReport,
) -> Decision:
    base = _decide_rule(user, version, request, "approve", "approve")
    if not base.allowed:
        return base
    failing = _uncovered_failures(report, request)
    if failing:
        listed = "; ".join(f"{r.label}: {r.detail}" for r in failing)
        return Decision(
            False,
            f"Gate check failed — {listed}. Approval is blocked unless an admin records an "
            "override with its rationale.",
            "gates",
        )
    if request is not None and request.override_gates and not report.passed:
        return Decision(
            True,
            f"Gates {', '.join(report.failed)} failed and were overridden by "
            f"{request.override_by}: {request.override_rationale}",
        )
    return base


def _override_rule(
    user: User,
    version: ModelVersion,
    request: PromotionRequest | None,
    report: gate_checks.GateReport,
) -> Decision:
    denied = _role_decision(user, "override_gate", "override failed gates")
    if denied:
        return denied
    if version.status != "pending_approval" or request is None:
        return Decision(
            False,
            f"{version.model_name} {version.model_version} is {version.status_label}; there "
            "is no pending promotion request to override gates on.",
            "state",
        )
    if version.registered_by == user.username or request.requested_by == user.username:
        return Decision(
            False,
            f"Four-eyes: you ({user.username}) registered or requested "
            f"{version.model_name} {version.model_version}; another admin must override.",
            "four_eyes",
        )
    failing = _uncovered_failures(report, request)
    if not failing:
        return Decision(False, "No failed gate needs an override.", "state")
    return Decision(True, f"Failed gates: {', '.join(r.gate for r in failing)}.")


def _rollback_rule(
    user: User, model_name: str, champion: str | None, target: str | None
) -> Decision:
    denied = _role_decision(user, "rollback", "roll back the champion")
    if denied:
        return denied
    if champion is None:
        return Decision(False, f"{model_name} has no champion to roll back.", "state")
    if target is None:
        return Decision(
            False,
            f"{model_name} {champion} is the first champion on record; there is no earlier "
            "approved champion to roll back to.",
            "state",
        )
    return Decision(True, f"Rolls {model_name} back from {champion} to {target}.")


# --- can_* for pages and the command line ------------------------------------------------


def can_request_promotion(
    store: Store, user: User, model_name: str, model_version: str
) -> Decision:
    with store.connect() as con:
        return _request_rule(user, get_version(con, model_name, model_version))


def can_approve(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    *,
    report: gate_checks.GateReport | None = None,
) -> Decision:
    with store.connect() as con:
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        base = _decide_rule(user, version, request, "approve", "approve")
        if not base.allowed:  # don't compute gates for a button that is hidden anyway
            return base
        report = report or gate_checks.run_gates(con, store.home, model_name, model_version)
        return _approve_rule(user, version, request, report)


def can_reject(store: Store, user: User, model_name: str, model_version: str) -> Decision:
    with store.connect() as con:
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        return _decide_rule(user, version, request, "reject", "reject")


def can_override(
    store: Store,
    user: User,
    model_name: str,
    model_version: str,
    *,
    report: gate_checks.GateReport | None = None,
) -> Decision:
    with store.connect() as con:
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        denied = _role_decision(user, "override_gate", "override failed gates")
        if denied:
            return denied
        report = report or gate_checks.run_gates(con, store.home, model_name, model_version)
        return _override_rule(user, version, request, report)


def can_rollback(store: Store, user: User, model_name: str) -> Decision:
    with store.connect() as con:
        champion = aliases(con, model_name).get(lifecycle.CHAMPION)
        return _rollback_rule(user, model_name, champion, rollback_target(con, model_name))


# --- evidence ----------------------------------------------------------------------------


def _version_summary(version: ModelVersion) -> dict[str, Any]:
    return {
        "model_version": version.model_version,
        "status": version.status,
        "validation_metrics": version.validation_metrics,
        "training_data_version": version.training_data_version,
        "code_commit": version.code_commit,
        "artifact_sha256": version.artifact_sha256,
        "registered_by": version.registered_by,
    }


def traffic_counts(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    versions: list[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, Any]]:
    """Predictions, errors and labelled predictions per version in a window (SQL aggregate)."""
    if not versions:
        return []
    marks = ", ".join("?" * len(versions))
    rows = con.execute(
        f"""
        SELECT l.model_version, count(*) AS predictions,
               count(*) FILTER (WHERE l.status <> 'ok') AS errors,
               count(lb.label) AS labelled
        FROM {log_table(con, model_name)} l
        LEFT JOIN (SELECT DISTINCT ON (prediction_id) prediction_id, label FROM labels
                   WHERE model_name = ?) lb USING (prediction_id)
        WHERE l.model_version IN ({marks}) AND l.served_at >= ? AND l.served_at < ?
        GROUP BY l.model_version ORDER BY l.model_version
        """,
        [model_name, *versions, start, end],
    ).fetchall()
    found = {r[0]: r for r in rows}
    return [
        {
            "model_version": v,
            "window_start": start.isoformat(timespec="microseconds"),
            "window_end": end.isoformat(timespec="microseconds"),
            "predictions": int(found[v][1]) if v in found else 0,
            "errors": int(found[v][2]) if v in found else 0,
            "labelled": int(found[v][3]) if v in found else 0,
        }
        for v in versions
    ]


def live_performance(
    store: Store, model_name: str, versions: list[str], start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    """Realised metrics per version on labelled traffic in the window, from core.performance
    when this build has it; a note instead of numbers where it cannot say."""
    try:
        from vigil.core.monitor.performance.report import performance_report
    except ImportError:
        return {"note": "core.performance is not part of this build"}
    out: dict[str, Any] = {}
    for name in versions:
        try:
            report = performance_report(
                store, Selection(model_name, name, start, end), "week", intervals=False
            )
        except VigilError as err:
            out[name] = {"note": str(err)}
            continue
        overall = report.overall
        out[name] = {
            "predictions": overall.predictions,
            "labelled": overall.labelled,
            "enough_labels": overall.enough_labels,
            **{metric: overall.value(metric) for metric in report.metric_names},
        }
    return out


def evidence_snapshot(
    con: duckdb.DuckDBPyConnection,
    version: ModelVersion,
    report: gate_checks.GateReport,
    request: PromotionRequest | None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """The facts a decision rests on, frozen into its audit record. With `store`, the
    realised performance of candidate and champion on the same window is included."""
    champion_name = aliases(con, version.model_name).get(lifecycle.CHAMPION)
    champion = (
        get_version(con, version.model_name, champion_name)
        if champion_name and champion_name != version.model_version
        else None
    )
    window = report.drift_window
    if window is not None:
        start, end = window.start, window.end
    else:
        end = gate_checks._now()
        start = end - gate_checks.DRIFT_WINDOW
    versions = [version.model_version] + ([champion.model_version] if champion else [])
    holdout = version.validation_metrics.get("holdout", {})
    return {
        "gates": report.to_dict(),
        "candidate": _version_summary(version),
        "champion": _version_summary(champion) if champion else None,
        "key_metrics": {
            "candidate": holdout,
            "champion": champion.validation_metrics.get("holdout", {}) if champion else None,
        },
        "fairness": {
            k: v
            for k, v in holdout.items()
            if k.startswith(("demographic_parity", "selection_rate"))
        },
        "drift": {
            "threshold": report.result("drift_psi").threshold,
            "window": report.to_dict()["drift_window"],
            "psi": {p.feature: round(p.psi, 6) for p in report.feature_psi},
        },
        "traffic": traffic_counts(con, version.model_name, versions, start, end),
        "live_performance": None
        if store is None
        else live_performance(store, version.model_name, versions, start, end),
        "request": None
        if request is None
        else {
            "request_id": request.request_id,
            "requested_by": request.requested_by,
            "requested_at": request.requested_at.isoformat(timespec="seconds"),
            "row_version": request.row_version,
            "override_by": request.override_by,
            "override_gates": list(request.override_gates),
            "override_seq": request.override_seq,
        },
    }


# --- writing -----------------------------------------------------------------------------


def _write(store: Store, what: str, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` in one transaction; on a write conflict, retry from a fresh read.

    The retry re-checks every rule against what the other writer committed, so the loser of
    a race gets the rule's own message ("already approved by omar …"), never a raw DuckDB
    error. If the conflict persists, a ConcurrentChangeError says nothing was changed.
    """
    last: Exception | None = None
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with store.transaction() as con:
                return work(con)
        except (duckdb.TransactionException, duckdb.ConstraintException) as err:
            last = err
            time.sleep(0.02 * (attempt + 1) * (1 + random.random()))
    raise ConcurrentChangeError(
        f"{what}: another change to the registry was being recorded at the same moment, and "
        "this one could not be completed. Nothing was changed; reload and try again."
    ) from last


def _raise_for(decision: Decision) -> None:
    if decision.allowed:
        return
    if decision.blocked_by == "role":
        raise PermissionDenied(decision.reason)
    if decision.blocked_by == "four_eyes":
        raise FourEyesError(decision.reason)
    if decision.blocked_by == "gates":
        raise GateFailedError(decision.reason)
    raise RegistryError(decision.reason)


def _check_rationale(rationale: str, what: str) -> str:
    if not rationale or not rationale.strip():
        raise RegistryError(f"A rationale is required to {what}; say why in a sentence or two.")
    return rationale.strip()


def _already_decided(request: PromotionRequest | None, version: ModelVersion) -> None:
    """The loser of a race: say who decided, instead of a generic state message."""
    if version.status == "pending_approval" or request is None:
        return
    raise RegistryError(
        f"Promotion request #{request.request_id} for {version.model_name} "
        f"{version.model_version} was already decided: {request.state} by {request.decided_by} "
        f"at {request.decided_at:%Y-%m-%d %H:%M:%S} UTC. Your decision was not recorded."
    )


def _last_request(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str, request_id: int | None
) -> PromotionRequest | None:
    if request_id is not None:
        found = _fetch_requests(con, "WHERE request_id = ?", [request_id])
    else:
        found = _fetch_requests(
            con, "WHERE model_name = ? AND model_version = ?", [model_name, model_version]
        )
    return found[0] if found else None


def request_promotion(
    store: Store, user: User, model_name: str, model_version: str, rationale: str
) -> tuple[Outcome, gate_checks.GateReport]:
    """Put a version up for approval; gates run now and are stored with the request."""
    rationale = _check_rationale(rationale, f"request promotion of {model_name} {model_version}")

    def work(con: duckdb.DuckDBPyConnection) -> tuple[Outcome, gate_checks.GateReport]:
        version = get_version(con, model_name, model_version)
        _raise_for(_request_rule(user, version))
        report = gate_checks.run_gates(con, store.home, model_name, model_version)
        record = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="request_promotion",
            to_status="pending_approval",
            rationale=rationale,
            evidence={"gates": report.to_dict()},
        )
        request_id = record["evidence"]["request_id"]
        gate_checks.save_results(con, request_id, "request", report)
        failed = f"; failed gates: {', '.join(report.failed)}" if report.failed else ""
        return (
            Outcome(
                "request_promotion",
                model_name,
                model_version,
                "pending_approval",
                (record["seq"],),
                record["hash"],
                f"Promotion of {model_name} {model_version} requested (request #{request_id})"
                + failed
                + ".",
            ),
            report,
        )

    return _write(store, f"Request promotion of {model_name} {model_version}", work)


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
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        if request is None:
            _already_decided(_last_request(con, model_name, model_version, None), version)
        _raise_for(_decide_rule(user, version, request, "approve", "approve"))
        report = gate_checks.run_gates(con, store.home, model_name, model_version)
        _raise_for(_approve_rule(user, version, request, report))
        assert request is not None
        if expected_row_version is not None and request.row_version != expected_row_version:
            raise lifecycle.RequestConflictError(
                f"Promotion request #{request.request_id} for {model_name} {model_version} "
                "changed since you loaded it (someone else acted on it); reload to see its state."
            )
        gate_checks.save_results(con, request.request_id, "approval", report)
        evidence = evidence_snapshot(con, version, report, request, store=store)
        approved = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="approve",
            to_status="approved",
            rationale=rationale,
            evidence=evidence,
            expected_row_version=request.row_version,
        )
        seqs = [approved["seq"]]
        previous = aliases(con, model_name).get(lifecycle.CHAMPION)
        if previous is not None:
            spell = read_timeline(con, model_name).current
            archived = lifecycle.apply_transition(
                con,
                actor=user,
                model_name=model_name,
                model_version=previous,
                action="archive",
                to_status="archived",
                rationale=f"Superseded by {model_version}: {rationale}",
                evidence={
                    "superseded_by": model_version,
                    "decision_seq": approved["seq"],
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
            to_status="production",
            alias=lifecycle.CHAMPION,
            rationale=rationale,
            evidence={"decision_seq": approved["seq"], "previous_champion": previous},
        )
        seqs.append(promoted["seq"])
        return Outcome(
            "approve",
            model_name,
            model_version,
            "production",
            tuple(seqs),
            approved["hash"],
            f"Approved {model_name} {model_version}; it is now the champion"
            + (f" (replacing {previous}, archived)." if previous else "."),
        )

    return _write(store, f"Approve {model_name} {model_version}", work)


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
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        if request is None:
            _already_decided(_last_request(con, model_name, model_version, None), version)
        _raise_for(_decide_rule(user, version, request, "reject", "reject"))
        assert request is not None
        report = gate_checks.run_gates(con, store.home, model_name, model_version)
        gate_checks.save_results(con, request.request_id, "approval", report)
        record = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            action="reject",
            to_status="rejected",
            rationale=rationale,
            evidence=evidence_snapshot(con, version, report, request, store=store),
            expected_row_version=expected_row_version
            if expected_row_version is not None
            else request.row_version,
        )
        return Outcome(
            "reject",
            model_name,
            model_version,
            "rejected",
            (record["seq"],),
            record["hash"],
            f"Rejected {model_name} {model_version}.",
        )

    return _write(store, f"Reject {model_name} {model_version}", work)


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
        version = get_version(con, model_name, model_version)
        request = pending_request(con, model_name, model_version)
        report = gate_checks.run_gates(con, store.home, model_name, model_version)
        _raise_for(_override_rule(user, version, request, report))
        assert request is not None
        failing = [r.gate for r in report.results if not r.passed]
        record = lifecycle.record_override(
            con,
            actor=user,
            model_name=model_name,
            model_version=model_version,
            gates=sorted(set(failing) | set(request.override_gates)),
            rationale=rationale,
            evidence=evidence_snapshot(con, version, report, request, store=store),
            expected_row_version=expected_row_version
            if expected_row_version is not None
            else request.row_version,
        )
        return Outcome(
            "override_gates",
            model_name,
            model_version,
            "pending_approval",
            (record["seq"],),
            record["hash"],
            f"Override of {', '.join(failing)} recorded for {model_name} {model_version}; "
            "another approver may now approve it.",
        )

    return _write(store, f"Override gates for {model_name} {model_version}", work)


def rollback(store: Store, user: User, model_name: str, rationale: str) -> Outcome:
    """Put the previous champion back in one step; the current one becomes rolled back."""
    rationale = _check_rationale(rationale, f"roll back {model_name}")

    def work(con: duckdb.DuckDBPyConnection) -> Outcome:
        champion = aliases(con, model_name).get(lifecycle.CHAMPION)
        target = rollback_target(con, model_name)
        _raise_for(_rollback_rule(user, model_name, champion, target))
        assert champion is not None and target is not None
        restored = get_version(con, model_name, target)
        try:
            gate_checks.artifacts.verified_bytes(
                Path(store.home) / restored.artifact_path, restored.artifact_sha256
            )
        except ArtifactError as err:
            raise RegistryError(f"Cannot roll back {model_name} to {target}: {err}") from err
        timeline = read_timeline(con, model_name)
        spell = timeline.current
        earlier = next((i for i in reversed(timeline.intervals) if i.model_version == target), None)
        down = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=champion,
            action="rollback",
            to_status="rolled_back",
            rationale=rationale,
            evidence={
                "restored_version": target,
                "live_from": spell.start.isoformat() if spell else None,
                "live_until": "this record",
            },
        )
        up = lifecycle.apply_transition(
            con,
            actor=user,
            model_name=model_name,
            model_version=target,
            action="restore",
            to_status="production",
            alias=lifecycle.CHAMPION,
            rationale=rationale,
            evidence={
                "rolled_back_version": champion,
                "decision_seq": down["seq"],
                "previously_live_from": earlier.start.isoformat() if earlier else None,
                "previously_live_until": earlier.end.isoformat()
                if earlier and earlier.end
                else None,
            },
        )
        return Outcome(
            "rollback",
            model_name,
            target,
            "production",
            (down["seq"], up["seq"]),
            down["hash"],
            f"Rolled {model_name} back: {target} is champion again; {champion} is rolled back.",
        )

    return _write(store, f"Roll back {model_name}", work)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


__all__ = [
    "ConcurrentChangeError",
    "Decision",
    "FourEyesError",
    "GateFailedError",
    "Outcome",
    "PromotionRequest",
    "VigilError",
    "approve",
    "can_approve",
    "can_override",
    "can_reject",
    "can_request_promotion",
    "can_rollback",
    "list_requests",
    "override",
    "reject",
    "request_promotion",
    "rollback",
]


# --- read models for the Registry and Review pages ---------------------------------------


@dataclass(frozen=True)
class InventoryRow:
    """One version as the inventory shows it, with its aliases and review-date standing."""

    model_name: str
    model_version: str
    status: str
    status_label: str
    aliases: tuple[str, ...]
    owner: str
    risk_tier: str | None
    next_review_date: dt.date | None
    review_overdue: bool
    intended_use: str | None
    limitations: str | None
    training_date: dt.date
    training_data_version: str
    code_commit: str
    hyperparameters: dict[str, Any]
    validation_metrics: dict[str, dict[str, float]]
    artifact_sha256: str
    previous_version: str | None
    registered_by: str
    registered_at: dt.datetime


def inventory(store: Store, today: dt.date | None = None) -> tuple[InventoryRow, ...]:
    """Every model and version; a next review date before `today` (UTC) is overdue."""
    from vigil.core.registry.versions import list_versions

    today = today or dt.datetime.now(dt.UTC).date()
    with store.connect() as con:
        versions = list_versions(con)
        alias_rows = con.execute(
            "SELECT model_name, model_version, alias FROM aliases ORDER BY alias"
        ).fetchall()
    by_version: dict[tuple[str, str], list[str]] = {}
    for model, version, alias in alias_rows:
        by_version.setdefault((model, version), []).append(alias)
    return tuple(
        InventoryRow(
            model_name=v.model_name,
            model_version=v.model_version,
            status=v.status,
            status_label=v.status_label,
            aliases=tuple(by_version.get((v.model_name, v.model_version), [])),
            owner=v.owner,
            risk_tier=v.risk_tier,
            next_review_date=v.next_review_date,
            review_overdue=v.next_review_date is not None and v.next_review_date < today,
            intended_use=v.intended_use,
            limitations=v.limitations,
            training_date=v.training_date,
            training_data_version=v.training_data_version,
            code_commit=v.code_commit,
            hyperparameters=v.hyperparameters,
            validation_metrics=v.validation_metrics,
            artifact_sha256=v.artifact_sha256,
            previous_version=v.previous_version,
            registered_by=v.registered_by,
            registered_at=v.registered_at,
        )
        for v in versions
    )


def review_window(store: Store, model_name: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The 30 whole UTC days up to the model's latest logged prediction (any version), for
    comparing candidate and champion on live traffic; None when nothing was logged."""
    with store.connect() as con:
        last = con.execute(f"SELECT max(served_at) FROM {log_table(con, model_name)}").fetchone()
    if last is None or last[0] is None:
        return None
    end = dt.datetime.combine(last[0].date() + dt.timedelta(days=1), dt.time())
    return end - gate_checks.DRIFT_WINDOW, end


def has_traffic(
    store: Store, model_name: str, model_version: str, start: dt.datetime, end: dt.datetime
) -> int:
    """How many predictions the version logged in the window."""
    with store.connect() as con:
        return int(
            con.execute(
                f"SELECT count(*) FROM {log_table(con, model_name)} WHERE model_version = ? "
                "AND served_at >= ? AND served_at < ?",
                [model_version, start, end],
            ).fetchone()[0]
        )


def live_traffic(
    store: Store, model_name: str, versions: tuple[str, ...], start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Predictions, errors and labels per version in a window (the fallback live evidence)."""
    with store.connect() as con:
        return traffic_counts(con, model_name, list(versions), start, end)


DECISION_ACTIONS = ("approve", "reject", "override_gates", "rollback", "request_promotion")


def decisions(store: Store, model_name: str) -> list[dict[str, Any]]:
    """Governance records of a model, newest first (for sign-off report downloads)."""
    from vigil.core.govern import audit

    with store.connect() as con:
        found = audit.query(con, audit.AuditFilter(model_name=model_name))
    return [r for r in reversed(found) if r["action"] in DECISION_ACTIONS]


def model_version(store: Store, model_name: str, version: str) -> ModelVersion:
    """One version, read fresh (status changes with every decision)."""
    with store.connect() as con:
        return get_version(con, model_name, version)


def next_rollback_target(store: Store, model_name: str) -> str | None:
    with store.connect() as con:
        return rollback_target(con, model_name)
