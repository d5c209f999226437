"""Local users, roles, permissions and sign-in.

Passwords are Argon2id hashes (core/govern/passwords.py); repeated failures slow down per
account and per client instead of locking anyone out (core/govern/login_throttle.py).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import duckdb

from vigil.core import settings
from vigil.core.errors import AuthError, PermissionDenied
from vigil.core.govern import audit, audit_key, login_throttle, passwords
from vigil.core.govern.passwords import hash_password
from vigil.core.store.connection import Store

ROLES = ("viewer", "analyst", "approver", "admin")
ROLE_HELP = {
    "viewer": "sees every page, changes nothing",
    "analyst": "registers models, ingests data, edits alert rules, requests promotions",
    "approver": "approves, rejects and rolls back promotions (never their own)",
    "admin": "everything an approver can do, plus users and gate overrides",
}
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "ingest": frozenset({"analyst", "admin"}),
    "register": frozenset({"analyst", "admin"}),
    "edit_rules": frozenset({"analyst", "admin"}),
    "request_promotion": frozenset({"analyst", "approver", "admin"}),
    "approve": frozenset({"approver", "admin"}),
    "reject": frozenset({"approver", "admin"}),
    "rollback": frozenset({"approver", "admin"}),
    "override_gate": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
}
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 8
FAILED = "Unknown user name or wrong password."
SYSTEM_ACTOR = ("vigil", "system")  # who the audit log names for what Vigil does by itself


@dataclass(frozen=True)
class User:
    username: str
    role: str

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    @property
    def role_phrase(self) -> str:
        """'an approver', 'a viewer': for sentences about the user."""
        return ("an " if self.role[0] in "aeiou" else "a ") + self.role


def require(user: User, permission: str, action: str) -> None:
    """Raise PermissionDenied unless the user's role allows the permission."""
    if not user.can(permission):
        allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
        raise PermissionDenied(
            f"{user.username} is {user.role_phrase} and cannot {action}; it needs one of: {allowed}."
        )


def add_user(con: duckdb.DuckDBPyConnection, username: str, role: str, password: str) -> User:
    """Insert a user (the caller audits it in the same transaction)."""
    audit_key.require_audit_key()
    if not USERNAME.match(username):
        raise AuthError(
            f"User name {username!r} must be 2–32 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter."
        )
    if role not in ROLES:
        raise AuthError(f"Role {role!r} does not exist; choose one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise AuthError(
            f"The password for {username} must have at least {MIN_PASSWORD} characters."
        )
    if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise AuthError(f"User {username} already exists.")
    con.execute(
        "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
        [username, role, hash_password(password), _now()],
    )
    return User(username, role)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def authenticate(store: Store, username: str, password: str, client: str = "unspecified") -> User:
    """The user, if the password matches. Every failure says the same thing and costs the same
    time whether or not the name exists; repeated failures slow down (see login_throttle),
    by account, by `client` (the caller's identifier: remote address, "cli") and by both."""
    audit_key.require_audit_key()
    policy = login_throttle.Policy.from_settings()
    client = client.strip() or "unspecified"

    def begin(
        con: duckdb.DuckDBPyConnection,
    ) -> tuple[login_throttle.Attempt, tuple[str, str, bool] | None]:
        attempt = login_throttle.reserve(con, username, client, login_throttle.now(), policy)
        row = con.execute(
            "SELECT role, password_hash, disabled FROM users WHERE username = ?", [username]
        ).fetchone()
        return attempt, row

    attempt, row = login_throttle.retrying(store, begin)
    if not attempt.allowed:
        raise AuthError(
            f"Too many failed sign-ins: wait {math.ceil(attempt.wait_s)} s before trying again."
        )
    if row is None:
        passwords.spend_equal_time(password)
        raise AuthError(FAILED)
    role, stored, disabled = row
    checked = passwords.verify_password(password, stored)
    if not checked.ok or disabled:
        raise AuthError(FAILED)
    upgraded = passwords.hash_password(password) if checked.needs_upgrade else None

    def succeed(con: duckdb.DuckDBPyConnection) -> None:
        login_throttle.record_success(con, username, client, login_throttle.now(), policy)
        if upgraded is not None:
            # Compare-and-set: a password reset made meanwhile wins over the upgrade.
            con.execute(
                "UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?",
                [upgraded, username, stored],
            )

    login_throttle.retrying(store, succeed)
    return User(username, role)


def list_users(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, dt.datetime, bool]]:
    return con.execute(
        "SELECT username, role, created_at, disabled FROM users ORDER BY username"
    ).fetchall()


def get_user(con: duckdb.DuckDBPyConnection, username: str) -> User:
    row = con.execute(
        "SELECT role FROM users WHERE username = ? AND NOT disabled", [username]
    ).fetchone()
    if row is None:
        raise AuthError(f"User {username} does not exist or is disabled.")
    return User(username, row[0])


def has_users(store: Store) -> bool:
    with store.connect() as con:
        return con.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def ensure_admin_from_env(store: Store) -> User | None:
    """Create the first admin from VIGIL_ADMIN_USER / VIGIL_ADMIN_PASSWORD if none exists,
    with an audit record: who may approve is a governance fact from the very first user."""
    username, password = settings.get("admin_user"), settings.get("admin_password")
    if not username or not password:
        return None
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM users WHERE role = 'admin'").fetchone():
            return None
        user = add_user(con, username, "admin", password)
        audit.append(
            con,
            actor=SYSTEM_ACTOR[0],
            actor_role=SYSTEM_ACTOR[1],
            action="user_add",
            rationale="First admin created from VIGIL_ADMIN_USER and VIGIL_ADMIN_PASSWORD.",
            evidence={"user": username, "role": "admin", "source": "environment"},
        )
        return user
