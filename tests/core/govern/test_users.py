"""User administration and sign-in lockout."""

from __future__ import annotations

import pytest

from vigil.core.errors import AuthError, PermissionDenied
from vigil.core.govern import audit, auth, users
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

ADMIN = User("root", "admin")


@pytest.fixture
def with_admin(store: Store) -> Store:
    with store.transaction() as con:
        auth.add_user(con, "root", "admin", "root-password")
    return store


def test_role_changes_are_audited(with_admin: Store) -> None:
    users.add(with_admin, ADMIN, "rita", "analyst", "rita-password", "new risk officer")
    users.set_role(with_admin, ADMIN, "rita", "approver", "passed approver training")
    with with_admin.connect() as con:
        records = audit.read_records(con)
        assert audit.verify(con).valid
    assert [(r["action"], r["evidence"]) for r in records] == [
        ("user_add", '{"role": "analyst", "user": "rita"}'),
        ("user_role", '{"from_role": "analyst", "to_role": "approver", "user": "rita"}'),
    ]
    assert auth.authenticate(with_admin, "rita", "rita-password").role == "approver"


def test_only_admins_manage_users_and_the_last_admin_stays(with_admin: Store) -> None:
    with pytest.raises(PermissionDenied, match=r"^vic is a viewer and cannot change roles"):
        users.set_role(with_admin, User("vic", "viewer"), "root", "viewer", "x")
    with pytest.raises(
        AuthError, match=r"^root is the last active admin; make someone else admin first\.$"
    ):
        users.set_role(with_admin, ADMIN, "root", "viewer", "stepping down")
    with pytest.raises(
        AuthError, match=r"^Give a reason for the change; it goes into the audit trail\.$"
    ):
        users.add(with_admin, ADMIN, "bob", "viewer", "bob-password", "  ")


def test_disabled_users_cannot_sign_in(with_admin: Store) -> None:
    users.add(with_admin, ADMIN, "bob", "viewer", "bob-password", "auditor")
    users.set_disabled(with_admin, ADMIN, "bob", True, "left the bank")
    with pytest.raises(AuthError, match=r"^Unknown user name or wrong password\.$"):
        auth.authenticate(with_admin, "bob", "bob-password")
