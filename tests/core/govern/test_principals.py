"""Stale sessions and sock puppets: a User object is a claim, re-checked against the store by
every action, and rights granted lately by a party to a request cannot approve it."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.cli.helpers import vigil
from tests.conftest import DEMO_PASSWORD
from tests.core.govern.people import add_people
from vigil.core.errors import PermissionDenied
from vigil.core.govern import actions, principals, requests, rules, users
from vigil.core.govern.auth import User
from vigil.core.govern.decisions import Blocked, FourEyesError
from vigil.core.govern.principals import StalePrincipalError, Standing
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM = User("adam", "admin")
RITA = User("rita", "approver")
OMAR = User("omar", "approver")
DRIFT = "Drift is the October shift; 1.1 was trained after it."


def standing(store: Store, user: User, signed_in_at: dt.datetime | None = None) -> Standing:
    with store.connect() as con:
        return principals.check(con, user, signed_in_at=signed_in_at).standing


def test_a_disabled_user_cannot_decide_with_an_old_session(demo_copy: Store) -> None:
    """Issue 9: rita, disabled while signed in, could still reject; the record said approver."""
    users.set_disabled(demo_copy, ADAM, "rita", True, "Left the bank.")
    assert standing(demo_copy, RITA) is Standing.DISABLED
    with pytest.raises(StalePrincipalError, match=r"^User rita has been disabled\. Nothing"):
        actions.reject(demo_copy, RITA, MODEL, "1.1", "Still here.")
    decision = rules.can_reject(demo_copy, RITA, MODEL, "1.1")
    assert (decision.allowed, decision.blocked) == (False, Blocked.STALE)
    assert requests.get_request(demo_copy, MODEL, "1.1") is not None


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE users SET role = 'viewer' WHERE username = 'rita'",
        "UPDATE users SET disabled = true WHERE username = 'rita'",
        "DELETE FROM users WHERE username = 'rita'",
    ],
    ids=["demoted", "disabled", "deleted"],
)
def test_a_direct_database_edit_of_the_user_takes_effect_at_once(demo_copy: Store, edit) -> None:
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT)
    with demo_copy.transaction() as con:
        con.execute(edit)
    for act in (actions.approve, actions.reject):
        with pytest.raises(StalePrincipalError):
            act(demo_copy, RITA, MODEL, "1.1", "Old rights.")
    with pytest.raises(StalePrincipalError):
        actions.rollback(demo_copy, RITA, MODEL, "Old rights.")
    assert requests.get_request(demo_copy, MODEL, "1.1") is not None


def test_a_demoted_admin_can_neither_override_nor_manage_users(demo_copy: Store) -> None:
    add_people(demo_copy, {"eve": "admin"})
    users.set_role(demo_copy, User("eve", "admin"), "adam", "approver", "Rotation.")
    with pytest.raises(StalePrincipalError, match="changed from admin to approver"):
        actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT)
    with pytest.raises(PermissionDenied):
        users.add(demo_copy, ADAM, "sock", "approver", "sock-password", "Helper.")


def test_an_access_change_since_sign_in_counts_even_if_undone(demo_copy: Store) -> None:
    signed_in = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    users.set_role(demo_copy, ADAM, "rita", "viewer", "Suspended pending review.")
    users.set_role(demo_copy, ADAM, "rita", "approver", "Review done.")
    assert standing(demo_copy, RITA) is Standing.CURRENT
    assert standing(demo_copy, RITA, signed_in) is Standing.ACCESS_CHANGED
    assert standing(demo_copy, OMAR, signed_in) is Standing.CURRENT


# --- sock puppets ---------------------------------------------------------------------------


def test_a_sock_puppet_cannot_approve_what_its_creator_overrode(demo_copy: Store) -> None:
    """Issue 9: an admin creates an approver and approves through it."""
    users.add(demo_copy, ADAM, "sock", "approver", "sock-password", "Extra approver.")
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT)
    sock = User("sock", "approver")
    decision = rules.can_approve(demo_copy, sock, MODEL, "1.1")
    assert (decision.allowed, decision.blocked) == (False, Blocked.NEW_APPROVER)
    assert decision.reason.startswith("Four-eyes: sock was created by adam 0 h ago (audit record ")
    assert "adam overrode its failed gates" in decision.reason
    with pytest.raises(FourEyesError):
        actions.approve(demo_copy, sock, MODEL, "1.1", "Looks fine to me.")
    assert actions.approve(demo_copy, RITA, MODEL, "1.1", "Reviewed.").status == "production"


def test_a_role_given_lately_counts_like_a_new_user(demo_copy: Store, monkeypatch) -> None:
    users.set_role(demo_copy, ADAM, "vic", "approver", "Covering holidays.")
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT)
    vic = User("vic", "approver")
    with pytest.raises(FourEyesError, match="vic was given its role by adam"):
        actions.approve(demo_copy, vic, MODEL, "1.1", "Approved.")
    monkeypatch.setenv("VIGIL_NEW_APPROVER_HOURS", "0")  # long enough ago
    assert rules.can_approve(demo_copy, vic, MODEL, "1.1").allowed


def test_a_new_approver_may_approve_what_its_creator_has_no_part_in(demo_copy: Store) -> None:
    add_people(demo_copy, {"eve": "admin"})
    users.add(demo_copy, ADAM, "sock", "approver", "sock-password", "Extra approver.")
    actions.override(demo_copy, User("eve", "admin"), MODEL, "1.1", DRIFT)
    assert rules.can_approve(demo_copy, User("sock", "approver"), MODEL, "1.1").allowed


def test_a_sock_puppet_admin_cannot_override_for_its_creator(demo_copy: Store) -> None:
    actions.reject(demo_copy, OMAR, MODEL, "1.1", "Redo the drift study.")
    actions.request_promotion(demo_copy, ADAM, MODEL, "1.1", "Drift study attached.")
    users.add(demo_copy, ADAM, "sock", "admin", "sock-password", "Second admin.")
    decision = rules.can_override(demo_copy, User("sock", "admin"), MODEL, "1.1")
    assert (decision.allowed, decision.blocked) == (False, Blocked.NEW_APPROVER)


def test_users_added_on_the_command_line_are_audited_and_count(demo_copy: Store) -> None:
    added = vigil(
        demo_copy.home,
        "users", "add", "sock", "--role", "approver", "--user", "adam",
        "--rationale", "Extra approver.",
        stdin="sock-password\n",
        env={"VIGIL_PASSWORD": DEMO_PASSWORD},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    with demo_copy.connect() as con:
        grants = principals.recent_grants(con, "sock")
    assert [(g.granted_by, g.action) for g in grants] == [("adam", "user_add")]
    actions.override(demo_copy, ADAM, MODEL, "1.1", DRIFT)
    with pytest.raises(FourEyesError):
        actions.approve(demo_copy, User("sock", "approver"), MODEL, "1.1", "Fine.")
