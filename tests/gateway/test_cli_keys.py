"""`vigil keys create|list|revoke` as an admin and as someone who is not one."""

from __future__ import annotations

import json

import pytest

from tests.gateway.cli import run
from tests.gateway.conftest import PASSWORD
from vigil.core.errors import AuthError
from vigil.core.govern import tokens
from vigil.core.store.connection import Store


def test_keys_create_list_revoke(
    served: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", PASSWORD)
    code, out, _ = run(
        capsys, "keys", "create", "--model", "toy", "--scope", "ingest", "--expires-days", "7",
        "--user", "adam", "--rationale", "nightly pipeline", "--json",
    )  # fmt: skip
    assert code == 0
    issued = json.loads(out)
    assert issued["scopes"] == ["ingest:toy"] and issued["account"] == "toy-app"
    principal = tokens.authenticate_token(served, issued["token"], "ingest:toy")
    assert principal.name == "toy-app"

    code, out, _ = run(capsys, "keys", "list", "--model", "toy", "--json")
    listed = json.loads(out)
    assert [k["key_id"] for k in listed] == [issued["key_id"]]
    assert listed[0]["status"] == "active" and "token" not in listed[0]
    assert issued["token"] not in out

    code, out, _ = run(
        capsys, "keys", "revoke", issued["key_id"], "--user", "adam", "--rationale", "rotated"
    )
    assert code == 0 and "Revoked" in out
    with pytest.raises(AuthError):
        tokens.authenticate_token(served, issued["token"], "ingest:toy")


def test_an_analyst_cannot_create_keys(
    served: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", PASSWORD)
    code, out, err = run(
        capsys, "keys", "create", "--model", "toy", "--user", "dana", "--rationale", "want one"
    )
    assert code == 1 and "dana is an analyst" in err and "vgl_" not in out
    assert tokens.list_keys(served) == []


def test_a_wrong_password_creates_nothing(
    served: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", "not-the-password")
    code, _, err = run(
        capsys, "keys", "create", "--model", "toy", "--user", "adam", "--rationale", "r"
    )
    assert code == 1 and "password" in err and tokens.list_keys(served) == []
