"""The settable evidence policies: review cadence per materiality tier and raw-log retention.

They live in the store (table evidence_policy), not in the environment, because changing
them changes what is overdue and what may be deleted: the change is made by a named person
with a rationale and lands in the audit log. An absent row means the default below.

Defaults: high-tier models are reviewed every 12 months, medium every 24, low every 36
(SR 26-2 and PRA SS1/23 leave the frequency to the firm's policy, scaled to materiality).
Raw prediction logs are kept for 6 months, which is also the floor: EU AI Act Art. 26(6)
requires deployers of high-risk systems to keep the logs at least six months.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from vigil.core.evidence.common import (
    ADMIN_ROLES,
    RISK_ROLES,
    EvidenceError,
    check_text,
    now,
    require_role,
)
from vigil.core.evidence.inventory import MaterialityTier
from vigil.core.govern import audit
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

DEFAULT_CADENCE_MONTHS: dict[MaterialityTier, int] = {
    MaterialityTier.HIGH: 12,
    MaterialityTier.MEDIUM: 24,
    MaterialityTier.LOW: 36,
}
MAX_CADENCE_MONTHS = 60
DEFAULT_RETENTION_MONTHS = 6
MIN_RETENTION_MONTHS = 6
MAX_RETENTION_MONTHS = 240
RETENTION_KEY = "log_retention_months"


def cadence_key(tier: MaterialityTier) -> str:
    return f"review_cadence_months:{tier.value}"


@dataclass(frozen=True)
class PolicyValue:
    name: str
    value: int
    default: int
    set_by: str | None  # None: the default applies
    set_at: dt.datetime | None


@dataclass(frozen=True)
class Policy:
    cadence: tuple[tuple[MaterialityTier, PolicyValue], ...]
    retention: PolicyValue

    def cadence_months(self, tier: MaterialityTier) -> int:
        return dict(self.cadence)[tier].value

    @property
    def retention_months(self) -> int:
        return self.retention.value


def _value(stored: dict[str, tuple[str, str, dt.datetime]], name: str, default: int) -> PolicyValue:
    if name not in stored:
        return PolicyValue(name, default, default, None, None)
    value, by, at = stored[name]
    return PolicyValue(name, int(value), default, by, at)


def read_policy(con: duckdb.DuckDBPyConnection) -> Policy:
    stored = {
        r[0]: (r[1], r[2], r[3])
        for r in con.execute("SELECT name, value, set_by, set_at FROM evidence_policy").fetchall()
    }
    return Policy(
        cadence=tuple(
            (tier, _value(stored, cadence_key(tier), months))
            for tier, months in DEFAULT_CADENCE_MONTHS.items()
        ),
        retention=_value(stored, RETENTION_KEY, DEFAULT_RETENTION_MONTHS),
    )


def policy(store: Store) -> Policy:
    with store.connect() as con:
        return read_policy(con)


def _set(
    con: duckdb.DuckDBPyConnection,
    user: User,
    name: str,
    old: int,
    new: int,
    action: str,
    rationale: str,
) -> None:
    if old == new:
        raise EvidenceError(f"{name} is already {new}; nothing to change.")
    con.execute(
        "INSERT OR REPLACE INTO evidence_policy VALUES (?, ?, ?, ?)",
        [name, str(new), user.username, now()],
    )
    audit.append(
        con,
        actor=user.username,
        actor_role=user.role,
        action=action,
        rationale=rationale,
        evidence={"policy": name, "old": old, "new": new},
    )


def set_review_cadence(
    store: Store, user: User, tier: MaterialityTier | str, months: int, rationale: str
) -> Policy:
    """How often models of a tier are reviewed (approvers and admins: model risk's call)."""
    tier = MaterialityTier(tier)
    require_role(user, RISK_ROLES, f"change the review cadence of {tier.value}-tier models")
    rationale = check_text(rationale, "a rationale for the new review cadence")
    if not 1 <= int(months) <= MAX_CADENCE_MONTHS:
        raise EvidenceError(
            f"A review cadence of {months} months for {tier.value}-tier models is out of range; "
            f"use 1 to {MAX_CADENCE_MONTHS} months."
        )
    with store.transaction() as con:
        old = read_policy(con).cadence_months(tier)
        _set(con, user, cadence_key(tier), old, int(months), "set_review_cadence", rationale)
        return read_policy(con)


def set_retention(store: Store, user: User, months: int, rationale: str) -> Policy:
    """How long raw prediction logs are kept (admins; never under six months)."""
    require_role(user, ADMIN_ROLES, "change the retention of raw logs")
    rationale = check_text(rationale, "a rationale for the new retention")
    if int(months) < MIN_RETENTION_MONTHS:
        raise EvidenceError(
            f"Raw logs must be kept at least {MIN_RETENTION_MONTHS} months (EU AI Act Art. "
            f"26(6)); {months} months is too short."
        )
    if int(months) > MAX_RETENTION_MONTHS:
        raise EvidenceError(f"A retention of {months} months is more than {MAX_RETENTION_MONTHS}.")
    with store.transaction() as con:
        old = read_policy(con).retention_months
        _set(con, user, RETENTION_KEY, old, int(months), "set_log_retention", rationale)
        return read_policy(con)
