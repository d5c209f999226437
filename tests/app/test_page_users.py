"""AppTest: every role sees who has which role; only admins get the forms."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest

from tests.app.helpers import run_page, texts
from vigil.app.context import LAST_SEEN_KEY
from vigil.core.govern import users
from vigil.core.govern.auth import User
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


def sign_in_form_shown(at) -> bool:
    return [t.label for t in at.text_input] == ["User name", "Password"]


@pytest.mark.parametrize(
    "change",
    [
        lambda st: users.set_disabled(st, User("adam", "admin"), "rita", True, "Left the bank."),
        lambda st: users.set_role(st, User("adam", "admin"), "rita", "viewer", "Demoted."),
    ],
    ids=["disabled", "demoted"],
)
def test_a_session_is_signed_out_when_its_user_changes(demo_copy: Store, change) -> None:
    """Issue 9: a user disabled or demoted while signed in kept the old rights."""
    at = run_page(demo_copy, "review", user="rita")
    assert "Reject" in [b.label for b in at.button]
    change(demo_copy)
    at.run()
    assert not at.exception
    assert sign_in_form_shown(at)
    assert "You were signed out; sign in again." in next(i.value for i in at.info)
    assert "Reject" not in [b.label for b in at.button]


def test_a_role_changed_and_back_since_sign_in_still_signs_out(demo_copy: Store) -> None:
    at = run_page(demo_copy, "users", user="rita")
    adam = User("adam", "admin")
    users.set_role(demo_copy, adam, "rita", "viewer", "Suspended.")
    users.set_role(demo_copy, adam, "rita", "approver", "Reinstated.")
    at.run()
    assert sign_in_form_shown(at)
    assert [i.value for i in at.info] == [
        "The access of rita changed since signing in (role by adam). You were signed out; "
        "sign in again."
    ]


def test_an_idle_session_is_signed_out(demo_store: Store, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_SESSION_IDLE_MINUTES", "30")
    at = run_page(demo_store, "users", user="vic")
    assert not sign_in_form_shown(at)
    at.session_state[LAST_SEEN_KEY] = dt.datetime.now(dt.UTC).replace(tzinfo=None) - (
        dt.timedelta(minutes=31)
    )
    at.run()
    assert sign_in_form_shown(at)
    assert [i.value for i in at.info] == [
        "Signed out after 30 minutes without activity. Sign in again."
    ]


def test_the_sidebar_opens_the_store_once_per_rerun(demo_store: Store, monkeypatch) -> None:
    opened: list[str] = []
    real = Store.connect

    def counting(self: Store, timeout_s: float | None = None):  # type: ignore[no-untyped-def]
        opened.append(traceback.extract_stack(limit=2)[0].name)  # who opened it
        return real(self, timeout_s)

    at = run_page(demo_store, "users", user="adam")  # the users page itself reads once
    monkeypatch.setattr(Store, "connect", counting)
    at.run()
    assert not at.exception
    assert sorted(opened) == ["_table", "sidebar_data"], opened
