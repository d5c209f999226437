"""Caching at the UI boundary only: results keyed by their arguments and the data version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from vigil.core.store.connection import Store
from vigil.core.views.overview import data_version

T = TypeVar("T")


@st.cache_data(show_spinner=False, ttl=3600, max_entries=256)
def _call(
    _fn: Callable[..., T], fn_key: str, version_key: tuple[Any, ...], *args: Any, **kwargs: Any
) -> T:
    return _fn(*args, **kwargs)


def cached(fn: Callable[..., T], store: Store, *args: Any, **kwargs: Any) -> T:
    """fn(store, *args, **kwargs), recomputed only when the store's data or registry changes."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    return _call(fn, key, data_version(store), store, *args, **kwargs)
