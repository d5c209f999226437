"""Who is acting, read again from the store: the stale-session check and recent grants.

A `User` object is a claim made when someone signed in (or a command authenticated). Every
governance action re-reads the user's stored role and status inside its own transaction and
refuses a principal whose stored standing differs, so a session opened before an admin
disabled or demoted someone cannot act on the old rights. The dashboard signs such a
session out on its next rerun (app/context.py calls `check`).

Grants: a user created, given a role or re-enabled within the last VIGIL_NEW_APPROVER_HOURS
may not approve (or confirm) what the admin who granted it is party to; the grants are read
from the audit log, which records every user change (core.govern.users).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from vigil.core import settings
from vigil.core.errors import PermissionDenied
from vigil.core.govern.auth import User

ACCESS_ACTIONS = ("user_add", "user_role", "user_disable", "user_enable", "user_password_reset")
GRANT_ACTIONS = ("user_add", "user_role", "user_enable")


class StalePrincipalError(PermissionDenied):
    """The acting user's stored role or status is not what the session or command claims."""


class Standing(StrEnum):
    CURRENT = "current"
    UNKNOWN = "unknown"  # no such user (deleted, or never existed)
    DISABLED = "disabled"
    ROLE_CHANGED = "role_changed"
    ACCESS_CHANGED = "access_changed"  # role, status or password changed since sign-in


@dataclass(frozen=True)
class PrincipalCheck:
    username: str
    standing: Standing
    stored_role: str | None
    message: str

    @property
    def current(self) -> bool:
        return self.standing is Standing.CURRENT


@dataclass(frozen=True)
class Grant:
    """An audited change that gave a user rights: who made it, when, in which record."""

    username: str
    granted_by: str
    action: str
    at: dt.datetime
    seq: int


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_approver_hours() -> float:
    return float(settings.get("new_approver_hours"))


def _changed_since(con: duckdb.DuckDBPyConnection, username: str, since: dt.datetime) -> str | None:
    """The newest access change of the user recorded after `since`, as 'action by actor'."""
    marks = ", ".join("?" * len(ACCESS_ACTIONS))
    row = con.execute(
        f"SELECT action, actor FROM audit_log WHERE action IN ({marks}) AND recorded_at > ? "
        "AND json_extract_string(evidence, '$.user') = ? ORDER BY seq DESC LIMIT 1",
        [*ACCESS_ACTIONS, since, username],
    ).fetchone()
    return None if row is None else f"{row[0].removeprefix('user_').replace('_', ' ')} by {row[1]}"


def check(
    con: duckdb.DuckDBPyConnection, user: User, *, signed_in_at: dt.datetime | None = None
) -> PrincipalCheck:
    """Is `user` (as claimed) still who the store says? With `signed_in_at`, an access change
    recorded since then also counts, even if it was changed back."""
    row = con.execute(
        "SELECT role, disabled FROM users WHERE username = ?", [user.username]
    ).fetchone()
    name = user.username
    if row is None:
        return PrincipalCheck(
            name, Standing.UNKNOWN, None, f"User {name} does not exist (any more)."
        )
    role, disabled = str(row[0]), bool(row[1])
    if disabled:
        return PrincipalCheck(name, Standing.DISABLED, role, f"User {name} has been disabled.")
    if role != user.role:
        return PrincipalCheck(
            name,
            Standing.ROLE_CHANGED,
            role,
            f"The role of {name} changed from {user.role} to {role} since signing in.",
        )
    if signed_in_at is not None:
        change = _changed_since(con, name, signed_in_at)
        if change is not None:
            return PrincipalCheck(
                name,
                Standing.ACCESS_CHANGED,
                role,
                f"The access of {name} changed since signing in ({change}).",
            )
    return PrincipalCheck(name, Standing.CURRENT, role, f"{name} is {user.role_phrase}.")


def require_current(con: duckdb.DuckDBPyConnection, user: User) -> None:
    """Refuse a principal whose stored role or status differs from what it claims."""
    found = check(con, user)
    if not found.current:
        raise StalePrincipalError(
            f"{found.message} Nothing was changed; sign in again to act with your current rights."
        )


def recent_grants(
    con: duckdb.DuckDBPyConnection, username: str, *, at: dt.datetime | None = None
) -> tuple[Grant, ...]:
    """Audited grants of rights to `username` within the last VIGIL_NEW_APPROVER_HOURS."""
    since = (at or now()) - dt.timedelta(hours=new_approver_hours())
    marks = ", ".join("?" * len(GRANT_ACTIONS))
    rows = con.execute(
        f"SELECT actor, action, recorded_at, seq FROM audit_log WHERE action IN ({marks}) "
        "AND recorded_at > ? AND json_extract_string(evidence, '$.user') = ? ORDER BY seq",
        [*GRANT_ACTIONS, since, username],
    ).fetchall()
    return tuple(Grant(username, str(a), str(act), t, int(s)) for a, act, t, s in rows)
