"""Deployment history from before Vigil: an audited, clearly labelled import.

A model that enters Vigil already in service has a past: which version went live when, and
who put it there. Writing that past as if Vigil had approved it today would make "what was
live when" say the champion went live at import time. Instead each past event becomes an
audit record of its own, action `import_deployment`, recorded now by the person importing,
carrying when it really happened (`effective_at`), who did it then (`deployed_by`) and where
the account comes from (`source`). The timeline reads the effective time; every page that
shows such a spell says it was imported.

An import is refused once Vigil has put any version of the model live itself: history can
only be written before Vigil's own begins, never into it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from vigil.core.errors import RegistryError
from vigil.core.govern.auth import User, require
from vigil.core.govern.lifecycle import CHAMPION, IMPORT_ACTION, apply_transition
from vigil.core.registry.versions import Status, aliases, get_version


@dataclass(frozen=True)
class DeploymentEvent:
    """One version going live in the past (UTC), as the model's own records tell it."""

    model_version: str
    went_live_at: dt.datetime
    deployed_by: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _check(
    con: duckdb.DuckDBPyConnection, model_name: str, events: Sequence[DeploymentEvent]
) -> None:
    if not events:
        raise RegistryError(f"No deployment event to import for {model_name}.")
    live_before = con.execute(
        "SELECT count(*) FROM audit_log WHERE model_name = ? AND to_status = 'production'",
        [model_name],
    ).fetchone()
    if live_before and live_before[0]:
        raise RegistryError(
            f"{model_name} already has deployment history in Vigil's audit log; an import can "
            "only record what happened before Vigil governed the model."
        )
    times = [e.went_live_at for e in events]
    if times != sorted(times) or len(set(times)) != len(times):
        raise RegistryError("Deployment events must be in time order, one per moment.")
    if times[-1] >= _now():
        raise RegistryError(
            f"Deployment event at {times[-1]:%Y-%m-%d %H:%M} UTC is not in the past; only past "
            "events can be imported."
        )
    for event in events:
        if not event.deployed_by.strip():
            raise RegistryError(f"Say who deployed {model_name} {event.model_version}.")
        status = get_version(con, model_name, event.model_version).status
        if status not in (Status.REGISTERED, Status.APPROVED, Status.ARCHIVED):
            raise RegistryError(
                f"{model_name} {event.model_version} is {status.label}; only registered, "
                "approved or archived versions can enter an imported history."
            )


def _evidence(event: DeploymentEvent, source: str) -> dict[str, object]:
    return {
        "imported": True,
        "effective_at": event.went_live_at.isoformat(),
        "deployed_by": event.deployed_by,
        "source": source,
    }


def import_deployments(
    con: duckdb.DuckDBPyConnection,
    actor: User,
    model_name: str,
    events: Sequence[DeploymentEvent],
    *,
    source: str,
) -> list[int]:
    """Record the model's past deployments, oldest first, in the caller's transaction.

    Each event puts its version live and archives the one it replaced; the last one's version
    ends as the champion. Returns the audit records written. Admins only."""
    require(actor, "override_gate", "import deployment history")
    if not source.strip():
        raise RegistryError("Say where the imported deployment history comes from (source).")
    _check(con, model_name, events)
    seqs = []
    for event in events:
        at = event.went_live_at
        when = f"{at.day} {at:%b %Y, %H:%M} UTC"
        evidence = _evidence(event, source)
        live = aliases(con, model_name).get(CHAMPION)
        if live is not None and live != event.model_version:
            record = apply_transition(
                con, actor=actor, model_name=model_name, model_version=live,
                action=IMPORT_ACTION, to_status=Status.ARCHIVED, evidence=evidence,
                rationale=f"Imported deployment history ({source}): {live} replaced by "
                f"{event.model_version} at {when}.",
            )  # fmt: skip
            seqs.append(int(record["seq"]))
        if live == event.model_version:
            continue
        record = apply_transition(
            con, actor=actor, model_name=model_name, model_version=event.model_version,
            action=IMPORT_ACTION, to_status=Status.PRODUCTION, alias=CHAMPION, evidence=evidence,
            rationale=f"Imported deployment history ({source}): {event.model_version} went "
            f"live at {when}, deployed by {event.deployed_by}.",
        )  # fmt: skip
        seqs.append(int(record["seq"]))
    return seqs
