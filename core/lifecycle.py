"""The one primitive that changes a version's status or aliases, always with its audit record.

Governance rules (roles, four-eyes, gates) sit on top of this in core.governance; nothing
else may update `model_versions.status` or `aliases`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from core import audit
from core.auth import User
from core.errors import RegistryError
from core.registry import STATUS_LABELS, get_version

# from-status -> statuses it may move to
ALLOWED: dict[str, frozenset[str]] = {
    "registered": frozenset({"pending_approval", "archived"}),
    "pending_approval": frozenset({"approved", "rejected", "registered"}),
    "approved": frozenset({"production", "archived"}),
    "production": frozenset({"archived", "rolled_back"}),
    "archived": frozenset({"production"}),
    "rolled_back": frozenset({"pending_approval", "archived"}),
    "rejected": frozenset({"pending_approval"}),
}


def apply_transition(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: User,
    model_name: str,
    model_version: str,
    action: str,
    to_status: str,
    rationale: str,
    evidence: dict[str, Any] | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Move one version to `to_status` (and optionally point `alias` at it), audited.

    Call inside the caller's transaction so the change and its record land together.
    """
    if not rationale or not rationale.strip():
        raise RegistryError(f"A rationale is required to {action} {model_name} {model_version}.")
    version = get_version(con, model_name, model_version)
    if to_status not in ALLOWED.get(version.status, frozenset()):
        raise RegistryError(
            f"{model_name} {model_version} is {STATUS_LABELS[version.status]}; it cannot move to "
            f"{STATUS_LABELS.get(to_status, to_status)}."
        )
    updated = con.execute(
        "UPDATE model_versions SET status = ? WHERE model_name = ? AND model_version = ? "
        "AND status = ? RETURNING 1",
        [to_status, model_name, model_version, version.status],
    ).fetchall()
    if not updated:
        raise RegistryError(
            f"{model_name} {model_version} was changed by someone else meanwhile; reload and retry."
        )
    if alias is not None:
        con.execute(
            "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?)",
            [model_name, alias, model_version, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )
    return audit.append(
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
