"""The control loop: it never creates a missing store, and re-evaluates alert rules after the
gateway's traffic is ingested, at most once a minute per model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.gateway.helpers import key, rows
from vigil.core.serve import control, snapshot
from vigil.core.store.connection import Store
from vigil.gateway.app import create_app


def test_a_missing_store_is_not_created(served: Store, tmp_path) -> None:
    snapshot.publish(served)
    served.db_path.rename(tmp_path / "elsewhere.duckdb")
    loop = control.ControlLoop(served, 0.1)
    loop.publish_once()
    loop.ingest_once()
    assert not served.db_path.exists()


def test_alerts_follow_gateway_traffic_once_a_minute(
    served: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(control, "refresh_after_ingest", lambda store, model: calls.append(model))
    token = key(served)
    snapshot.publish(served)
    loop = control.ControlLoop(served, 0.1)
    for _ in range(2):
        with TestClient(create_app(served.home)) as client:
            client.post(
                "/v1/models/toy/predict", json={"instances": rows(2)}, headers={"X-API-Key": token}
            )
        loop.ingest_once()
    assert calls == ["toy"]  # the second ingest came within the minute
    monkeypatch.setattr(control, "ALERTS_EVERY_S", 0.0)  # the minute has passed
    loop.ingest_once()  # the deferred re-evaluation happens, without new traffic
    assert calls == ["toy", "toy"]
    loop.ingest_once()  # and only once
    assert calls == ["toy", "toy"]
