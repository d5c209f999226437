"""Gateway fixtures: a store with the toy model registered as champion, an admin, an analyst and an approver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core import factories
from vigil.core.govern import auth
from vigil.core.govern.lifecycle import apply_transition
from vigil.core.store.connection import Store

ADMIN = auth.User("adam", "admin")
ANALYST = auth.User("dana", "analyst")
APPROVER = auth.User("rita", "approver")
APPROVER_2 = auth.User("omar", "approver")
PASSWORD = "gateway-password-1"


def register(store: Store, folder: Path, version: str, seed: int) -> None:
    """A toy version trained on its own sample, so two versions score differently."""
    meta_path, _, reference = factories.write_inputs(folder, version)
    artifact = folder / f"toy-{version}-seed{seed}.onnx"
    artifact.write_bytes(factories.toy_onnx(factories.reference_frame(seed=seed)))
    factories.register_version(
        store,
        factories.parse_metadata(json.loads(meta_path.read_text())),
        artifact=artifact,
        reference=reference,
        registered_by=ANALYST.username,
        registered_by_role=ANALYST.role,
    )


def add_people(store: Store) -> None:
    with store.transaction() as con:
        for user in (ADMIN, ANALYST, APPROVER, APPROVER_2):
            auth.add_user(con, user.username, user.role, PASSWORD)


def make_champion(store: Store, version: str) -> None:
    with store.transaction() as con:
        for action, status, alias in (
            ("request_promotion", "pending_approval", None),
            ("approve", "approved", None),
            ("promote", "production", "champion"),
        ):
            apply_transition(
                con, actor=ADMIN, model_name="toy", model_version=version, action=action,
                to_status=status, alias=alias, rationale="test set-up",
            )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An empty, migrated store in a temporary VIGIL_HOME (own copy: these tests must not need
    the demo, so they run with --confcutdir=tests/gateway)."""
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    st = Store(home)
    with st.connect():
        pass
    return st


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Store:
    """Toy 1 in production; toy 2 registered (a possible challenger)."""
    add_people(store)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    register(store, inputs, "1", seed=0)
    register(store, inputs, "2", seed=1)
    make_champion(store, "1")
    return store
