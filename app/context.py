"""Login, the shared sidebar (model, version, time range, granularity, segment) and PageContext."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from vigil.app.cache import cached
from vigil.core.errors import AuthError, VigilError
from vigil.core.govern import auth
from vigil.core.govern.auth import User
from vigil.core.monitor.selection import (
    Segment,
    Selection,
    data_range,
    segment_columns,
    segment_values,
)
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.views.overview import version_summaries

USER_KEY = "vigil_user"
START_PAGE_KEY = "vigil_start_page"  # the page a session opens on (tests and deep links)
GRANULARITIES = ("day", "week", "month")
ALL = "All rows"


@dataclass(frozen=True)
class PageContext:
    store: Store
    user: User
    model_name: str | None
    version: ModelVersion | None
    selection: Selection | None
    granularity: str


@st.cache_resource(show_spinner=False)
def _bootstrap_admin(home: str) -> None:
    """Create the first admin from the environment, once per process."""
    auth.ensure_admin_from_env(Store(Path(home)))


def current_user() -> User | None:
    return st.session_state.get(USER_KEY)


def login(store: Store) -> User:
    """The signed-in user; otherwise draw the sign-in form and stop the script."""
    _bootstrap_admin(str(store.home))
    user = current_user()
    if user is not None:
        return user
    middle = st.columns([1, 1.3, 1])[1]
    with middle:
        st.markdown("## :material/shield: Vigil")
        st.caption("Model monitoring and governance")
        if not auth.has_users(store):
            st.warning(
                "No user exists yet. Create the first administrator on the server with "
                "`vigil users add NAME --role admin`, or start Vigil with VIGIL_ADMIN_USER and "
                "VIGIL_ADMIN_PASSWORD set."
            )
        with st.form("login"):
            username = st.text_input("User name", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            try:
                st.session_state[USER_KEY] = auth.authenticate(
                    store,
                    username.strip(),
                    password,
                    client=str(st.context.ip_address or "dashboard"),
                )
            except AuthError as err:
                st.error(str(err))
            else:
                st.rerun()
        st.caption(
            "Demo store: the demo users and their one-time passwords were printed in the "
            "terminal that seeded it (`vigil serve` or `vigil demo`)."
        )
    st.stop()


def _version_label(summary) -> str:
    alias = f" · {summary.alias}" if summary.alias else ""
    return f"{summary.model_version} · {summary.status_label}{alias}"


def _pick_model(store: Store) -> str | None:
    with store.connect() as con:
        names = registry.list_model_names(con)
    if not names:
        st.sidebar.info("No model registered yet. Register one with `vigil register`.")
        return None
    return st.sidebar.selectbox("Model", names, key="vigil_model")


def _pick_version(store: Store, model_name: str) -> ModelVersion:
    summaries = cached(version_summaries, store, model_name)
    labels = {s.model_version: _version_label(s) for s in summaries}
    default = next((s.model_version for s in summaries if s.alias == "champion"), None)
    options = list(labels)
    if st.session_state.get("vigil_version") not in options:
        st.session_state["vigil_version"] = default or options[-1]
    chosen = st.sidebar.selectbox("Version", options, format_func=labels.get, key="vigil_version")
    with store.connect() as con:
        return registry.get_version(con, model_name, chosen)


def _pick_range(
    store: Store, model_name: str, version: str
) -> tuple[dt.datetime, dt.datetime] | None:
    with store.connect() as con:
        bounds = data_range(con, model_name, version)
    if bounds is None:
        st.sidebar.caption("This version has no logged traffic yet.")
        return None
    first, last = bounds[0].date(), bounds[1].date()
    key = f"vigil_range_{model_name}_{version}"
    if key not in st.session_state:
        st.session_state[key] = (max(first, last - dt.timedelta(days=29)), last)
    picked = st.sidebar.date_input(
        "Time range (UTC)",
        min_value=first,
        max_value=last,
        key=key,
        help="Inclusive dates; windows are cut in UTC.",
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.sidebar.caption("Pick an end date.")
        picked = (picked[0], picked[0]) if isinstance(picked, tuple) else (picked, picked)
    start, end = picked
    return (
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
    )


def _pick_segment(store: Store, model_name: str, version: str) -> Segment | None:
    with store.connect() as con:
        columns = segment_columns(con, model_name, version)
    column = st.sidebar.selectbox(
        "Segment",
        [ALL, *columns],
        key="vigil_segment_column",
        help="Restrict every page to rows where one categorical column has one value.",
    )
    if column == ALL:
        return None
    with store.connect() as con:
        values = segment_values(con, model_name, version, column)
    value = st.sidebar.selectbox(f"{column} =", values, key="vigil_segment_value")
    return None if value is None else Segment(column, str(value))


def sidebar(store: Store, user: User) -> PageContext:
    """Draw the shared selectors and return what every page looks at."""
    st.sidebar.markdown(f"**{user.username}** · {user.role}")
    if st.sidebar.button("Sign out", key="vigil_sign_out"):
        # Everything goes: the next person to sign in on this browser starts afresh and
        # inherits no selection, half-typed rationale or open dialog.
        for key in list(st.session_state.keys()):
            del st.session_state[key]
        st.rerun()
    st.sidebar.divider()
    granularity = "day"
    try:
        model_name = _pick_model(store)
        if model_name is None:
            return PageContext(store, user, None, None, None, granularity)
        version = _pick_version(store, model_name)
        bounds = _pick_range(store, model_name, version.model_version)
        granularity = st.sidebar.radio(
            "Windows",
            GRANULARITIES,
            index=1,
            horizontal=True,
            key="vigil_granularity",
            help="How charts cut the time range.",
        )
        segment = _pick_segment(store, model_name, version.model_version)
        selection = (
            None
            if bounds is None
            else Selection(model_name, version.model_version, bounds[0], bounds[1], segment)
        )
    except VigilError as err:
        st.sidebar.error(str(err))
        return PageContext(store, user, None, None, None, granularity)
    return PageContext(store, user, model_name, version, selection, granularity)
