"""AppTest: every role sees who has which role; only admins get the forms."""

from __future__ import annotations

from tests.app.helpers import run_page, texts
from vigil.core.store.connection import Store


def test_admin_gets_user_forms(demo_store: Store) -> None:
    at = run_page(demo_store, "users", user="adam")
    assert not at.exception
    labels = [b.label for b in at.button]
    assert {"Add user", "Change role", "Disable", "Enable"} <= set(labels)
    table = at.dataframe[0].value
    assert dict(zip(table["user"], table["role"], strict=True)) == {
        "adam": "admin",
        "dana": "analyst",
        "omar": "approver",
        "rita": "approver",
        "vic": "viewer",
    }


def test_approver_sees_roles_but_no_forms(demo_store: Store) -> None:
    at = run_page(demo_store, "users", user="rita")
    assert not at.exception
    assert not {"Add user", "Change role"} & {b.label for b in at.button}
    assert "only admins change users" in texts(at)
