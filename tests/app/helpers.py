"""Run the real app (app/main.py) under Streamlit's AppTest, signed in, on a chosen page."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from vigil.app.context import START_PAGE_KEY, USER_KEY
from vigil.core.govern.auth import User
from vigil.core.monitor.selection import Selection
from vigil.core.store.connection import Store

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
DEMO_ROLES = {
    "dana": "analyst",
    "rita": "approver",
    "omar": "approver",
    "adam": "admin",
    "vic": "viewer",
}


def app_test(store: Store, timeout: float = 60) -> AppTest:
    """An AppTest of the whole app against `store` (VIGIL_HOME is pointed at it)."""
    os.environ["VIGIL_HOME"] = str(store.home)
    return AppTest.from_file(MAIN, default_timeout=timeout)


def run_page(
    store: Store, url_path: str, user: str = "rita", role: str | None = None, timeout: float = 60
) -> AppTest:
    """Sign `user` in (skipping the form, which tests/app/test_login.py covers) and open a page."""
    at = app_test(store, timeout)
    at.session_state[USER_KEY] = User(user, role or DEMO_ROLES[user])
    at.session_state[START_PAGE_KEY] = url_path
    at.run()
    return at


def texts(at: AppTest) -> str:
    """Everything a person reads on the page, joined: for asserting on visible words."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
        "metric",
        "text",
    ):
        for element in getattr(at, kind):
            value = getattr(element, "value", None)
            label = getattr(element, "label", None)
            parts.extend(str(x) for x in (label, value) if x is not None)
    return "\n".join(parts)


def default_selection(store: Store, version: str = "1.0", model: str = "credit-risk") -> Selection:
    """What the sidebar selects by default: every day the version has traffic (UTC days, the
    last one included), read straight from the log table."""
    with store.connect() as con:
        first, last = con.execute(
            f"SELECT min(served_at), max(served_at) FROM log_{model.replace('-', '_')} "
            "WHERE model_version = ?",
            [version],
        ).fetchone()  # type: ignore[misc]
    start = dt.datetime.combine(first.date(), dt.time())
    end = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    return Selection(model, version, start, end)


def pick_dates(at: AppTest, version: str, start: dt.date, end: dt.date) -> AppTest:
    """Choose 'Pick dates' in the sidebar and set the inclusive dates, as a person would."""
    at.sidebar.radio(key=f"vigil_preset_credit-risk_{version}").set_value("custom").run()
    at.sidebar.date_input(key=f"vigil_range_credit-risk_{version}").set_value((start, end))
    return at.run()
