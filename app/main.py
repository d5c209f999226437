"""Vigil's dashboard entry point: `streamlit run app/main.py` (or `vigil serve`)."""

from __future__ import annotations

import streamlit as st

from vigil.app.context import PageContext, login, sidebar
from vigil.app.navigation import navigation
from vigil.app.ui import FAVICON, use_chart_template
from vigil.core.govern.audit_key import require_audit_key
from vigil.core.store.connection import Store


def main() -> None:
    st.set_page_config(page_title="Vigil", page_icon=FAVICON, layout="wide")
    use_chart_template()
    require_audit_key()  # production mode refuses to start without the audit key
    store = Store.for_pages()
    user = login(store)
    holder: list[PageContext] = []
    menu = navigation(user.role, holder)
    holder.append(sidebar(store, user))
    menu.run()


main()
