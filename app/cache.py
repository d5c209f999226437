"""Caching at the UI boundary only: results keyed by their arguments and the store's version.

Reading the version opens the store (20-80 ms for DuckDB to open a file nobody else in the
process has open), so a page's script reads it once, in the sidebar's unit of work, and
reuses it until the script opens the store again (a cache miss or a write may have changed
it): a rerun whose calls all hit the cache opens the store once.

While an ingest writes, a page waits at most VIGIL_PAGE_LOCK_TIMEOUT for the store. Past it,
a cached call answers with the last result it computed for the same arguments and says from
when; the rest of that script run does not wait again.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import streamlit as st

from vigil.app.ui import when
from vigil.core.errors import StoreBusyError
from vigil.core.store.connection import Store, opens_in_this_thread
from vigil.core.store.pending import Snapshot, snapshot

T = TypeVar("T")
LAST_RESULTS = 256  # results kept for answering while the store is busy


@st.cache_data(show_spinner=False, ttl=3600, max_entries=256)
def _call(
    _fn: Callable[..., T], fn_key: str, version_key: tuple[Any, ...], *args: Any, **kwargs: Any
) -> T:
    return _fn(*args, **kwargs)


@dataclass(frozen=True)
class _Last:
    value: Any
    at: dt.datetime  # when it was computed (UTC)


class _LastResults:
    """The latest result per call, shared by every session of the process (like the cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, _Last] = OrderedDict()

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = _Last(value, dt.datetime.now(dt.UTC).replace(tzinfo=None))
            self._items.move_to_end(key)
            while len(self._items) > LAST_RESULTS:
                self._items.popitem(last=False)

    def get(self, key: str) -> _Last | None:
        with self._lock:
            return self._items.get(key)


@st.cache_resource(show_spinner=False)
def _last_results() -> _LastResults:
    return _LastResults()


class _ThisRun(threading.local):
    """Per script thread: the snapshot read (and the opens count it was read at), and whether
    the store was found busy since the thread's last successful open."""

    snapshot: tuple[tuple[str, int], Snapshot] | None = None
    busy_at: tuple[str, int] | None = None
    noted_at: tuple[str, int] | None = None


_run = _ThisRun()


def _mark(store: Store) -> tuple[str, int]:
    return str(store.home), opens_in_this_thread()


def store_state(store: Store) -> Snapshot:
    """The store's version and each model's freshness, read at most once between two opens of
    the store by this thread. Raises StoreBusyError (at once if it was busy just before)."""
    if _run.snapshot is not None and _run.snapshot[0] == _mark(store):
        return _run.snapshot[1]
    if _run.busy_at == _mark(store):
        raise StoreBusyError("The store was busy a moment ago.")
    try:
        with store.connect() as con:
            state = snapshot(con)
    except StoreBusyError:
        _run.busy_at = _mark(store)
        raise
    _run.snapshot = (_mark(store), state)
    return state


def remember_state(store: Store, state: Snapshot) -> None:
    """A snapshot this thread just read in its own unit of work (the sidebar's): cache hits
    until the next open need no open of their own."""
    _run.snapshot = (_mark(store), state)


def _note_stale(at: dt.datetime, store: Store) -> None:
    if _run.noted_at == _mark(store):
        return
    _run.noted_at = _mark(store)
    st.caption(
        f":material/hourglass_top: The store is busy (an ingest or a command is writing), so "
        f"this page shows results computed at {when(at)}; they update once it is free."
    )


def cached(fn: Callable[..., T], store: Store, *args: Any, **kwargs: Any) -> T:
    """fn(store, *args, **kwargs), recomputed only when the store's data or registry changes;
    the last result for the same arguments while the store is busy."""
    key = f"{fn.__module__}.{fn.__qualname__}"
    call_key = f"{store.home}|{key}|{args!r}|{sorted(kwargs.items())!r}"
    try:
        result = _call(fn, key, store_state(store).version, store, *args, **kwargs)
    except StoreBusyError:
        last = _last_results().get(call_key)
        if last is None:
            raise
        _run.busy_at = _mark(store)
        _note_stale(last.at, store)
        return cast(T, last.value)
    _last_results().put(call_key, result)
    return result
