"""Challenger routing: shadow by an analyst, canary and A/B only after a second person approves,
every step audited; what the gateway returns and logs under each."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import ADMIN, ANALYST, APPROVER, APPROVER_2
from tests.gateway.helpers import expected_scores, key, rows
from vigil.core.errors import PermissionDenied
from vigil.core.govern import audit
from vigil.core.serve import ingester, routing, snapshot
from vigil.core.serve.routing import RouteMode, RouteState
from vigil.core.store.connection import Store
from vigil.gateway.app import create_app

URL = "/v1/models/toy/predict"


def soon(days: int = 7) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(days=days)


def ask(store: Store, mode: RouteMode, share: float = 0.0, user=ANALYST) -> routing.Route:
    return routing.request_route(
        store, user, model_name="toy", model_version="2", mode=mode, share=share,
        ends_at=soon(), rationale="compare on live traffic",
    )  # fmt: skip


def test_shadow_starts_with_an_analyst_alone_and_is_audited(served: Store) -> None:
    route = ask(served, RouteMode.SHADOW)
    assert route.state is RouteState.ACTIVE
    with served.connect() as con:
        last = audit.read_records(con)[-1]
        assert [r.route_id for r in routing.live_routes(con)] == [route.route_id]
    assert (last["action"], last["actor"], last["model_version"]) == ("route_start", "dana", "2")
    with pytest.raises(PermissionDenied):
        routing.request_route(
            served, APPROVER, model_name="toy", model_version="2", mode=RouteMode.SHADOW,
            share=0.0, ends_at=soon(), rationale="approvers do not start routes",
        )  # fmt: skip


def test_canary_needs_a_second_person(served: Store) -> None:
    route = ask(served, RouteMode.CANARY, 0.2)
    assert route.state is RouteState.PENDING
    with served.connect() as con:
        assert routing.live_routes(con) == []
    with pytest.raises(PermissionDenied):  # an analyst cannot approve
        routing.decide_route(served, ANALYST, route.route_id, approve=True, rationale="me")
    ended = routing.end_route(served, ADMIN, route.route_id, "replace")
    assert ended.state is RouteState.ENDED
    mine = ask(served, RouteMode.AB, 0.5, user=ADMIN)
    with pytest.raises(PermissionDenied, match="Four-eyes"):  # nor the admin who asked
        routing.decide_route(served, ADMIN, mine.route_id, approve=True, rationale="me")
    approved = routing.decide_route(served, APPROVER, mine.route_id, approve=True, rationale="ok")
    assert approved.state is RouteState.ACTIVE and approved.decided_by == "rita"
    with served.connect() as con:
        actions = [(r["action"], r["actor"]) for r in audit.read_records(con)][-4:]
    assert actions == [("route_request", "dana"), ("route_end", "adam"),
                       ("route_request", "adam"), ("route_approve", "rita")]  # fmt: skip


def test_route_rules(served: Store) -> None:
    with pytest.raises(routing.RouteError, match=r"at most 0\.5"):
        ask(served, RouteMode.CANARY, 0.8)
    with pytest.raises(routing.RouteError, match="strictly between"):
        ask(served, RouteMode.AB, 1.0)
    with pytest.raises(routing.RouteError, match="Production"):
        routing.request_route(
            served, ANALYST, model_name="toy", model_version="1", mode=RouteMode.SHADOW,
            share=0.0, ends_at=soon(), rationale="the champion itself",
        )  # fmt: skip
    with pytest.raises(routing.RouteError, match="within 90 days"):
        routing.request_route(
            served, ANALYST, model_name="toy", model_version="2", mode=RouteMode.SHADOW,
            share=0.0, ends_at=soon(200), rationale="too long",
        )  # fmt: skip
    first = ask(served, RouteMode.SHADOW)
    with pytest.raises(routing.RouteError, match="already has route"):
        ask(served, RouteMode.CANARY, 0.1)
    routing.end_route(served, APPROVER_2, first.route_id, "done")
    pending = ask(served, RouteMode.CANARY, 0.1)
    assert (
        routing.decide_route(
            served, APPROVER_2, pending.route_id, approve=False, rationale="not now"
        ).state
        is RouteState.REFUSED
    )


def _serve(store: Store) -> tuple[TestClient, str]:
    token = key(store)
    snapshot.publish(store)
    return TestClient(create_app(store.home)), token


def test_shadow_is_scored_and_logged_never_returned(served: Store) -> None:
    ask(served, RouteMode.SHADOW)
    client, token = _serve(served)
    instances = rows(8)
    with client:
        body = client.post(URL, json={"instances": instances}, headers={"X-API-Key": token}).json()
    assert body["version"] == "1"
    assert [p["prediction"] for p in body["predictions"]] == pytest.approx(
        expected_scores(served, "1", instances), abs=1e-6
    )
    results = ingester.ingest_spool(served)
    assert sum(r.stored for r in results) == 16
    with served.connect() as con:
        shadow = con.execute(
            "SELECT l.prediction_id, l.prediction, s.request_id FROM log_toy l JOIN "
            "serve_predictions s USING (prediction_id) WHERE s.arm = 'shadow' "
            "AND l.model_version = '2' ORDER BY s.request_id"
        ).fetchall()
    by_request = {p["prediction_id"]: i for i, p in enumerate(body["predictions"])}
    assert len(shadow) == 8
    challenger = expected_scores(served, "2", instances)
    for prediction_id, score, request_id in shadow:
        assert prediction_id == f"{request_id}:2"
        assert score == pytest.approx(challenger[by_request[request_id]], abs=1e-6)


def test_a_canary_answers_its_share_sticky_by_request_id(served: Store) -> None:
    route = ask(served, RouteMode.CANARY, 0.3)
    routing.decide_route(served, APPROVER, route.route_id, approve=True, rationale="go")
    client, token = _serve(served)
    instances = [{**r, "request_id": f"customer-{i}"} for i, r in enumerate(rows(400, seed=9))]
    with client:
        first = client.post(URL, json={"instances": instances}, headers={"X-API-Key": token}).json()
        again = client.post(URL, json={"instances": instances}, headers={"X-API-Key": token}).json()
    versions = [p["model_version"] for p in first["predictions"]]
    assert versions == [p["model_version"] for p in again["predictions"]]  # sticky
    expected = [
        "2" if routing.challenger_share(route.route_id, f"customer-{i}") < 0.3 else "1"
        for i in range(400)
    ]
    assert versions == expected
    share = versions.count("2") / 400
    assert 0.22 < share < 0.38  # binomial(400, 0.3): ±4 standard deviations
    for version in ("1", "2"):
        picked = [i for i, v in enumerate(versions) if v == version]
        got = [first["predictions"][i]["prediction"] for i in picked]
        want = expected_scores(served, version, [instances[i] for i in picked])
        assert got == pytest.approx(want, abs=1e-6)


def test_an_ended_or_expired_route_stops_serving(served: Store) -> None:
    route = ask(served, RouteMode.AB, 0.5)
    routing.decide_route(served, APPROVER, route.route_id, approve=True, rationale="go")
    assert snapshot.publish(served).models["toy"].route is not None
    with served.transaction() as con:
        con.execute("UPDATE serve_routes SET ends_at = now()::TIMESTAMP - INTERVAL 1 MINUTE")
    assert snapshot.publish(served, force=True).models["toy"].route is None
