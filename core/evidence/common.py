"""Small rules every evidence module shares: who may act, what a rationale is, month arithmetic."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from vigil.core.errors import PermissionDenied, VigilError
from vigil.core.govern.auth import ROLES, User

RISK_ROLES = frozenset({"approver", "admin"})  # the second line: model risk and validation
CONTRIBUTOR_ROLES = frozenset({"analyst", "approver", "admin"})  # everyone but viewers
ADMIN_ROLES = frozenset({"admin"})
MIN_RATIONALE = 5


class EvidenceError(VigilError):
    """An inventory entry, finding, policy or pack request is invalid; the message says how."""


class StaleEditError(EvidenceError):
    """Someone changed the record after the page that submitted this change was loaded."""


def now() -> dt.datetime:
    """UTC now without tzinfo: how the store keeps every timestamp."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def require_role(user: User, roles: Iterable[str], action: str) -> None:
    """Raise PermissionDenied naming the roles that may, in the order ROLES lists them."""
    allowed = frozenset(roles)
    if user.role not in allowed:
        names = ", ".join(r for r in ROLES if r in allowed)
        raise PermissionDenied(
            f"{user.username} is {user.role_phrase} and cannot {action}; it needs one of: {names}."
        )


def check_text(value: str | None, what: str, minimum: int = MIN_RATIONALE) -> str:
    """A required free text (rationale, evidence, plan), stripped; refused when too short."""
    text = (value or "").strip()
    if len(text) < minimum:
        raise EvidenceError(
            f"{what[0].upper()}{what[1:]} is required (at least {minimum} characters): "
            "say what was done and why, for the audit record."
        )
    return text


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later (earlier when negative), clamped to the
    month's last day: 31 Aug + 6 months is 28 or 29 Feb."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))
