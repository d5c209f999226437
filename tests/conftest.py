"""Shared fixtures: an empty store, and one seeded with the demo (built once per session)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.core.demo.seed import DemoReport, seed
from vigil.core.store.connection import Store

DEMO_END = dt.date(2026, 11, 24)  # fixed, so the demo's numbers are the same on every run
DEMO_PASSWORD = "demo-password-1"


@pytest.fixture(autouse=True, scope="session")
def _audit_key_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test reads or writes the developer's audit key or checkpoints (~/.config/vigil):
    by default there is no key (development mode); tests that want one create their own."""
    folder = tmp_path_factory.mktemp("audit-key")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIGIL_AUDIT_KEY_FILE", str(folder / "session.key"))
        mp.setenv("VIGIL_CHECKPOINT_FILE", str(folder / "session-checkpoints.jsonl"))
        mp.delenv("VIGIL_AUDIT_KEY", raising=False)
        mp.setenv("VIGIL_MODE", "development")
        yield folder


@pytest.fixture(autouse=True)
def _no_audit_key(_audit_key_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a key, even if an earlier one created a key file."""
    name = uuid.uuid4().hex
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(_audit_key_folder / f"{name}.key"))
    monkeypatch.setenv("VIGIL_CHECKPOINT_FILE", str(_audit_key_folder / f"{name}.jsonl"))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An empty, migrated store in a temporary VIGIL_HOME."""
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path))
    st = Store(tmp_path)
    with st.connect():
        pass
    return st


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, DemoReport]:
    home = tmp_path_factory.mktemp("demo-home")
    st = Store(home)
    report = seed(st, end=DEMO_END, password=DEMO_PASSWORD)
    return st, report


@pytest.fixture(scope="session")
def demo_store(demo: tuple[Store, DemoReport]) -> Store:
    """The seeded demo store. Read-only by convention: tests that change it use a copy."""
    return demo[0]


@pytest.fixture
def demo_copy(demo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A private copy of the demo store for tests that change state."""
    import shutil

    target = tmp_path / "home"
    shutil.copytree(demo_store.home, target)
    monkeypatch.setenv("VIGIL_HOME", str(target))
    return Store(target)
