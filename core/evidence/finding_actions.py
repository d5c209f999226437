"""What people do with a finding: open it, update its plan, propose and confirm its closure.

The rules are the register's (core.evidence.findings): anyone but a viewer opens, updates
and proposes; an approver or admin who neither opened the finding nor proposed its closure
confirms or rejects the closure, and lowers a high severity. Each action writes the whole
finding and one audit record holding it, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from vigil.core.errors import PermissionDenied
from vigil.core.evidence.common import (
    CONTRIBUTOR_ROLES,
    RISK_ROLES,
    EvidenceError,
    StaleEditError,
    check_text,
    now,
    require_role,
)
from vigil.core.evidence.findings import (
    COLUMNS,
    UPDATABLE,
    Finding,
    FindingAction,
    FindingSource,
    FindingStatus,
    Severity,
    get_finding,
)
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.registry.versions import get_version, model_tables
from vigil.core.results import to_jsonable
from vigil.core.store.connection import Store

MIN_EVIDENCE = 20


class FourEyesFindingError(PermissionDenied):
    """The person who opened a finding or proposed its closure may not confirm it."""


def _record(
    con: duckdb.DuckDBPyConnection,
    user: User,
    finding: Finding,
    action: FindingAction,
    rationale: str,
    extra: dict[str, Any] | None = None,
) -> Finding:
    """Write the finding (whole row) and its audit record, in the caller's transaction."""
    con.execute(
        f"INSERT OR REPLACE INTO findings ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(COLUMNS))})",
        [getattr(finding, k) for k in COLUMNS],
    )
    audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action=action.value,
        model_name=finding.model_name,
        model_version=finding.model_version,
        rationale=rationale,
        evidence={
            "finding_id": finding.finding_id,
            "finding": to_jsonable(finding),
            **(extra or {}),
        },
    )
    return finding


def _load(
    con: duckdb.DuckDBPyConnection, finding_id: int, expected_row_version: int | None
) -> Finding:
    finding = get_finding(con, finding_id)
    if expected_row_version is not None and expected_row_version != finding.row_version:
        raise StaleEditError(
            f"Finding #{finding_id} changed after this page was loaded (it is now "
            f"{finding.status.label.lower()}); reload and try again."
        )
    if finding.status is FindingStatus.CLOSED:
        raise EvidenceError(
            f"Finding #{finding_id} was closed by {finding.closed_by}; closed findings stay "
            "closed. Open a new finding if the problem is back."
        )
    return finding


def open_finding(
    store: Store,
    user: User,
    model_name: str,
    *,
    title: str,
    description: str,
    severity: Severity | str,
    source: FindingSource | str,
    owner: str,
    remediation_plan: str,
    due_date: dt.date,
    model_version: str | None = None,
) -> Finding:
    """Record a finding (analysts, approvers, admins)."""
    require_role(user, CONTRIBUTOR_ROLES, f"open a finding on {model_name}")
    try:
        level, origin = Severity(severity), FindingSource(source)
    except ValueError as err:
        raise EvidenceError(
            f"{err}; severity is high, medium or low, source validation or monitoring."
        ) from None
    title = check_text(title, "a title")
    description = check_text(description, "a description of what was found")
    owner = check_text(owner, "the owner of the remediation", 2)
    remediation_plan = check_text(remediation_plan, "a remediation plan")
    if due_date < now().date():
        raise EvidenceError(f"The due date {due_date} is in the past; give a date to come.")
    with store.transaction() as con:
        model_tables(con, model_name)
        if model_version:
            get_version(con, model_name, model_version)
        (finding_id,) = con.execute("SELECT nextval('finding_seq')").fetchone() or (0,)
        finding = Finding(
            finding_id=int(finding_id),
            model_name=model_name,
            model_version=model_version or None,
            source=origin,
            severity=level,
            title=title,
            description=description,
            owner=owner,
            remediation_plan=remediation_plan,
            due_date=due_date,
            status=FindingStatus.OPEN,
            opened_by=user.username,
            opened_at=now(),
        )
        return _record(
            con,
            user,
            finding,
            FindingAction.OPEN,
            f"Finding #{finding_id} ({level.value}, {origin.value}): {title}",
        )


def _second_person(user: User, finding: Finding, what: str) -> None:
    require_role(user, RISK_ROLES, what)
    if user.username == finding.opened_by:
        raise FourEyesFindingError(
            f"{user.username} opened finding #{finding.finding_id} and cannot {what}; another "
            "approver or admin must."
        )
    if user.username == finding.closure_proposed_by:
        raise FourEyesFindingError(
            f"{user.username} proposed closing finding #{finding.finding_id} and cannot "
            f"confirm it; another approver or admin must."
        )


def update_finding(
    store: Store,
    user: User,
    finding_id: int,
    changes: dict[str, Any],
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Finding:
    """Change the plan, owner, due date, title, description or severity of an open finding."""
    require_role(user, CONTRIBUTOR_ROLES, f"update finding #{finding_id}")
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise EvidenceError(f"Finding fields that cannot be changed: {', '.join(unknown)}.")
    rationale = check_text(rationale, f"a rationale for changing finding #{finding_id}")
    with store.transaction() as con:
        finding = _load(con, finding_id, expected_row_version)
        values: dict[str, Any] = dict(changes)
        if "severity" in values:
            values["severity"] = Severity(values["severity"])
        for key in ("title", "description", "owner", "remediation_plan"):
            if key in values:
                values[key] = check_text(values[key], key.replace("_", " "), 2)
        changed = {k: v for k, v in values.items() if v != getattr(finding, k)}
        if not changed:
            raise EvidenceError(f"Nothing to change in finding #{finding_id}.")
        if finding.severity is Severity.HIGH and changed.get("severity", Severity.HIGH) != (
            Severity.HIGH
        ):
            _second_person(user, finding, f"lower the severity of finding #{finding_id}")
        new = replace(finding, **changed, row_version=finding.row_version + 1)
        diff = {
            k: {"old": to_jsonable(getattr(finding, k)), "new": to_jsonable(v)}
            for k, v in changed.items()
        }
        return _record(con, user, new, FindingAction.UPDATE, rationale, {"changes": diff})


def propose_closure(
    store: Store,
    user: User,
    finding_id: int,
    evidence: str,
    *,
    expected_row_version: int | None = None,
) -> Finding:
    """Say the remediation is done, with the evidence; a second person confirms."""
    require_role(user, CONTRIBUTOR_ROLES, f"propose closing finding #{finding_id}")
    text = check_text(evidence, "evidence of the remediation", MIN_EVIDENCE)
    with store.transaction() as con:
        finding = _load(con, finding_id, expected_row_version)
        new = replace(
            finding,
            status=FindingStatus.CLOSURE_PROPOSED,
            closure_evidence=text,
            closure_proposed_by=user.username,
            closure_proposed_at=now(),
            row_version=finding.row_version + 1,
        )
        return _record(con, user, new, FindingAction.PROPOSE, text)


def close_finding(
    store: Store,
    user: User,
    finding_id: int,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Finding:
    """Confirm a proposed closure: approvers and admins other than the opener and proposer."""
    rationale = check_text(rationale, f"a rationale for closing finding #{finding_id}")
    with store.transaction() as con:
        finding = _load(con, finding_id, expected_row_version)
        _second_person(user, finding, f"close finding #{finding_id}")
        if finding.status is not FindingStatus.CLOSURE_PROPOSED or not finding.closure_evidence:
            raise EvidenceError(
                f"Finding #{finding_id} has no proposed closure: someone must first propose "
                "closing it with evidence of the remediation."
            )
        new = replace(
            finding,
            status=FindingStatus.CLOSED,
            closed_by=user.username,
            closed_at=now(),
            closure_rationale=rationale,
            row_version=finding.row_version + 1,
        )
        return _record(con, user, new, FindingAction.CLOSE, rationale)


def reject_closure(
    store: Store,
    user: User,
    finding_id: int,
    rationale: str,
    *,
    expected_row_version: int | None = None,
) -> Finding:
    """Send a proposed closure back: the evidence does not show the finding remediated."""
    rationale = check_text(rationale, f"a rationale for reopening finding #{finding_id}")
    with store.transaction() as con:
        finding = _load(con, finding_id, expected_row_version)
        require_role(user, RISK_ROLES, f"reject the closure of finding #{finding_id}")
        if finding.status is not FindingStatus.CLOSURE_PROPOSED:
            raise EvidenceError(f"Finding #{finding_id} has no proposed closure to reject.")
        if user.username == finding.closure_proposed_by:
            raise FourEyesFindingError(
                f"{user.username} proposed this closure; withdraw it by proposing again with "
                "better evidence, or let another approver decide."
            )
        new = replace(
            finding,
            status=FindingStatus.OPEN,
            closure_evidence=None,
            closure_proposed_by=None,
            closure_proposed_at=None,
            row_version=finding.row_version + 1,
        )
        return _record(con, user, new, FindingAction.REJECT, rationale)


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str


def can_close(user: User, finding: Finding) -> Permission:
    """Whether the page may offer this user the Close button, and why not."""
    if finding.status is not FindingStatus.CLOSURE_PROPOSED:
        return Permission(False, "Nobody has proposed closing it with evidence yet.")
    if user.role not in RISK_ROLES:
        return Permission(
            False, f"{user.username} is {user.role_phrase}; approvers and admins confirm closures."
        )
    if user.username in (finding.opened_by, finding.closure_proposed_by):
        return Permission(
            False,
            f"{user.username} opened it or proposed its closure; a second person must confirm.",
        )
    return Permission(True, "")
