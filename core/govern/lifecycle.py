"""The one primitive that changes a version's status or aliases, always with its audit record.

Governance rules (roles, four-eyes, gates) sit on top of this in core.govern.rules; nothing
else may update `model_versions.status`, `aliases` or the state of a promotion request.
Every call runs inside the caller's transaction, so the change, its audit record and the
promotion request it settles land together or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from vigil.core.errors import RegistryError
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.govern.requests import RequestState
from vigil.core.registry.versions import Status, get_version

# from-status -> statuses it may move to
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.REGISTERED: frozenset({Status.PENDING_APPROVAL, Status.ARCHIVED}),
    Status.PENDING_APPROVAL: frozenset({Status.APPROVED, Status.REJECTED, Status.REGISTERED}),
    Status.APPROVED: frozenset({Status.PRODUCTION, Status.ARCHIVED}),
    Status.PRODUCTION: frozenset({Status.ARCHIVED, Status.ROLLED_BACK}),
    Status.ARCHIVED: frozenset({Status.PRODUCTION}),
    Status.ROLLED_BACK: frozenset({Status.PENDING_APPROVAL, Status.ARCHIVED}),
    Status.REJECTED: frozenset({Status.PENDING_APPROVAL}),
}
# What an audited import of deployment history may do (core.govern.history): put a version
# live that was live before Vigil, and take down the one it replaced.
IMPORTED: dict[Status, frozenset[Status]] = {
    Status.REGISTERED: frozenset({Status.PRODUCTION}),
    Status.APPROVED: frozenset({Status.PRODUCTION}),
    Status.ARCHIVED: frozenset({Status.PRODUCTION}),
    Status.PRODUCTION: frozenset({Status.ARCHIVED}),
}
IMPORT_ACTION = "import_deployment"
CHAMPION = "champion"
CHALLENGER = "challenger"
# Leaving pending approval settles the open promotion request in this state.
REQUEST_STATE_AFTER = {
    Status.APPROVED: RequestState.APPROVED,
    Status.REJECTED: RequestState.REJECTED,
    Status.REGISTERED: RequestState.WITHDRAWN,
}


class InvariantError(RegistryError):
    """A transition would leave the registry inconsistent (e.g. two champions)."""


class RequestConflictError(RegistryError):
    """The promotion request was changed by someone else since the caller read it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def open_request(
    con: duckdb.DuckDBPyConnection, model_name: str, model_version: str
) -> tuple[int, int] | None:
    """(request_id, row_version) of the version's pending promotion request, if any."""
    row = con.execute(
        "SELECT request_id, row_version FROM promotion_requests WHERE model_name = ? "
        "AND model_version = ? AND state = 'pending' ORDER BY request_id DESC LIMIT 1",
        [model_name, model_version],
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def check_invariants(con: duckdb.DuckDBPyConnection, model_name: str) -> None:
    """At most one version in production, and the champion alias points at exactly that one."""
    production = [
        r[0]
        for r in con.execute(
            "SELECT model_version FROM model_versions WHERE model_name = ? "
            "AND status = 'production' ORDER BY model_version",
            [model_name],
        ).fetchall()
    ]
    if len(production) > 1:
        raise InvariantError(
            f"{model_name} would have {len(production)} versions in production "
            f"({', '.join(production)}); only one champion is allowed. Nothing was changed."
        )
    champion = con.execute(
        "SELECT model_version FROM aliases WHERE model_name = ? AND alias = ?",
        [model_name, CHAMPION],
    ).fetchone()
    champion_version = None if champion is None else champion[0]
    if champion_version != (production[0] if production else None):
        raise InvariantError(
            f"{model_name}: the champion alias would point at {champion_version or 'nothing'} "
            f"while the version in production is {production[0] if production else 'none'}. "
            "Nothing was changed."
        )


def apply_transition(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: User,
    model_name: str,
    model_version: str,
    action: str,
    to_status: Status,
    rationale: str,
    evidence: dict[str, Any] | None = None,
    alias: str | None = None,
    expected_row_version: int | None = None,
) -> dict[str, Any]:
    """Move one version to `to_status` (and optionally point `alias` at it), audited.

    Call inside the caller's transaction so the change and its record land together.
    Entering pending approval opens a promotion request; leaving it settles that request
    (refused if `expected_row_version` is given and the request has moved on meanwhile).
    Leaving production takes the champion alias with it; entering production requires it.
    """
    if not rationale or not rationale.strip():
        raise RegistryError(f"A rationale is required to {action} {model_name} {model_version}.")
    version = get_version(con, model_name, model_version)
    allowed = IMPORTED if action == IMPORT_ACTION else ALLOWED
    if to_status not in allowed.get(version.status, frozenset()):
        raise RegistryError(
            f"{model_name} {model_version} is {version.status_label}; it cannot move to "
            f"{Status(to_status).label}."
        )
    if (alias == CHAMPION) != (to_status == Status.PRODUCTION):
        raise InvariantError(
            f"{model_name} {model_version}: the champion alias goes with production status "
            f"(asked for status {to_status} with alias {alias or 'none'})."
        )
    evidence = dict(evidence or {})
    request = open_request(con, model_name, model_version)
    if version.status is Status.PENDING_APPROVAL and request is not None:
        request_id, row_version = request
        if expected_row_version is not None and row_version != expected_row_version:
            raise RequestConflictError(
                f"Promotion request #{request_id} for {model_name} {model_version} changed "
                "since you loaded it (someone else acted on it); reload to see its state."
            )
        evidence["request_id"] = request_id
    updated = con.execute(
        "UPDATE model_versions SET status = ? WHERE model_name = ? AND model_version = ? "
        "AND status = ? RETURNING 1",
        [to_status, model_name, model_version, version.status],
    ).fetchall()
    if not updated:
        raise RegistryError(
            f"{model_name} {model_version} was changed by someone else meanwhile; reload and retry."
        )
    if version.status is Status.PRODUCTION:
        # The alias leaves with the status; the record says so.
        removed = con.execute(
            "DELETE FROM aliases WHERE model_name = ? AND alias = ? AND model_version = ? "
            "RETURNING alias",
            [model_name, CHAMPION, model_version],
        ).fetchall()
        if removed:
            evidence["alias_removed"] = CHAMPION
    if to_status == Status.PRODUCTION:
        # A version cannot be its own challenger.
        removed = con.execute(
            "DELETE FROM aliases WHERE model_name = ? AND alias = ? AND model_version = ? "
            "RETURNING alias",
            [model_name, CHALLENGER, model_version],
        ).fetchall()
        if removed:
            evidence["alias_removed"] = CHALLENGER
    if alias is not None:
        holder = con.execute(
            "SELECT model_version FROM aliases WHERE model_name = ? AND alias = ?",
            [model_name, alias],
        ).fetchone()
        if holder is not None and holder[0] != model_version:
            evidence["alias_moved_from"] = holder[0]
        con.execute(
            "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?)",
            [model_name, alias, model_version, _now()],
        )
    new_request_id = None
    if to_status == Status.PENDING_APPROVAL:
        drawn = con.execute("SELECT nextval('promotion_request_seq')").fetchone()
        assert drawn is not None  # a sequence always gives a value
        new_request_id = int(drawn[0])
        evidence["request_id"] = new_request_id
    record = audit.append(
        con,
        actor=actor.username,
        actor_role=actor.role,
        action=action,
        model_name=model_name,
        model_version=model_version,
        from_status=version.status,
        to_status=to_status,
        alias=alias,
        rationale=rationale.strip(),
        evidence=evidence,
    )
    if new_request_id is not None:
        con.execute(
            "INSERT INTO promotion_requests (request_id, model_name, model_version, state, "
            "requested_by, requested_by_role, requested_at, request_rationale, request_seq) "
            "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
            [
                new_request_id,
                model_name,
                model_version,
                actor.username,
                actor.role,
                record["recorded_at"],
                rationale.strip(),
                record["seq"],
            ],
        )
    elif version.status is Status.PENDING_APPROVAL and request is not None:
        settled = con.execute(
            "UPDATE promotion_requests SET state = ?, decided_by = ?, decided_by_role = ?, "
            "decided_at = ?, decision_rationale = ?, decision_seq = ?, "
            "row_version = row_version + 1 WHERE request_id = ? AND state = 'pending' "
            "AND row_version = ? RETURNING 1",
            [
                REQUEST_STATE_AFTER[to_status],
                actor.username,
                actor.role,
                record["recorded_at"],
                rationale.strip(),
                record["seq"],
                request[0],
                request[1],
            ],
        ).fetchall()
        if not settled:
            raise RequestConflictError(
                f"Promotion request #{request[0]} for {model_name} {model_version} was decided "
                "by someone else meanwhile; reload to see the decision."
            )
    check_invariants(con, model_name)
    return record


def record_override(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: User,
    model_name: str,
    model_version: str,
    gates: list[str],
    rationale: str,
    evidence: dict[str, Any],
    expected_row_version: int | None = None,
) -> dict[str, Any]:
    """Record an admin's override of failed gates on the open request (no status change)."""
    if not rationale or not rationale.strip():
        raise RegistryError(
            f"A rationale is required to override gates for {model_name} {model_version}."
        )
    request = open_request(con, model_name, model_version)
    if request is None:
        raise RegistryError(
            f"{model_name} {model_version} has no pending promotion request to override gates on."
        )
    request_id, row_version = request
    if expected_row_version is not None and row_version != expected_row_version:
        raise RequestConflictError(
            f"Promotion request #{request_id} for {model_name} {model_version} changed since "
            "you loaded it (someone else acted on it); reload to see its state."
        )
    record = audit.append(
        con,
        actor=actor.username,
        actor_role=actor.role,
        action="override_gates",
        model_name=model_name,
        model_version=model_version,
        from_status=Status.PENDING_APPROVAL,
        to_status=Status.PENDING_APPROVAL,
        rationale=rationale.strip(),
        evidence={**evidence, "request_id": request_id, "overridden_gates": sorted(gates)},
    )
    updated = con.execute(
        "UPDATE promotion_requests SET override_by = ?, override_at = ?, "
        "override_rationale = ?, override_gates = ?, override_seq = ?, "
        "row_version = row_version + 1 WHERE request_id = ? AND state = 'pending' "
        "AND row_version = ? RETURNING 1",
        [
            actor.username,
            record["recorded_at"],
            rationale.strip(),
            json.dumps(sorted(gates)),
            record["seq"],
            request_id,
            row_version,
        ],
    ).fetchall()
    if not updated:
        raise RequestConflictError(
            f"Promotion request #{request_id} for {model_name} {model_version} was changed by "
            "someone else meanwhile; reload to see its state."
        )
    return record
