"""The UI cache: one read of the store's version per run of cache hits, and the last results
(with a note) instead of an error when an ingest keeps the store busy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.app.helpers import run_page, texts
from tests.core.factories import register_toy
from vigil.app import cache
from vigil.core.errors import StoreBusyError
from vigil.core.store import connection
from vigil.core.store.connection import Store

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def store_held(home: Path, seconds: float = 30) -> Iterator[None]:
    """Another process holding the store, as an ingest's slice would (for longer)."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from vigil.core.store.connection import Store
        with Store(Path({str(home)!r})).transaction() as con:
            print("locked", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.kill()
        proc.wait()


def _in_new_thread(work: Any) -> Any:
    """Run `work` as a new script run would: in a thread of its own."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as err:  # handed back to the test
            out.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def test_a_busy_store_answers_with_the_last_result(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path)
    calls: list[str] = []

    def versions(st: Store, name: str) -> list[str]:
        calls.append(name)
        with st.connect() as con:
            rows = con.execute(
                "SELECT model_version FROM model_versions WHERE model_name = ?", [name]
            ).fetchall()
        return [r[0] for r in rows]

    assert _in_new_thread(lambda: cache.cached(versions, store, "toy")) == ["1"]
    page_store = Store(store.home, lock_timeout_s=0.3)
    with store_held(store.home):
        started = time.monotonic()
        assert _in_new_thread(lambda: cache.cached(versions, page_store, "toy")) == ["1"]
        assert time.monotonic() - started < 2.5  # one wait of 0.3 s, not one per call
        with pytest.raises(StoreBusyError):  # nothing to fall back on for other arguments
            _in_new_thread(lambda: cache.cached(versions, page_store, "other"))
    assert calls == ["toy"]  # the busy call did not run the function


def test_cache_hits_of_one_run_open_the_store_once(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path)

    def name_of(st: Store, name: str) -> str:
        return name

    def run() -> int:
        cache.cached(name_of, store, "warm")  # a miss: fills the cache
        before = connection.opens_in_this_thread()
        for _ in range(5):
            cache.cached(name_of, store, "warm")
        return connection.opens_in_this_thread() - before

    assert _in_new_thread(run) <= 1


def test_a_write_in_the_run_makes_the_next_read_see_it(store: Store, tmp_path: Path) -> None:
    """A page that writes and then reads in the same run must not be served the old result."""
    register_toy(store, tmp_path)

    def count(st: Store) -> int:
        with st.connect() as con:
            row = con.execute("SELECT count(*) FROM model_versions").fetchone()
        assert row is not None
        return int(row[0])

    def run() -> tuple[int, int]:
        first = cache.cached(count, store)
        register_toy(store, tmp_path / "v2", version="2")
        return first, cache.cached(count, store)

    (tmp_path / "v2").mkdir()
    assert _in_new_thread(run) == (1, 2)


def test_pages_say_how_recent_the_data_is_and_survive_a_busy_store(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = Store(tmp_path / "home")
    copy.home.mkdir()
    shutil.copy(demo_store.db_path, copy.db_path)
    shutil.copytree(demo_store.artifacts_dir, copy.artifacts_dir)
    at = run_page(copy, "data", user="vic")
    assert not at.exception
    captions = [c.value for c in at.sidebar.caption]
    assert any(c.startswith("Data as of ") and c.endswith(" UTC") for c in captions), captions
    files = at.dataframe[0].value
    monkeypatch.setenv("VIGIL_PAGE_LOCK_TIMEOUT", "0.5")
    with store_held(copy.home):
        started = time.monotonic()
        at.run()
        took = time.monotonic() - started
    assert not at.exception, at.exception
    captions = [c.value for c in at.sidebar.caption]
    assert captions[0] == (
        ":material/hourglass_top: The store is busy (an ingest or a command is writing)."
    )
    assert not any(c.startswith("Data as of ") for c in captions), captions
    assert "so this page shows results computed at " in texts(at)
    assert at.dataframe[0].value.equals(files)
    assert took < 10  # generous: AppTest reruns the whole script on a loaded machine


def test_a_rerun_of_cache_hits_opens_the_store_once(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(demo_store, "overview")
    assert not at.exception
    opened: list[Path] = []
    real = Store._connect_once

    def counting(self: Store) -> Any:
        opened.append(self.home)
        return real(self)

    monkeypatch.setattr(Store, "_connect_once", counting)
    at.run()
    assert not at.exception
    assert opened == [demo_store.home]  # the sidebar's unit of work, nothing else


def test_sign_in_while_the_store_is_busy_says_so(
    demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-in page neither offers the first-admin hint nor shows a raw error while
    another process holds the store; the person is told to try again."""
    import shutil

    from tests.app.helpers import app_test

    copy = Store(tmp_path / "home")
    copy.home.mkdir()
    shutil.copy(demo_store.db_path, copy.db_path)
    monkeypatch.setenv("VIGIL_PAGE_LOCK_TIMEOUT", "0.5")
    monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "0.5")
    at = app_test(copy)
    with store_held(copy.home):
        at.run()
        assert not at.exception, at.exception
        assert "No user exists yet" not in texts(at)
        at.text_input[0].input("rita")
        at.text_input[1].input("whatever-password")
        at.button[0].click()
        at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [
        "The store is busy (an ingest or a command is writing). Sign in again in a moment."
    ]
