"""Every page of the dashboard, in its section, in the order the menu shows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from vigil.app.context import START_PAGE_KEY, PageContext
from vigil.core.errors import VigilError
from vigil.pages import (
    alerts,
    audit,
    calendar,
    coverage,
    data,
    drift,
    explain,
    fairness,
    findings,
    inventory,
    mitigation,
    overview,
    performance,
    registry,
    review,
    service,
    users,
)


@dataclass(frozen=True)
class Section:
    title: str
    pages: tuple[ModuleType, ...]


SECTIONS: tuple[Section, ...] = (
    Section("Monitor", (overview, drift, performance, service, alerts)),
    Section("Responsible AI", (fairness, explain, mitigation)),
    Section("Govern", (registry, review, audit, inventory, calendar, findings, coverage)),
    Section("Admin", (data, users)),
)
START_PAGE = "overview"


def _runner(module: ModuleType, holder: list[PageContext]) -> Callable[[], None]:
    """The sidebar is drawn after the navigation menu, so a page reads its context late."""

    def run() -> None:
        ctx = holder[0]
        if module.PAGE.needs_model and ctx.version is None:
            st.info(
                "Pick a model and version in the sidebar. No model is registered yet?"
                " Register one with `vigil register`, or seed the demo with `vigil demo`."
            )
            return
        try:
            module.render(ctx)
        except VigilError as err:
            st.error(str(err))

    run.__name__ = f"page_{module.PAGE.url_path}"
    return run


def navigation(role: str, holder: list[PageContext]) -> StreamlitPage:
    """The menu for one role: each section with the pages that role may open."""
    menu: dict[str, list[StreamlitPage]] = {}
    start = st.session_state.get(START_PAGE_KEY, START_PAGE)
    for section in SECTIONS:
        visible = [m for m in section.pages if m.PAGE.roles is None or role in m.PAGE.roles]
        if visible:
            menu[section.title] = [
                st.Page(
                    _runner(module, holder),
                    title=module.PAGE.title,
                    icon=module.PAGE.icon,
                    url_path=module.PAGE.url_path,
                    default=module.PAGE.url_path == start,
                )
                for module in visible
            ]
    return st.navigation(menu, expanded=True)  # every page in view: no "View more" fold
