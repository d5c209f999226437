"""Policy changes are decisions: every threshold in one audited table, every change with a
rationale, and a change that loosens waits for a second admin.

Thresholds of gates, drift tests and alert rules live in `policy_thresholds` (migration 5),
keyed by (model, kind, name, feature). Asking for a change (`propose`) records it in
`policy_changes` with its rationale and an audit record:
- a change that tightens (or leaves the policy as strict) applies at once;
- a change that loosens (lets through what the current threshold stops) stays pending until
  an admin who is not the proposer, and whose rights the proposer did not grant within the
  last VIGIL_NEW_APPROVER_HOURS, confirms it (`confirm`) or anyone entitled rejects it.

The record that applies a value uses the long-standing actions (set_gate_threshold,
set_drift_threshold, reset_drift_threshold; set_alert_threshold, reset_alert_threshold for
alert rules); proposals (propose_<kind>_threshold) and rejections (reject_policy_change)
change no threshold.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import duckdb

from vigil.core.govern import audit
from vigil.core.govern.auth import User, require
from vigil.core.govern.decisions import Blocked, Decision, allow, raise_for
from vigil.core.govern.policy.thresholds import (
    Bound,
    PolicyError,
    PolicyKind,
    ThresholdKey,
    apply_action,
    current,
    evidence_for,
)
from vigil.core.govern.principals import Grant, check, new_approver_hours, now, recent_grants
from vigil.core.govern.retry import write
from vigil.core.store.connection import Store

CONFIRM_PERMISSION = "override_gate"  # admins only


class ChangeState(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PolicyChange:
    change_id: int
    key: ThresholdKey
    old: float | None  # None: no value (the default) was in force
    new: float | None  # None: back to the default
    loosens: bool
    state: ChangeState
    proposed_by: str
    proposed_by_role: str
    proposed_at: dt.datetime
    rationale: str
    proposal_seq: int
    decided_by: str | None
    decided_by_role: str | None
    decided_at: dt.datetime | None
    decision_rationale: str | None
    decision_seq: int | None


@dataclass(frozen=True)
class ChangeOutcome:
    change: PolicyChange
    message: str


_CHANGE_COLUMNS = (
    "change_id, model_name, kind, name, feature, old_threshold, new_threshold, loosens, state, "
    "proposed_by, proposed_by_role, proposed_at, rationale, proposal_seq, decided_by, "
    "decided_by_role, decided_at, decision_rationale, decision_seq"
)


def _change(row: tuple[Any, ...]) -> PolicyChange:
    change_id, model, kind, name, feature, old, new, loosens, state, *rest = row
    key = ThresholdKey(model, PolicyKind(kind), name, feature)
    return PolicyChange(int(change_id), key, old, new, bool(loosens), ChangeState(state), *rest)


def changes(
    con: duckdb.DuckDBPyConnection,
    *,
    model_name: str | None = None,
    state: ChangeState | None = None,
    change_id: int | None = None,
) -> tuple[PolicyChange, ...]:
    """Policy changes, newest first."""
    clauses, params = [], []
    for column, value in (("model_name", model_name), ("state", state), ("change_id", change_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = con.execute(
        f"SELECT {_CHANGE_COLUMNS} FROM policy_changes {where} ORDER BY change_id DESC", params
    ).fetchall()
    return tuple(_change(r) for r in rows)


def pending_changes(store: Store, model_name: str | None = None) -> tuple[PolicyChange, ...]:
    with store.connect() as con:
        return changes(con, model_name=model_name, state=ChangeState.PENDING)


def _get(con: duckdb.DuckDBPyConnection, change_id: int) -> PolicyChange:
    found = changes(con, change_id=change_id)
    if not found:
        raise PolicyError(f"Policy change #{change_id} does not exist.")
    return found[0]


# --- rules --------------------------------------------------------------------------------


def confirm_rule(user: User, change: PolicyChange, grants: tuple[Grant, ...] = ()) -> Decision:
    """A second admin, not the proposer and not made admin by the proposer lately, confirms."""
    if not user.can(CONFIRM_PERMISSION):
        return Decision(
            False,
            f"{user.username} is {user.role_phrase}; only an admin may confirm policy changes.",
            Blocked.ROLE,
        )
    if change.state is not ChangeState.PENDING:
        return Decision(
            False, f"Policy change #{change.change_id} is {change.state}.", Blocked.STATE
        )
    if change.proposed_by == user.username:
        return Decision(
            False,
            f"Four-eyes: you ({user.username}) proposed policy change #{change.change_id}; "
            "another admin must confirm it.",
            Blocked.FOUR_EYES,
        )
    for grant in grants:
        if grant.granted_by == change.proposed_by:
            return Decision(
                False,
                f"Four-eyes: {user.username} got its rights from {grant.granted_by} (audit "
                f"record {grant.seq}), who proposed policy change #{change.change_id}. A user "
                f"created or given a role in the last {new_approver_hours():g} hours may not "
                "confirm what the admin who did it proposed; another admin must.",
                Blocked.NEW_APPROVER,
            )
    return allow(f"{user.username} may confirm policy change #{change.change_id}.")


def reject_rule(user: User, change: PolicyChange) -> Decision:
    """Rejecting keeps the stricter policy: any admin, or the proposer, may."""
    if not (user.can(CONFIRM_PERMISSION) or user.username == change.proposed_by):
        return Decision(
            False,
            f"{user.username} is {user.role_phrase}; only an admin or the proposer may reject "
            "a policy change.",
            Blocked.ROLE,
        )
    if change.state is not ChangeState.PENDING:
        return Decision(
            False, f"Policy change #{change.change_id} is {change.state}.", Blocked.STATE
        )
    return allow(f"{user.username} may reject policy change #{change.change_id}.")


def can_confirm(store: Store, user: User, change_id: int) -> Decision:
    with store.connect() as con:
        found = check(con, user)
        if not found.current:
            return Decision(False, found.message, Blocked.STALE)
        return confirm_rule(user, _get(con, change_id), recent_grants(con, user.username))


def can_reject(store: Store, user: User, change_id: int) -> Decision:
    with store.connect() as con:
        found = check(con, user)
        if not found.current:
            return Decision(False, found.message, Blocked.STALE)
        return reject_rule(user, _get(con, change_id))


# --- writing ------------------------------------------------------------------------------


def _rationale(rationale: str, what: str) -> str:
    if not rationale or not rationale.strip():
        raise PolicyError(f"A rationale is required to {what}; say why in a sentence or two.")
    return rationale.strip()


def _requirecurrent(con: duckdb.DuckDBPyConnection, user: User) -> None:
    found = check(con, user)
    if not found.current:
        raise_for(Decision(False, f"{found.message} Nothing was changed.", Blocked.STALE))


def _write_value(
    con: duckdb.DuckDBPyConnection,
    change: PolicyChange,
    actor: User,
    rationale: str,
    extra: dict[str, Any],
) -> int:
    """Set (or remove) the value of a change in the thresholds table, with its audit record."""
    key = change.key
    record = audit.append(
        con,
        actor=actor.username,
        actor_role=actor.role,
        action=apply_action(key, change.new),
        model_name=key.model_name,
        rationale=rationale,
        evidence={
            **evidence_for(key, change.new),
            "kind": key.kind.value,
            "old": change.old,
            "loosens": change.loosens,
            "change_id": change.change_id,
            "proposed_by": change.proposed_by,
            **extra,
        },
    )
    seq = int(record["seq"])
    where = [key.model_name, key.kind.value, key.name, key.feature]
    con.execute(
        "DELETE FROM policy_thresholds WHERE model_name = ? AND kind = ? AND name = ? "
        "AND feature = ?",
        where,
    )
    if change.new is not None:
        confirmed_by = actor.username if actor.username != change.proposed_by else None
        con.execute(
            "INSERT INTO policy_thresholds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*where, change.new, change.proposed_by, confirmed_by, record["recorded_at"], seq],
        )
    return seq


def propose(
    store: Store,
    user: User,
    key: ThresholdKey,
    value: float | None,
    *,
    rationale: str,
    bound: Bound,
    default: float | None,
    permission: str,
) -> ChangeOutcome:
    """Ask for `key` to become `value` (None: back to `default`); applied now if it does not
    loosen, else pending until a second admin confirms it. The caller has checked that the
    key and value make sense; `permission` is what the proposer's role must allow."""
    what = f"change the threshold of {key.describe()}"
    rationale = _rationale(rationale, what)
    require(user, permission, what)
    if value is not None and not math.isfinite(value):
        raise PolicyError(f"The threshold of {key.describe()} must be a finite number.")

    def work(con: duckdb.DuckDBPyConnection) -> ChangeOutcome:
        _requirecurrent(con, user)
        old = current(con, key)
        before, after = (
            (old if old is not None else default),
            (value if value is not None else default),
        )
        if value == old or (value is None and old is None):
            raise PolicyError(f"The threshold of {key.describe()} is already {before}.")
        loosens = before is not None and after is not None and bound.loosens(before, after)
        if before is None or after is None:
            loosens = after is None  # removing a bound with no default loosens
        drawn = con.execute("SELECT nextval('policy_change_seq')").fetchone()
        assert drawn is not None
        change = PolicyChange(
            int(drawn[0]), key, old, value, loosens, ChangeState.PENDING, user.username,
            user.role, now(), rationale, 0, None, None, None, None, None,
        )  # fmt: skip
        if loosens:
            record = audit.append(
                con,
                actor=user.username,
                actor_role=user.role,
                action=f"propose_{key.kind.value}_threshold",
                model_name=key.model_name,
                rationale=rationale,
                evidence={**evidence_for(key, value), "kind": key.kind.value, "old": old,
                          "loosens": True, "change_id": change.change_id},
            )  # fmt: skip
            change = replace(change, proposal_seq=int(record["seq"]))
            message = (
                f"Policy change #{change.change_id} ({key.describe()}: {before} → {after}) "
                "loosens the policy: it waits for a second admin to confirm it "
                f"(vigil policy confirm {change.change_id})."
            )
        else:
            seq = _write_value(con, change, user, rationale, {})
            change = replace(change, state=ChangeState.APPLIED, proposal_seq=seq)
            message = f"The threshold of {key.describe()} is now {after} (was {before})."
        _insert_change(con, change)
        return ChangeOutcome(change, message)

    return write(store, f"Change the threshold of {key.describe()}", work)


def _insert_change(con: duckdb.DuckDBPyConnection, change: PolicyChange) -> None:
    key = change.key
    con.execute(
        f"INSERT INTO policy_changes ({_CHANGE_COLUMNS}) VALUES "
        f"({', '.join('?' * 19)})",
        [
            change.change_id, key.model_name, key.kind.value, key.name, key.feature,
            change.old, change.new, change.loosens, change.state.value, change.proposed_by,
            change.proposed_by_role, change.proposed_at, change.rationale, change.proposal_seq,
            None, None, None, None, None,
        ],
    )  # fmt: skip


def _settle(
    con: duckdb.DuckDBPyConnection,
    change: PolicyChange,
    user: User,
    state: ChangeState,
    rationale: str,
    seq: int,
) -> PolicyChange:
    """Mark a pending change decided; exactly one of two racing deciders gets here."""
    at = now()
    settled = con.execute(
        "UPDATE policy_changes SET state = ?, decided_by = ?, decided_by_role = ?, "
        "decided_at = ?, decision_rationale = ?, decision_seq = ? "
        "WHERE change_id = ? AND state = 'pending' RETURNING 1",
        [state.value, user.username, user.role, at, rationale, seq, change.change_id],
    ).fetchall()
    if not settled:
        raise PolicyError(
            f"Policy change #{change.change_id} was decided by someone else meanwhile; "
            "nothing was changed."
        )
    return replace(
        change, state=state, decided_by=user.username, decided_by_role=user.role,
        decided_at=at, decision_rationale=rationale, decision_seq=seq,
    )  # fmt: skip


def confirm(store: Store, user: User, change_id: int, rationale: str) -> ChangeOutcome:
    """A second admin confirms a pending change that loosens the policy; it applies now."""
    rationale = _rationale(rationale, f"confirm policy change #{change_id}")

    def work(con: duckdb.DuckDBPyConnection) -> ChangeOutcome:
        _requirecurrent(con, user)
        change = _get(con, change_id)
        raise_for(confirm_rule(user, change, recent_grants(con, user.username)))
        if current(con, change.key) != change.old:
            raise PolicyError(
                f"The threshold of {change.key.describe()} changed since policy change "
                f"#{change_id} was proposed; reject it and propose again."
            )
        seq = _write_value(
            con, change, user, rationale,
            {"confirmed_by": user.username, "proposal_seq": change.proposal_seq,
             "proposal_rationale": change.rationale},
        )  # fmt: skip
        settled = _settle(con, change, user, ChangeState.APPLIED, rationale, seq)
        shown = change.new if change.new is not None else "its default"
        message = (
            f"Policy change #{change_id} confirmed: the threshold of {change.key.describe()} "
            f"is now {shown}."
        )
        return ChangeOutcome(settled, message)

    return write(store, f"Confirm policy change #{change_id}", work)


def reject(store: Store, user: User, change_id: int, rationale: str) -> ChangeOutcome:
    """Turn down a pending change; the threshold stays as it is."""
    rationale = _rationale(rationale, f"reject policy change #{change_id}")

    def work(con: duckdb.DuckDBPyConnection) -> ChangeOutcome:
        _requirecurrent(con, user)
        change = _get(con, change_id)
        raise_for(reject_rule(user, change))
        record = audit.append(
            con,
            actor=user.username,
            actor_role=user.role,
            action="reject_policy_change",
            model_name=change.key.model_name,
            rationale=rationale,
            evidence={**evidence_for(change.key, change.new), "kind": change.key.kind.value,
                      "change_id": change_id, "proposed_by": change.proposed_by},
        )  # fmt: skip
        settled = _settle(con, change, user, ChangeState.REJECTED, rationale, int(record["seq"]))
        message = f"Policy change #{change_id} rejected; {change.key.describe()} is unchanged."
        return ChangeOutcome(settled, message)

    return write(store, f"Reject policy change #{change_id}", work)
