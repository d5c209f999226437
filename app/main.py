"""Vigil's dashboard entry point: `streamlit run app/main.py` (or `vigil serve`)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pages
from app.context import START_PAGE_KEY, PageContext, login, sidebar
from core.errors import VigilError
from core.store import Store


def discover_pages() -> list[ModuleType]:
    modules = [
        importlib.import_module(f"pages.{info.name}")
        for info in pkgutil.iter_modules(pages.__path__)
    ]
    return sorted((m for m in modules if hasattr(m, "PAGE")), key=lambda m: m.PAGE.order)


def page_runner(module: ModuleType, ctx: PageContext) -> Callable[[], None]:
    def run() -> None:
        spec = module.PAGE
        if spec.needs_model and ctx.version is None:
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


def main() -> None:
    st.set_page_config(page_title="Vigil", page_icon=":material/shield:", layout="wide")
    store = Store.default()
    user = login(store)
    modules = discover_pages()
    start = st.session_state.get(START_PAGE_KEY, "overview")
    ctx_holder: list[PageContext] = []
    navigation = st.navigation(
        [
            st.Page(
                page_runner_lazy(module, ctx_holder),
                title=module.PAGE.title,
                icon=module.PAGE.icon,
                url_path=module.PAGE.url_path,
                default=module.PAGE.url_path == start,
            )
            for module in modules
        ]
    )
    ctx_holder.append(sidebar(store, user))
    navigation.run()


def page_runner_lazy(module: ModuleType, holder: list[PageContext]) -> Callable[[], None]:
    """The sidebar is drawn after the navigation menu, so pages read the context late."""

    def run() -> None:
        page_runner(module, holder[0])()

    run.__name__ = f"page_{module.PAGE.url_path}"
    return run


main()
