"""The findings register: what validation and monitoring found, who fixes it, by when.

Rules (PRA SS1/23 principle 4: findings tracked to closure; SR 26-2: issues remediated):
- anyone but a viewer opens a finding, updates its plan, owner or due date, and proposes its
  closure with evidence of the remediation;
- an approver or admin who neither opened the finding nor proposed its closure confirms the
  closure (or sends it back): closing takes evidence and a second person;
- lowering the severity of a high finding takes the same second person, since it lifts the
  promotion block;
- an open high-severity finding blocks the promotion of every version of its model
  (`blocking_findings`, one of the promotion gates); a closed finding stays closed.

The actions live in core.evidence.finding_actions. Every action writes one audit record
whose evidence holds the whole finding as written.
`blocking_findings` reads both the table and those records and blocks when either says a
high finding is open, so closing, downgrading or deleting a finding directly in the database
does not lift the block; `finding_mismatches` names such edits.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.evidence.common import EvidenceError
from vigil.core.store.connection import Store


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingSource(StrEnum):
    VALIDATION = "validation"
    MONITORING = "monitoring"


class FindingStatus(StrEnum):
    OPEN = "open"
    CLOSURE_PROPOSED = "closure_proposed"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"open": "Open", "closure_proposed": "Closure proposed", "closed": "Closed"}[
            self.value
        ]


class FindingAction(StrEnum):
    OPEN = "open_finding"
    UPDATE = "update_finding"
    PROPOSE = "propose_finding_closure"
    CLOSE = "close_finding"
    REJECT = "reject_finding_closure"


@dataclass(frozen=True)
class Finding:
    finding_id: int
    model_name: str
    model_version: str | None
    source: FindingSource
    severity: Severity
    title: str
    description: str
    owner: str
    remediation_plan: str
    due_date: dt.date
    status: FindingStatus
    opened_by: str
    opened_at: dt.datetime
    closure_evidence: str | None = None
    closure_proposed_by: str | None = None
    closure_proposed_at: dt.datetime | None = None
    closed_by: str | None = None
    closed_at: dt.datetime | None = None
    closure_rationale: str | None = None
    row_version: int = 1

    @property
    def is_open(self) -> bool:
        return self.status is not FindingStatus.CLOSED

    @property
    def blocks_promotion(self) -> bool:
        return self.is_open and self.severity is Severity.HIGH

    def overdue(self, today: dt.date) -> bool:
        return self.is_open and self.due_date < today

    def describe(self) -> str:
        return f"#{self.finding_id} ({self.severity.value}, {self.status.label}): {self.title}"


COLUMNS = tuple(Finding.__dataclass_fields__)
UPDATABLE = ("title", "description", "owner", "remediation_plan", "due_date", "severity")
_TYPED = (
    "source",
    "severity",
    "status",
    "due_date",
    "opened_at",
    "closure_proposed_at",
    "closed_at",
)


def _time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)


def _from_values(values: dict[str, Any]) -> Finding:
    """A finding from a table row or from the JSON snapshot of an audit record."""
    due = values["due_date"]
    return Finding(
        **{k: values[k] for k in COLUMNS if k not in _TYPED},
        source=FindingSource(values["source"]),
        severity=Severity(values["severity"]),
        status=FindingStatus(values["status"]),
        due_date=due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due)),
        opened_at=_time(values["opened_at"]) or dt.datetime.min,
        closure_proposed_at=_time(values["closure_proposed_at"]),
        closed_at=_time(values["closed_at"]),
    )


def list_findings_con(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None
) -> list[Finding]:
    where, params = ("WHERE model_name = ?", [model_name]) if model_name else ("", [])
    cursor = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM findings {where} ORDER BY finding_id", params
    )
    return [_from_values(dict(zip(COLUMNS, row, strict=True))) for row in cursor.fetchall()]


def list_findings(store: Store, model_name: str | None = None) -> list[Finding]:
    """Findings, oldest first; of one model or all."""
    with store.connect() as con:
        return list_findings_con(con, model_name)


def get_finding(con: duckdb.DuckDBPyConnection, finding_id: int) -> Finding:
    cursor = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM findings WHERE finding_id = ?", [int(finding_id)]
    )
    row = cursor.fetchone()
    if row is None:
        raise EvidenceError(f"Finding #{finding_id} does not exist.")
    return _from_values(dict(zip(COLUMNS, row, strict=True)))


def logged_findings(
    con: duckdb.DuckDBPyConnection, model_name: str | None = None
) -> dict[int, Finding]:
    """Each finding as its latest audit record wrote it (what the table should say)."""
    actions = [a.value for a in FindingAction]
    where = f"action IN ({', '.join('?' * len(actions))})"
    params: list[Any] = list(actions)
    if model_name:
        where += " AND model_name = ?"
        params.append(model_name)
    latest: dict[int, Finding] = {}
    for (evidence,) in con.execute(
        f"SELECT evidence FROM audit_log WHERE {where} ORDER BY seq", params
    ).fetchall():
        snapshot = json.loads(evidence)["finding"]
        latest[int(snapshot["finding_id"])] = _from_values(snapshot)
    return latest


def blocking_findings(con: duckdb.DuckDBPyConnection, model_name: str) -> list[Finding]:
    """Open high-severity findings of the model: they block promotion. A finding blocks if
    the table or its audit trail says it is open and high, so an edit behind Vigil's back
    cannot lift the block."""
    table = {f.finding_id: f for f in list_findings_con(con, model_name)}
    logged = logged_findings(con, model_name)
    out = []
    for finding_id in sorted(set(table) | set(logged)):
        candidates = [f for f in (table.get(finding_id), logged.get(finding_id)) if f]
        blocking = [f for f in candidates if f.blocks_promotion]
        if blocking:
            out.append(blocking[0])
    return out


def finding_mismatches(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Findings whose row differs from their latest audit record, or has none, or is gone."""
    table = {f.finding_id: f for f in list_findings_con(con)}
    logged = logged_findings(con)
    problems = []
    for finding_id in sorted(set(table) | set(logged)):
        row, record = table.get(finding_id), logged.get(finding_id)
        if row is None:
            problems.append(f"Finding #{finding_id} is in the audit log but not in the register.")
        elif record is None:
            problems.append(f"Finding #{finding_id} has no audit record.")
        elif row != record:
            differing = [k for k in COLUMNS if getattr(row, k) != getattr(record, k)]
            problems.append(
                f"Finding #{finding_id} differs from its latest audit record "
                f"({', '.join(differing)}): it was changed outside Vigil."
            )
    return problems
