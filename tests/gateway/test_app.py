"""The gateway over HTTP (in process): auth, exact scores, validation, limits, docs, metrics."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.gateway.helpers import expected_scores, key, rows
from vigil.core.errors import StoreError
from vigil.core.serve import ingester, snapshot
from vigil.core.store.connection import Store
from vigil.gateway.app import create_app

URL = "/v1/models/toy/predict"


@pytest.fixture
def client(served: Store):
    snapshot.publish(served)
    with TestClient(create_app(served.home)) as test_client:
        yield test_client


def test_no_credentials_401_out_of_scope_403_wrong_key_401(
    client: TestClient, served: Store
) -> None:
    body = {"instances": rows(2)}
    response = client.post(URL, json=body)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    ingest_only = key(served, "ingest:toy")
    snapshot.publish(served)
    client.app.state.gateway.watcher.refresh()
    assert client.post(URL, json=body, headers={"X-API-Key": ingest_only}).status_code == 403
    forged = ingest_only[:-4] + "0000"
    assert client.post(URL, json=body, headers={"X-API-Key": forged}).status_code == 401


def test_a_key_gets_the_champions_exact_scores(client: TestClient, served: Store) -> None:
    token = key(served)
    snapshot.publish(served)
    client.app.state.gateway.watcher.refresh()
    instances = rows(20)
    response = client.post(URL, json={"instances": instances}, headers={"X-API-Key": token})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "toy" and body["version"] == "1"
    got = [p["prediction"] for p in body["predictions"]]
    assert got == pytest.approx(expected_scores(served, "1", instances), abs=1e-6)
    assert [p["predicted_label"] for p in body["predictions"]] == [
        "1" if s >= 0.5 else "0" for s in got
    ]
    bearer = client.post(
        URL, json={"instances": instances}, headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.status_code == 200


@pytest.fixture
def token(client: TestClient, served: Store) -> str:
    issued = key(served)
    snapshot.publish(served)
    client.app.state.gateway.watcher.refresh()
    return issued


def test_validation_names_every_bad_field_once(client: TestClient, token: str) -> None:
    good = rows(1)[0]
    bad = [
        {**good, "income": "lots"},
        {"income": 1.0, "region": "north"},
        {**good, "tenure": 2.5, "colour": "red"},
        {**good, "region": None},
        {**good, "income": True},
        "not an object",
    ]
    response = client.post(URL, json={"instances": [good, *bad]}, headers={"X-API-Key": token})
    assert response.status_code == 422
    problems = {tuple(d["loc"][2:]): d["msg"] for d in response.json()["detail"]}
    assert set(problems) == {
        (1, "income"), (2, "tenure"), (3, "tenure"), (3, "colour"), (4, "region"), (5, "income"), (6,),
    }  # fmt: skip
    assert "number" in problems[(1, "income")] and "required" in problems[(2, "tenure")]
    assert "whole number" in problems[(3, "tenure")] and "unknown" in problems[(3, "colour")]
    assert "null" in problems[(4, "region")]


def test_limits_on_body_and_batch(served: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_GATEWAY_MAX_BATCH", "3")
    monkeypatch.setenv("VIGIL_GATEWAY_MAX_BODY_MB", "0.001")
    token = key(served)
    snapshot.publish(served)
    with TestClient(create_app(served.home)) as small:
        headers = {"X-API-Key": token}
        assert small.post(URL, json={"instances": rows(4)}, headers=headers).status_code == 413
        big = {"instances": [{**rows(1)[0], "region": "x" * 2000}]}
        assert small.post(URL, json=big, headers=headers).status_code == 413
        assert small.post(URL, content=b"{not json", headers=headers).status_code == 400
        assert small.post(URL, json={"instances": []}, headers=headers).status_code == 422
        assert small.post(URL, json={"instances": rows(3)}, headers=headers).status_code == 200


def test_unknown_model_is_404_only_for_a_caller_allowed_to_ask(
    client: TestClient, served: Store
) -> None:
    assert client.post("/v1/models/nope/predict", json={"instances": rows(1)}).status_code == 401


def test_health_ready_docs_and_metrics(client: TestClient, token: str) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"
    assert client.get("/v1/ready").json()["models"] == {"toy": "1"}
    doc = client.get("/openapi.json").json()
    schema = doc["paths"]["/v1/models/toy/predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["instances"]["items"]
    assert schema["properties"]["income"]["type"] == "number"
    assert schema["properties"]["tenure"]["type"] == "integer"
    assert schema["properties"]["region"]["type"] == "string"
    assert schema["required"] == ["income", "tenure", "region"]
    assert schema["additionalProperties"] is False
    for _ in range(3):
        client.post(URL, json={"instances": rows(2)}, headers={"X-API-Key": token})
    client.post(URL, json={"instances": [{}]}, headers={"X-API-Key": token})
    text = client.get("/metrics").text
    assert 'vigil_gateway_requests_total{model="toy",version="1",code="200"' in text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    count = next(
        v for k, v in lines.items() if k.startswith("vigil_gateway_request_duration_seconds_count")
    )
    assert int(count) == 4
    rows_total = next(v for k, v in lines.items() if k.startswith("vigil_gateway_rows_total"))
    assert int(rows_total) == 6


@pytest.mark.parametrize("fsync", ["batch", "request"])
def test_every_answered_prediction_is_ingested_from_the_spool(
    served: Store, fsync: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_GATEWAY_FSYNC", fsync)
    token = key(served)
    snapshot.publish(served)
    answered: list[dict] = []
    with TestClient(create_app(served.home)) as client:
        for i in range(5):
            instances = [{**r, "request_id": f"req-{i}-{j}"} for j, r in enumerate(rows(3, seed=i))]
            response = client.post(URL, json={"instances": instances}, headers={"X-API-Key": token})
            answered += response.json()["predictions"]
    results = ingester.ingest_spool(served)
    assert sum(r.stored for r in results) == 15 and sum(r.quarantined for r in results) == 0
    with served.connect() as con:
        logged = dict(con.execute("SELECT prediction_id, prediction FROM log_toy").fetchall())
        side = con.execute(
            "SELECT count(*), count(DISTINCT worker), min(arm), max(arm) FROM serve_predictions"
        ).fetchone()
        minutes = con.execute(
            "SELECT sum(requests), sum(rows_scored) FROM serve_metrics"
        ).fetchone()
    assert logged == {p["prediction_id"]: pytest.approx(p["prediction"]) for p in answered}
    assert side == (15, 1, "champion", "champion")
    assert minutes == (5, 15)
    assert ingester.ingest_spool(served) == []  # nothing twice
    assert not list((served.home / "spool").glob("*/*.jsonl*"))
    assert json.loads(json.dumps(answered))  # the answers were plain JSON


def test_a_revoked_key_stops_at_the_next_published_state(client: TestClient, served: Store) -> None:
    from tests.gateway.conftest import ADMIN
    from vigil.core.govern import tokens

    token = key(served)
    snapshot.publish(served)
    client.app.state.gateway.watcher.refresh()
    for _ in range(2):  # the second answer comes from the verified-key cache
        assert (
            client.post(URL, json={"instances": rows(1)}, headers={"X-API-Key": token}).status_code
            == 200
        )
    tokens.revoke_key(served, ADMIN, tokens.parse_token(token)[0], "leaked")
    snapshot.publish(served)
    client.app.state.gateway.watcher.refresh()
    assert (
        client.post(URL, json={"instances": rows(1)}, headers={"X-API-Key": token}).status_code
        == 401
    )


def test_a_replaced_store_does_not_replace_the_served_state(served: Store, tmp_path) -> None:
    """An empty store where the real one was (restored from the wrong backup, a typo in
    VIGIL_HOME...) must not make the gateway forget its champions and keys."""
    published = snapshot.publish(served)
    served.db_path.rename(tmp_path / "real.duckdb")
    with served.connect():
        pass  # a fresh, empty store at the same place
    with pytest.raises(StoreError, match="replaced or truncated"):
        snapshot.publish(served)
    assert snapshot.read(snapshot.serving_dir(served)) == published
