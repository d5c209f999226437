"""`vigil routes ...`: shadow by an analyst, canary asked and approved by two people."""

from __future__ import annotations

import json

import pytest

from tests.gateway.cli import run
from tests.gateway.conftest import PASSWORD
from vigil.core.serve import routing
from vigil.core.store.connection import Store


def test_routes_from_the_command_line(
    served: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_PASSWORD", PASSWORD)
    code, out, _ = run(
        capsys, "routes", "canary", "--model", "toy", "--version", "2", "--share", "0.1",
        "--days", "3", "--user", "dana", "--rationale", "first customers", "--json",
    )  # fmt: skip
    assert code == 0
    route = json.loads(out)
    assert (route["mode"], route["state"], route["share"]) == ("canary", "pending", 0.1)
    rid = str(route["route_id"])
    code, _, err = run(capsys, "routes", "approve", rid, "--user", "dana", "--rationale", "mine")
    assert code == 1 and "dana" in err
    code, out, _ = run(capsys, "routes", "approve", rid, "--user", "rita", "--rationale", "ok")
    assert code == 0 and "active" in out
    code, out, _ = run(capsys, "routes", "list", "--model", "toy", "--json")
    assert [r["state"] for r in json.loads(out)] == ["active"]
    code, out, _ = run(capsys, "routes", "end", rid, "--user", "omar", "--rationale", "enough")
    assert code == 0 and "ended" in out
    code, out, _ = run(
        capsys, "routes", "shadow", "--model", "toy", "--version", "2", "--user", "dana",
        "--rationale", "watch it",
    )  # fmt: skip
    assert code == 0 and "shadow" in out and "active" in out
    assert [r.mode for r in routing.list_routes(served)] == [
        routing.RouteMode.SHADOW,
        routing.RouteMode.CANARY,
    ]
