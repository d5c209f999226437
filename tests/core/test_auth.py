"""Users, roles and password handling."""

from __future__ import annotations

import pytest

from vigil.core.errors import AuthError, PermissionDenied
from vigil.core.govern import auth
from vigil.core.store.connection import Store


def test_passwords_are_hashed_and_checked(store: Store) -> None:
    with store.transaction() as con:
        auth.add_user(con, "rita", "approver", "correct horse")
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert auth.authenticate(store, "rita", "correct horse") == auth.User("rita", "approver")
    with pytest.raises(AuthError, match=r"^Unknown user name or wrong password\.$"):
        auth.authenticate(store, "rita", "wrong horse")


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        (
            "Rita",
            "approver",
            "longenough",
            "User name 'Rita' must be 2–32 lower-case letters, digits, '.', '_' or '-', starting with a letter.",
        ),
        (
            "rita",
            "boss",
            "longenough",
            "Role 'boss' does not exist; choose one of viewer, analyst, approver, admin.",
        ),
        ("rita", "viewer", "short", "The password for rita must have at least 8 characters."),
    ],
)
def test_bad_users_are_refused(
    store: Store, name: str, role: str, password: str, message: str
) -> None:
    with store.transaction() as con, pytest.raises(AuthError) as err:
        auth.add_user(con, name, role, password)
    assert str(err.value) == message


def test_roles_and_permissions() -> None:
    viewer, analyst, approver = (
        auth.User("v", "viewer"),
        auth.User("a", "analyst"),
        auth.User("p", "approver"),
    )
    assert not viewer.can("ingest") and analyst.can("request_promotion") and approver.can("approve")
    assert not analyst.can("approve")
    with pytest.raises(
        PermissionDenied,
        match=r"^v is a viewer and cannot approve promotions; it needs one of: approver, admin\.$",
    ):
        auth.require(viewer, "approve", "approve promotions")


def test_first_admin_from_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ADMIN_USER", "root")
    monkeypatch.setenv("VIGIL_ADMIN_PASSWORD", "a-long-secret")
    assert auth.ensure_admin_from_env(store) == auth.User("root", "admin")
    assert auth.ensure_admin_from_env(store) is None  # only when no admin exists
    assert auth.authenticate(store, "root", "a-long-secret").role == "admin"
