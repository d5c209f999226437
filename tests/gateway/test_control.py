"""The control loop: it never creates a missing store, and re-evaluates alert rules after the
gateway's traffic is ingested, at most once a minute per model, letting any process that waits
for the store in before each of its units of work."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from tests.gateway.helpers import key, rows
from vigil.core.serve import control, ingester, snapshot
from vigil.core.store import locks
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

    def refresh(store: Store, model: str) -> None:
        assert isinstance(store, control.YieldingStore)
        calls.append(model)

    monkeypatch.setattr(control, "refresh_after_ingest", refresh)
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


@contextmanager
def another_process_waits(store: Store, for_s: float) -> Iterator[list[float]]:
    """A waiter on the store's turn lock, as a page that found the store busy; yields the
    list that gets the moment it stopped waiting."""
    stopped: list[float] = []

    def wait() -> None:
        with locks.waiting(store.home, time.monotonic() + 5) as turn:
            assert turn
            time.sleep(for_s)
            stopped.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)  # it holds the turn lock now
    try:
        yield stopped
    finally:
        thread.join()


def test_background_units_let_a_waiting_process_in_first(served: Store) -> None:
    with another_process_waits(served, 0.5) as stopped, served.connect():
        plain = time.monotonic()
    assert plain < stopped[0]  # an ordinary unit of work does not wait for a waiter
    background = control.YieldingStore(served.home)
    with another_process_waits(served, 0.5) as stopped, background.connect() as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
        opened = time.monotonic()
    assert opened >= stopped[0]


def test_a_nested_background_unit_does_not_wait(served: Store) -> None:
    background = control.YieldingStore(served.home)
    with (
        background.connect(),
        another_process_waits(served, 0.5) as stopped,
        background.connect(),  # nested: the waiter waits for the outer unit
    ):
        nested = time.monotonic()
    assert nested < stopped[0]


def _stored(store: Store) -> int:
    with store.connect() as con:
        (table,) = con.execute("SELECT log_table FROM models WHERE model_name = 'toy'").fetchone()
        return int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def _three_spool_files(served: Store, monkeypatch: pytest.MonkeyPatch) -> int:
    """Three closed spool files of two predictions each, ingested one per round; returns the
    rows stored before them."""
    monkeypatch.setattr(control, "refresh_after_ingest", lambda store, model: None)
    token = key(served)
    snapshot.publish(served)
    before = _stored(served)
    for _ in range(3):
        with TestClient(create_app(served.home)) as client:
            client.post(
                "/v1/models/toy/predict", json={"instances": rows(2)}, headers={"X-API-Key": token}
            )
    monkeypatch.setattr(ingester, "MAX_BATCH_BYTES", 1)  # one file per model and round
    return before


def test_a_backlog_is_ingested_round_after_round(
    served: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _three_spool_files(served, monkeypatch)
    loop = control.ControlLoop(served, 0.1)
    assert ingester.backlog(served)
    rounds = [loop.ingest_once() for _ in range(3)]
    assert rounds == [True, True, False]  # it says when more waits, and when nothing does
    assert not ingester.backlog(served)
    assert _stored(served) == before + 6


def test_a_stop_ingests_the_whole_backlog(served: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _three_spool_files(served, monkeypatch)
    control.ControlLoop(served, 0.1, roles=()).stop()
    assert not ingester.backlog(served)
    assert _stored(served) == before + 6


def test_the_loop_runs_again_at_once_while_work_waits(served: Store) -> None:
    loop = control.ControlLoop(served, 0.3, roles=())
    answers, calls = [True, True, False, False], []

    def step() -> bool:
        calls.append(time.monotonic())
        return answers[len(calls) - 1] if len(calls) <= len(answers) else False

    thread = threading.Thread(target=loop._loop, args=(step, 0.3))
    thread.start()
    deadline = time.monotonic() + 10
    while len(calls) < 4 and time.monotonic() < deadline:  # two rounds
        time.sleep(0.05)
    loop._stop.set()
    thread.join()
    assert calls[2] - calls[0] < 0.2  # three steps in a row while they said more waits
    assert calls[3] - calls[2] >= 0.25  # then the interval (0.3 s)
