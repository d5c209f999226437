"""What the Review page reads: the window it compares versions on, traffic, decisions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vigil.core.govern import audit
from vigil.core.govern.evidence import TrafficCount, traffic_counts
from vigil.core.govern.gates.live import comparison_window
from vigil.core.govern.requests import PromotionRequest, latest_request
from vigil.core.govern.timeline import rollback_target
from vigil.core.monitor.selection import log_table
from vigil.core.registry.versions import ModelVersion, get_version, list_versions
from vigil.core.store.connection import Store

DECISION_ACTIONS = (
    "approve",
    "reject",
    "override_gates",
    "rollback",
    "request_promotion",
    "withdraw",
    "import_deployment",
)


def review_window(store: Store, model_name: str) -> tuple[dt.datetime, dt.datetime] | None:
    """The 30 whole UTC days up to the model's latest logged prediction (any version), for
    comparing candidate and champion on live traffic: the live gates' own window."""
    with store.connect() as con:
        return comparison_window(con, model_name)


def has_traffic(
    store: Store, model_name: str, model_version: str, start: dt.datetime, end: dt.datetime
) -> int:
    """How many predictions the version logged in the window."""
    with store.connect() as con:
        row = con.execute(
            f"SELECT count(*) FROM {log_table(con, model_name)} WHERE model_version = ? "
            "AND served_at >= ? AND served_at < ?",
            [model_version, start, end],
        ).fetchone()
    return int(row[0]) if row else 0


def live_traffic(
    store: Store, model_name: str, versions: tuple[str, ...], start: dt.datetime, end: dt.datetime
) -> tuple[TrafficCount, ...]:
    """Predictions, errors and labels per version in a window."""
    with store.connect() as con:
        return traffic_counts(con, model_name, versions, start, end)


def version_records(store: Store, model_name: str, version: str) -> list[dict[str, Any]]:
    """The governance records of one version (status changes and overrides), newest first."""
    with store.connect() as con:
        found = audit.query(con, audit.AuditFilter(model_name=model_name))
    return [
        r for r in reversed(found)
        if r["model_version"] == version and (r["to_status"] or r["action"] in DECISION_ACTIONS)
    ]  # fmt: skip


def decisions(store: Store, model_name: str) -> list[dict[str, Any]]:
    """Governance records of a model, newest first (for sign-off report downloads)."""
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


@dataclass(frozen=True)
class LastDecision:
    """The newest settled request of a version: what the Review page shows after a decision."""

    request: PromotionRequest
    version: ModelVersion


def last_decision(store: Store, model_name: str, version: str) -> LastDecision | None:
    """The version's newest request, if it was decided or withdrawn (None while pending)."""
    with store.connect() as con:
        request = latest_request(con, model_name, version)
        if request is None or request.decided_at is None:
            return None
        return LastDecision(request, get_version(con, model_name, version))


def model_versions(store: Store, model_name: str) -> tuple[ModelVersion, ...]:
    """Every version of the model, oldest first."""
    with store.connect() as con:
        return tuple(list_versions(con, model_name))
