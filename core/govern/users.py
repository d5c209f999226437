"""User administration: add, change role, disable, reset password — each audited, since who
may approve models is itself a governance fact.

Every path that creates or changes a user goes through here (the Users page, `vigil users
add`), so the audit log names who made each change; core.govern.principals reads those
records to refuse sock-puppet approvals. The acting admin is re-read from the store inside
the same transaction: a demoted or disabled admin's old session cannot change users.
"""

from __future__ import annotations

import duckdb

from vigil.core.errors import AuthError
from vigil.core.govern import audit, auth
from vigil.core.govern.auth import User
from vigil.core.govern.passwords import hash_password
from vigil.core.govern.principals import require_current
from vigil.core.store.connection import Store


def _target_role(con: duckdb.DuckDBPyConnection, username: str) -> str:
    row = con.execute("SELECT role FROM users WHERE username = ?", [username]).fetchone()
    if row is None:
        raise AuthError(f"User {username} does not exist.")
    return str(row[0])


def _other_active_admins(con: duckdb.DuckDBPyConnection, username: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND username <> ?",
        [username],
    ).fetchone()
    return int(row[0]) if row else 0


def _reason(rationale: str) -> str:
    if not rationale or not rationale.strip():
        raise AuthError("Give a reason for the change; it goes into the audit trail.")
    return rationale.strip()


def _record(
    con: duckdb.DuckDBPyConnection, actor: User, action: str, rationale: str, **evidence: object
) -> None:
    audit.append(
        con,
        actor=actor.username,
        actor_role=actor.role,
        action=action,
        rationale=_reason(rationale),
        evidence=evidence,
    )


def add(store: Store, actor: User, username: str, role: str, password: str, rationale: str) -> User:
    auth.require(actor, "manage_users", "add users")
    _reason(rationale)
    with store.transaction() as con:
        require_current(con, actor)
        user = auth.add_user(con, username, role, password)
        _record(con, actor, "user_add", rationale, user=username, role=role)
    return user


def set_role(store: Store, actor: User, username: str, role: str, rationale: str) -> None:
    auth.require(actor, "manage_users", "change roles")
    if role not in auth.ROLES:
        raise AuthError(f"Role {role!r} does not exist; choose one of {', '.join(auth.ROLES)}.")
    _reason(rationale)
    with store.transaction() as con:
        require_current(con, actor)
        before = _target_role(con, username)
        if before == "admin" and role != "admin" and not _other_active_admins(con, username):
            raise AuthError(f"{username} is the last active admin; make someone else admin first.")
        con.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])
        _record(con, actor, "user_role", rationale, user=username, from_role=before, to_role=role)


def set_disabled(store: Store, actor: User, username: str, disabled: bool, rationale: str) -> None:
    auth.require(actor, "manage_users", "disable users")
    _reason(rationale)
    with store.transaction() as con:
        require_current(con, actor)
        role = _target_role(con, username)
        if disabled and role == "admin" and not _other_active_admins(con, username):
            raise AuthError(f"{username} is the last active admin and cannot be disabled.")
        con.execute("UPDATE users SET disabled = ? WHERE username = ?", [disabled, username])
        _record(con, actor, "user_disable" if disabled else "user_enable", rationale, user=username)


def reset_password(store: Store, actor: User, username: str, password: str, rationale: str) -> None:
    auth.require(actor, "manage_users", "reset passwords")
    if len(password) < auth.MIN_PASSWORD:
        raise AuthError(
            f"The password for {username} must have at least {auth.MIN_PASSWORD} characters."
        )
    _reason(rationale)
    with store.transaction() as con:
        require_current(con, actor)
        _target_role(con, username)
        con.execute(
            "UPDATE users SET password_hash = ? WHERE username = ?",
            [hash_password(password), username],
        )
        _record(con, actor, "user_password_reset", rationale, user=username)
