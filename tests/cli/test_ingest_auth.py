"""Nobody writes to the store anonymously: `vigil ingest` needs an analyst or admin, or a
service account's key scoped to ingest for that model. One test per way around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.factories import INGESTER, INGESTER_PASSWORD, add_ingester, log_rows, register_toy
from vigil.cli.main import main
from vigil.core.govern import auth, tokens
from vigil.core.store.connection import Store

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture
def toy(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Path]:
    (tmp_path / "inputs").mkdir()
    register_toy(store, tmp_path / "inputs")
    add_ingester(store)
    with store.transaction() as con:
        auth.add_user(con, "vic", "viewer", "viewer-password-1")
        auth.add_user(con, "adam", "admin", ADMIN_PASSWORD)
    logs = tmp_path / "logs.csv"
    log_rows(3).to_csv(logs, index=False)
    for name in ("VIGIL_USER", "VIGIL_PASSWORD", "VIGIL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return store, logs


def _ingest(logs: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["ingest", "--model", "toy", str(logs), *extra])
    return code, capsys.readouterr().err


def _stored(store: Store) -> int:
    with store.connect() as con:
        row = con.execute("SELECT coalesce(sum(rows_stored), 0) FROM ingest_batches").fetchone()
    return int(row[0]) if row else 0


def _key(store: Store, scope_kind: str, model: str) -> str:
    admin = auth.User("adam", "admin")
    issued = tokens.create_key(
        store, admin, account="pipeline", scopes=(tokens.scope_for(scope_kind, model),),
        rationale="test pipeline",
    )  # fmt: skip
    return issued.token


def test_anonymous_ingest_is_refused(toy, capsys) -> None:
    store, logs = toy
    code, err = _ingest(logs, capsys)
    assert code == 1 and "--user" in err
    assert _stored(store) == 0


def test_a_viewer_may_not_ingest(toy, capsys, monkeypatch) -> None:
    store, logs = toy
    monkeypatch.setenv("VIGIL_PASSWORD", "viewer-password-1")
    code, err = _ingest(logs, capsys, "--user", "vic")
    assert code == 1 and "may not ingest" in err
    assert _stored(store) == 0


def test_an_analyst_may(toy, capsys, monkeypatch) -> None:
    store, logs = toy
    monkeypatch.setenv("VIGIL_PASSWORD", INGESTER_PASSWORD)
    code, _ = _ingest(logs, capsys, "--user", INGESTER)
    assert code == 0 and _stored(store) == 3


def test_a_key_scoped_to_ingest_for_the_model_may(toy, capsys, monkeypatch) -> None:
    store, logs = toy
    monkeypatch.setenv("VIGIL_API_KEY", _key(store, "ingest", "toy"))
    code, _ = _ingest(logs, capsys)
    assert code == 0 and _stored(store) == 3


@pytest.mark.parametrize(("kind", "model"), [("predict", "toy"), ("ingest", "other")])
def test_a_key_with_another_scope_is_refused(toy, capsys, monkeypatch, kind, model) -> None:
    store, logs = toy
    if model == "other":
        (logs.parent / "other").mkdir()
        register_toy(store, logs.parent / "other", model_name="other")
    monkeypatch.setenv("VIGIL_API_KEY", _key(store, kind, model))
    code, err = _ingest(logs, capsys)
    assert code == 1 and "may not ingest" in err
    assert _stored(store) == 0


def test_a_revoked_or_forged_key_is_refused(toy, capsys, monkeypatch) -> None:
    store, logs = toy
    token = _key(store, "ingest", "toy")
    key_id, _ = tokens.parse_token(token)
    tokens.revoke_key(store, auth.User("adam", "admin"), key_id, "rotated")
    monkeypatch.setenv("VIGIL_API_KEY", token)
    assert _ingest(logs, capsys)[0] == 1
    monkeypatch.setenv("VIGIL_API_KEY", token[:-4] + "0000")
    assert _ingest(logs, capsys)[0] == 1
    assert _stored(store) == 0
