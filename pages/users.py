"""Users: who may do what. Admins add users, change roles, disable and reset passwords."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.errors import VigilError
from vigil.core.govern import auth, users

PAGE = PageSpec(
    title="Users",
    icon=":material/group:",
    url_path="users",
    needs_model=False,
)


def _table(ctx: PageContext) -> list[str]:
    with ctx.store.connect() as con:
        rows = auth.list_users(con)
    st.dataframe(
        [
            {
                "user": name,
                "role": role,
                "what the role may do": auth.ROLE_HELP[role],
                "created (UTC)": created,
                "disabled": disabled,
            }
            for name, role, created, disabled in rows
        ],
        hide_index=True,
        width="stretch",
    )
    return [r[0] for r in rows]


def _apply(action: Callable[..., object], *args: object) -> None:
    try:
        action(*args)
    except VigilError as err:
        st.error(str(err))
    else:
        st.success("Done; the change is in the audit trail.")


def render(ctx: PageContext) -> None:
    st.title("Users and roles")
    names = _table(ctx)
    if not ctx.user.can("manage_users"):
        st.caption(f"You are signed in as {ctx.user.role_phrase}; only admins change users.")
        return
    add, change = st.columns(2)
    with add.form("user_add", clear_on_submit=True):
        st.markdown("**Add a user**")
        name = st.text_input("User name")
        role = st.selectbox("Role", auth.ROLES)
        password = st.text_input("Initial password", type="password")
        reason = st.text_input("Reason", key="add_reason")
        if st.form_submit_button("Add user"):
            _apply(users.add, ctx.store, ctx.user, name.strip(), role, password, reason)
    with change.form("user_change"):
        st.markdown("**Change a user**")
        target = st.selectbox("User", names)
        new_role = st.selectbox("New role", auth.ROLES)
        reason = st.text_input("Reason", key="change_reason")
        set_role = st.form_submit_button("Change role")
        disable = st.form_submit_button("Disable")
        enable = st.form_submit_button("Enable")
        if set_role:
            _apply(users.set_role, ctx.store, ctx.user, target, new_role, reason)
        elif disable or enable:
            _apply(users.set_disabled, ctx.store, ctx.user, target, disable, reason)
