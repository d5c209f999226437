"""Sign-in, the session's checks on every rerun, the shared sidebar and PageContext.

Every rerun of a signed-in session first asks the store whether the user is still who the
session claims (role, status, no access change since sign-in) and signs the session out if
not, or if it was idle longer than VIGIL_SESSION_IDLE_MINUTES. That check and every choice
the sidebar offers are read in one unit of work (core.views.sidebar).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import streamlit as st

from vigil.app.cache import remember_state, store_state
from vigil.app.ui import day, when
from vigil.core import settings
from vigil.core.errors import AuthError, StoreBusyError
from vigil.core.govern import auth
from vigil.core.govern.auth import User
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.registry.versions import ModelVersion
from vigil.core.store.connection import Store
from vigil.core.views.sidebar import Picks, SidebarData, sidebar_data

USER_KEY = "vigil_user"
SIGNED_IN_KEY = "vigil_signed_in_at"  # UTC, when this session signed in
LAST_SEEN_KEY = "vigil_last_seen_at"  # UTC, the session's latest rerun
NOTICE_KEY = "vigil_sign_in_notice"  # why the session was signed out, shown on the form
SIDEBAR_KEY = "vigil_sidebar_data"  # this rerun's sidebar data, read once at sign-in check
START_PAGE_KEY = "vigil_start_page"  # the page a session opens on (tests and deep links)
LAST_SIDEBAR_KEY = "vigil_last_sidebar"  # (when, SidebarData) of the last successful read
BUSY_GRACE = dt.timedelta(seconds=60)  # how old a principal check may be while the store is busy
GRANULARITIES = ("day", "week", "month")
PREDICTIONS = "predictions"  # the windows choice for "every N predictions"
ALL = "All rows"


@dataclass(frozen=True)
class PageContext:
    store: Store
    user: User
    model_name: str | None
    version: ModelVersion | None
    selection: Selection | None
    granularity: str | int  # "day" | "week" | "month", or N: every N predictions


@st.cache_resource(show_spinner=False)
def _bootstrap_admin(home: str) -> None:
    """Create the first admin from the environment, once per process."""
    auth.ensure_admin_from_env(Store(Path(home)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def current_user() -> User | None:
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, User) else None


def sign_out(notice: str | None = None) -> None:
    """Everything goes: the next person to sign in on this browser starts afresh and inherits
    no selection, half-typed rationale or open dialog."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _picks() -> Picks:
    return Picks(
        st.session_state.get("vigil_model"),
        st.session_state.get("vigil_version"),
        st.session_state.get("vigil_segment_column"),
    )


def _session_user(store: Store) -> User | None:
    """The signed-in user if the session is still valid; else signed out (and None)."""
    user = current_user()
    if user is None:
        return None
    now = _now()
    signed_in = st.session_state.setdefault(SIGNED_IN_KEY, now)
    last_seen = st.session_state.get(LAST_SEEN_KEY, now)
    idle = float(settings.get("session_idle_minutes"))
    if now - last_seen > dt.timedelta(minutes=idle):
        sign_out(f"Signed out after {idle:g} minutes without activity. Sign in again.")
        return None
    try:
        data = sidebar_data(store, user, signed_in, _picks())
        st.session_state[LAST_SIDEBAR_KEY] = (now, data)
        if data.snapshot is not None:
            remember_state(store, data.snapshot)
    except StoreBusyError:
        data = _recent_sidebar(now)
    if not data.principal.current:
        sign_out(f"{data.principal.message} You were signed out; sign in again.")
        return None
    st.session_state[LAST_SEEN_KEY] = now
    st.session_state[SIDEBAR_KEY] = data
    return user


def _recent_sidebar(now: dt.datetime) -> SidebarData:
    """While an ingest keeps the store busy past the page's lock timeout: the session's last
    sidebar data (its principal check included) if read within BUSY_GRACE, else stop."""
    last = st.session_state.get(LAST_SIDEBAR_KEY)
    if last is not None and now - last[0] <= BUSY_GRACE:
        return cast(SidebarData, last[1])
    st.warning("The store is busy (an ingest or a command is writing). Reload in a moment.")
    st.stop()
    raise AssertionError("st.stop() ends the script")  # pragma: no cover


def _freshness_caption(store: Store, model: str) -> None:
    """Say how recent the data is: pages answer from the last published batch."""
    try:
        fresh = store_state(store).freshness(model)
    except StoreBusyError:
        st.sidebar.caption(
            ":material/hourglass_top: The store is busy (an ingest or a command is writing)."
        )
        return
    text = f"Data as of {when(fresh.as_of)}" if fresh.as_of else "No data ingested yet"
    if fresh.ingesting:
        text += " · a file is being ingested; it appears once complete"
    st.sidebar.caption(text)


def _has_users(store: Store) -> bool:
    """Whether to hide the first-admin hint; a busy store is not an empty one."""
    try:
        return auth.has_users(store)
    except StoreBusyError:
        return True


def _sign_in_form(store: Store) -> None:
    st.markdown("## :material/shield: Vigil")
    st.caption("Model monitoring and governance")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    if not _has_users(store):
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
            client = str(st.context.ip_address or "dashboard")
            user = auth.authenticate(store, username.strip(), password, client=client)
        except AuthError as err:
            st.error(str(err))
        except StoreBusyError:
            st.warning("The store is busy (an ingest or a command is writing). Sign in again in "
                       "a moment.")  # fmt: skip
        else:
            st.session_state[USER_KEY] = user
            st.session_state[SIGNED_IN_KEY] = st.session_state[LAST_SEEN_KEY] = _now()
            st.rerun()
    st.caption(
        "Demo store: the demo users and their one-time passwords were printed in the "
        "terminal that seeded it (`vigil serve` or `vigil demo`)."
    )


def login(store: Store) -> User:
    """The signed-in user, checked against the store; otherwise draw the sign-in form and stop
    the script."""
    _bootstrap_admin(str(store.home))
    user = _session_user(store)
    if user is not None:
        return user
    with st.columns([1, 1.3, 1])[1]:
        _sign_in_form(store)
    st.stop()
    raise AssertionError("st.stop() ends the script")  # pragma: no cover


def _pick_version(data: SidebarData) -> ModelVersion | None:
    by_name = {c.version.model_version: c for c in data.versions}
    if not by_name or data.version is None:
        return None
    st.session_state["vigil_version"] = data.version.model_version
    chosen = st.sidebar.selectbox(
        "Version", list(by_name), format_func=lambda v: by_name[v].label, key="vigil_version"
    )
    return by_name[chosen].version if chosen in by_name else data.version


PRESETS = {"all": None, "90": 90, "30": 30, "7": 7, "custom": None}
PRESET_WORDS = {
    "all": "All",
    "90": "Last 90 days",
    "30": "Last 30 days",
    "7": "Last 7 days",
    "custom": "Pick dates",
}


def _pick_range(
    data: SidebarData, model: str, version: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """By default the whole span of the version's traffic, so a reader sees when things began;
    presets count back from the newest logged day, not from today."""
    if data.data_range is None:
        st.sidebar.caption("This version has no logged traffic yet.")
        return None
    first, last = data.data_range[0].date(), data.data_range[1].date()
    preset = st.sidebar.radio(
        "Time range (UTC)",
        list(PRESETS),
        format_func=PRESET_WORDS.get,
        horizontal=True,
        key=f"vigil_preset_{model}_{version}",
        help="Presets end on the newest day with traffic. Windows are cut in UTC.",
    )
    if preset != "custom":
        days = PRESETS.get(preset or "all")
        start = first if days is None else max(first, last - dt.timedelta(days=days - 1))
        end = last
        st.sidebar.caption(f"{day(start)} to {day(end)}")
    else:
        key = f"vigil_range_{model}_{version}"
        if key not in st.session_state:
            st.session_state[key] = (first, last)
        picked = st.sidebar.date_input(
            "Dates (UTC, inclusive)", min_value=first, max_value=last, key=key
        )
        chosen = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
        if len(chosen) != 2:
            st.sidebar.caption("Pick an end date.")
        start, end = (chosen[0], chosen[-1]) if chosen else (first, last)
    return (
        dt.datetime.combine(start, dt.time()),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
    )


def _pick_windows() -> str | int:
    """Calendar windows, or windows of N consecutive predictions (every N predictions)."""
    choice = st.sidebar.radio(
        "Windows",
        [*GRANULARITIES, PREDICTIONS],
        format_func=lambda g: "every N predictions" if g == PREDICTIONS else g,
        index=1,
        horizontal=True,
        key="vigil_granularity",
        help="How charts and verdicts cut the time range: calendar windows (UTC), or windows "
        "of the same number of consecutive predictions.",
    )
    if choice != PREDICTIONS:
        return choice or "week"
    every = st.sidebar.number_input(
        "Predictions per window", min_value=100, step=500, value=2000, key="vigil_every"
    )
    return int(every)


def _pick_segment(data: SidebarData) -> Segment | None:
    column = st.sidebar.selectbox(
        "Segment",
        [ALL, *data.segment_columns],
        key="vigil_segment_column",
        help="Restrict every page to rows where one categorical column has one value.",
    )
    if column == ALL or column is None:
        return None
    value = st.sidebar.selectbox(f"{column} =", data.segment_values, key="vigil_segment_value")
    return None if value is None else Segment(column, str(value))


def sidebar(store: Store, user: User) -> PageContext:
    """Draw the shared selectors from what `login` read this rerun; return what pages see."""
    st.sidebar.markdown(f"**{user.username}** · {user.role}")
    if st.sidebar.button("Sign out", key="vigil_sign_out"):
        sign_out()
        st.rerun()
    st.sidebar.divider()
    data = st.session_state.pop(SIDEBAR_KEY, None)
    empty = PageContext(store, user, None, None, None, "day")
    if not isinstance(data, SidebarData):
        return empty
    if data.error:
        st.sidebar.error(data.error)
        return empty
    if data.model is None:
        st.sidebar.info("No model registered yet. Register one with `vigil register`.")
        return empty
    if st.session_state.get("vigil_model") not in data.models:
        st.session_state["vigil_model"] = data.model
    model = st.sidebar.selectbox("Model", data.models, key="vigil_model")
    _freshness_caption(store, model)
    version = _pick_version(data)
    if version is None or model != data.model:
        return PageContext(store, user, data.model, None, None, "day")
    bounds = _pick_range(data, model, version.model_version)
    granularity = _pick_windows()
    segment = _pick_segment(data)
    selection = (
        None
        if bounds is None
        else Selection(model, version.model_version, bounds[0], bounds[1], segment)
    )
    return PageContext(store, user, model, version, selection, granularity)
