"""Local users, roles and permissions. Passwords are stored as salted scrypt hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import duckdb

from vigil.core import settings
from vigil.core.errors import AuthError, PermissionDenied
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
MAX_FAILURES = 5
LOCK_MINUTES = 15
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


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


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def require(user: User, permission: str, action: str) -> None:
    """Raise PermissionDenied unless the user's role allows the permission."""
    if not user.can(permission):
        allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
        raise PermissionDenied(
            f"{user.username} is {user.role_phrase} and cannot {action}; it needs one of: {allowed}."
        )


def add_user(con: duckdb.DuckDBPyConnection, username: str, role: str, password: str) -> User:
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


def authenticate(store: Store, username: str, password: str) -> User:
    """The user, if the password matches; one message for every failure so names don't leak.

    After MAX_FAILURES wrong passwords in a row the account locks for LOCK_MINUTES, so a
    password cannot be guessed by trying many."""
    with store.transaction() as con:
        row = con.execute(
            "SELECT role, password_hash, disabled, failed_logins, locked_until FROM users "
            "WHERE username = ?",
            [username],
        ).fetchone()
        if row is not None and row[4] is not None and row[4] > _now():
            raise AuthError(
                f"Too many wrong passwords: this account is locked until {row[4]:%H:%M} UTC. "
                "Try again then, or ask an admin."
            )
        if row is None or row[2] or not check_password(password, row[1]):
            if row is not None:
                failures = row[3] + 1
                locked = (
                    _now() + dt.timedelta(minutes=LOCK_MINUTES)
                    if failures >= MAX_FAILURES
                    else None
                )
                con.execute(
                    "UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                    [0 if locked else failures, locked, username],
                )
            raise_after_commit = AuthError("Unknown user name or wrong password.")
        else:
            con.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?",
                [username],
            )
            return User(username, row[0])
    raise raise_after_commit


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
        return con.execute("SELECT count(*) FROM users").fetchone()[0] > 0


def ensure_admin_from_env(store: Store) -> User | None:
    """Create the first admin from VIGIL_ADMIN_USER / VIGIL_ADMIN_PASSWORD if none exists."""
    username, password = settings.get("admin_user"), settings.get("admin_password")
    if not username or not password:
        return None
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM users WHERE role = 'admin'").fetchone():
            return None
        return add_user(con, username, "admin", password)
